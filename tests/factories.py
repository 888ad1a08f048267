"""Hand-made items and configs for tests that are about litwatch's own logic, not parsing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, TextIO

from bot.config import Settings
from bot.console import ConsoleChannel
from bot.context import Classify, Linker, RunContext
from bot.models import Classification, Correction, Item, TrialInfo
from bot.notify import Notification, Summary
from bot.outbox import Channel, Channels
from bot.retry import RetryPolicy
from bot.sources.http import Http
from bot.store import Store

ABSTRACT = (
    "BACKGROUND: Extracellular vesicles derived from mesenchymal stem cells have been proposed "
    "for androgenetic alopecia. METHODS: We enrolled patients in a split-scalp comparison and "
    "measured hair density by phototrichogram at baseline, 6 and 12 weeks. RESULTS: Hair density "
    "increased relative to the control side; no serious adverse events were observed. "
) * 4


def pubmed_item(n: int, **overrides: object) -> Item:
    fields: dict[str, object] = dict(
        source="pubmed", id=str(30000000 + n), title=f"Exosome therapy for hair loss, study {n}",
        url=f"https://pubmed.ncbi.nlm.nih.gov/{30000000 + n}/", abstract=ABSTRACT,
        authors=("Smith J", "Doe A"), journal="Dermatol Surg", published="2025-04-01",
        doi=f"10.1000/test.{n}", publication_types=("Journal Article",),
    )
    fields.update(overrides)
    return Item(**fields)  # type: ignore[arg-type]


def trial_item(nct: str, status: str = "RECRUITING", **trial: object) -> Item:
    info = TrialInfo(status=status, study_type="INTERVENTIONAL", **trial)  # type: ignore[arg-type]
    return Item(source="clinicaltrials", id=nct, title=f"Exosomes for alopecia ({nct})",
                url=f"https://clinicaltrials.gov/study/{nct}", trial=info)


def retracted(item: Item, notice_pmid: str = "39999999") -> Item:
    item.corrections = (*item.corrections, Correction("RetractionIn", notice_pmid, "Notice"))
    item.publication_types = (*item.publication_types, "Retracted Publication")
    return item


MINIMAL_CONFIG = """
[slack]
channel = "C111"
safety_channel = "C999"

[[queries]]
name = "pm"
source = "pubmed"
term = "exosome alopecia"

[[queries]]
name = "ct"
source = "clinicaltrials"
term = "exosome"
"""


def write_config(tmp_path: Path, text: str = MINIMAL_CONFIG) -> Path:
    path = tmp_path / "litwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def http_stack(policy: RetryPolicy | None = None, waits: list[float] | None = None) -> Http:
    """The sources' HTTP stack for a test; `waits` collects the pause chosen before each retry
    (stamina's test mode then skips it: see conftest)."""
    report = (lambda retry: waits.append(retry.delay)) if waits is not None else (lambda retry: None)
    return Http(policy=policy or RetryPolicy.fast(), report=report)
def notification(kind: str = "items", route: str = "slack:C111", uids: tuple[str, ...] | list[str] = (),
                 query: str | None = "pm", **summary: Any) -> Notification:
    """A notification as the pipeline queues it (kind, route, item uids, summary fields)."""
    return Notification(kind=kind, route=route, query=query, uids=tuple(uids),  # type: ignore[arg-type]
                        summary=Summary(**summary))


def channels(*available: Channel, console: TextIO | None = None) -> Channels:
    """The channels a flush may use: these, and the console (into `console`) for the rest."""
    return Channels(console=ConsoleChannel(console or io.StringIO()),
                    available={c.scheme: c for c in available})


def context(settings: Settings, store: Store, sources: dict[str, Any], *available: Channel,
            classify: Classify | None = None, link: Linker | None = None,
            console: TextIO | None = None) -> RunContext:
    """A run context for tests: `available` channels and the console, the given classifier
    (default: keep each item's own classification)."""
    return RunContext(settings=settings, store=store, sources=sources,
                      classify=classify or (lambda item: item.classification or Classification()),
                      channels=channels(*available, console=console), link=link)
