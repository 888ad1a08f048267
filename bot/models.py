"""Items, classifications and fetch results: the data every module passes around."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from urllib.parse import urlsplit

from bot import registry

Kind = Literal["clinical", "case_report", "other"]
WEB_SCHEMES = frozenset({"http", "https"})


def is_web_url(url: str) -> bool:
    """Whether `url` is http or https with a host (False too when it is too malformed to parse).

    The one test of "may litwatch fetch this": config validation, every source client and
    every redirect use it, so a feed can never be read from a local file.
    """
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in WEB_SCHEMES and bool(parts.hostname)
    except ValueError:  # an unclosed IPv6 bracket, a bad port
        return False


def is_flagged(doc: Mapping[str, Any]) -> bool:
    """Whether a stored item (its dict) carries a safety or integrity flag."""
    label = doc.get("classification") or {}
    return bool(label.get("safety") or label.get("integrity"))


@dataclass(frozen=True)
class MeshHeading:
    """A MeSH descriptor with its qualifiers ("Alopecia" / "drug therapy")."""

    descriptor: str
    qualifiers: tuple[str, ...] = ()
    major: bool = False


@dataclass(frozen=True)
class Correction:
    """One PubMed CommentsCorrections link: RetractionIn, ErratumFor, CommentOn, ..."""

    type: str
    pmid: str | None = None
    ref: str = ""


@dataclass(frozen=True)
class TrialInfo:
    """Registry fields of a ClinicalTrials.gov study."""

    status: str = ""
    why_stopped: str = ""
    phases: tuple[str, ...] = ()
    study_type: str = ""
    enrollment: int | None = None
    enrollment_type: str = ""
    start_date: str = ""
    primary_completion_date: str = ""
    completion_date: str = ""
    has_results: bool = False
    last_update: str = ""
    sponsor: str = ""
    official_title: str = ""
    conditions: tuple[str, ...] = ()
    interventions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    # Posted adverse-event summary (resultsSection.adverseEventsModule.eventGroups), summed over
    # the event groups. None: the registry holds no adverse-event module (or not that count).
    # Serious and other are separate registry columns: one participant can be in both.
    ae_at_risk: int | None = None
    ae_serious_affected: int | None = None
    ae_other_affected: int | None = None
    ae_deaths_affected: int | None = None  # all-cause mortality, whatever the cause

    @property
    def has_ae_summary(self) -> bool:
        """Whether the registry posted any adverse-event count for this trial."""
        return any(n is not None for n in (self.ae_at_risk, self.ae_serious_affected,
                                            self.ae_other_affected, self.ae_deaths_affected))


@dataclass(frozen=True)
class Classification:
    """What an item is and why: the labels a reviewer sorts by, with checkable reasons."""

    kind: Kind = "other"
    safety: bool = False  # safety_score reached the safety threshold: the safety channel
    integrity: bool = False  # retracted, partially retracted, under concern, withdrawn, a notice
    reasons: tuple[str, ...] = ()
    corrected: bool = False  # erratum or corrected and republished: shown, never an alert alone
    safety_score: float = 0.0  # in [0, 1]: the strongest evidence of harm to people
    possible_safety: bool = False  # between the review and the safety threshold
    evidence: tuple[str, ...] = ()  # the sentences and fields behind safety_score, strongest first
    labeller: str = ""  # the classifier that gave these labels (`Classifier.identity`); "" before it was kept


@dataclass
class Item:
    """One record from any source, normalised. Its identity is `uid`."""

    source: str
    id: str
    title: str
    url: str = ""
    abstract: str = ""
    authors: tuple[str, ...] = ()
    journal: str = ""
    published: str = ""  # as precise as the record is: "2024", "2024-05" or "2024-05-17"
    volume: str = ""
    issue: str = ""
    pages: str = ""  # as the journal prints them: "409-15", "e1187"
    issn: str = ""
    doi: str = ""
    pmcid: str = ""
    languages: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    mesh: tuple[MeshHeading, ...] = ()
    keywords: tuple[str, ...] = ()
    trial_ids: tuple[str, ...] = ()  # registry accession numbers named by the record (NCT..., ISRCTN...)
    corrections: tuple[Correction, ...] = ()
    trial: TrialInfo | None = None
    feed_title: str = ""
    links: tuple[str, ...] = ()  # uids of related items in other sources (trial <-> publication)
    alt_urls: tuple[str, ...] = ()  # other places the same work lives (preprint and journal version)
    classification: Classification | None = None

    @property
    def uid(self) -> str:
        return registry.uid(self.source, self.id)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists) that `from_dict` turns back into this item."""
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Item:
        names = {f.name for f in dataclasses.fields(cls)}
        raw = {k: v for k, v in data.items() if k in names}
        raw["mesh"] = tuple(
            MeshHeading(m["descriptor"], tuple(m.get("qualifiers", ())), bool(m.get("major")))
            for m in raw.get("mesh", ())
        )
        raw["corrections"] = tuple(Correction(**c) for c in raw.get("corrections", ()))
        if raw.get("trial") is not None:
            raw["trial"] = _with_tuples(TrialInfo, raw["trial"])
        if raw.get("classification") is not None:
            raw["classification"] = _with_tuples(Classification, raw["classification"])
        for f in dataclasses.fields(cls):
            if f.name in raw and isinstance(raw[f.name], list):
                raw[f.name] = tuple(raw[f.name])
        return cls(**raw)


@dataclass(frozen=True)
class Window:
    """The slice of a source a fetch covers: record dates from `start` (None: all) to `end`."""

    start: date | None
    end: date
    baseline: bool = False
    validators: Mapping[str, str] = field(default_factory=dict)  # feed ETag / Last-Modified


@dataclass
class FetchResult:
    """What a source returned for one saved query and window."""

    items: list[Item] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    validators: dict[str, str] = field(default_factory=dict)
    not_modified: bool = False  # a conditional request said nothing changed
    requests: int = 0


def _with_tuples(cls: Any, data: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names})


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
