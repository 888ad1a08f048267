"""Hand-made items and configs for tests that are about litwatch's own logic, not parsing."""

from __future__ import annotations

from pathlib import Path

from bot.models import Correction, Item, TrialInfo
from bot.retry import RetryPolicy
from bot.sources.http import Http

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
