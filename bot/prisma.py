"""PRISMA 2020 counts for one update of a living review. Pure: stored records and decisions in.

An update is the records litwatch first saw from `since` on; the previous update is everything
before. Records are counted where they were identified: each stored record under its source
(PubMed, or the trials query / feed that first found it), plus the records folded into a
stored one by cross-source links (bot/links.py: a feed entry whose DOI PubMed already had):
those are the duplicates removed before screening. A folded record is counted in the update
of the record it joined (the store keeps no date for the fold itself).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bot import registry
from bot.decisions import Decision


@dataclass(frozen=True)
class Totals:
    """The flow of one update, box by box."""

    identified: int = 0
    identified_by_source: dict[str, int] = field(default_factory=dict)
    duplicates_removed: int = 0
    screened: int = 0
    included: int = 0
    excluded: int = 0
    excluded_by_reason: dict[str, int] = field(default_factory=dict)
    maybe: int = 0
    awaiting: int = 0

    @property
    def after_duplicates(self) -> int:
        return self.identified - self.duplicates_removed


@dataclass(frozen=True)
class Prisma:
    """This update's flow and the previous one's, as `litwatch prisma` reports them."""

    since: str | None
    current: Totals
    previous: Totals | None

    @property
    def total_included(self) -> int:
        """Studies in the review after this update: the previous version's plus the new ones."""
        return self.current.included + (self.previous.included if self.previous else 0)

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since, **asdict(self.current),
                "previous": asdict(self.previous) if self.previous else None,
                "total_included": self.total_included}


def source_label(doc: Mapping[str, Any], query_sources: Mapping[str, str]) -> str:
    """Where a record was identified: a bibliographic database by its label ("PubMed"); a
    register or a feed with the saved query that found it ("ClinicalTrials.gov: QUERY",
    "Feed: QUERY"), as PRISMA lists each register and each website searched."""
    source = str(doc.get("source", ""))
    spec = registry.get(source)
    label = spec.label if spec else source
    # A database is searched once, however many queries; registers and feeds are many sources.
    if spec is not None and not spec.registry_records and spec.url_variable is not None:
        return label
    query = next((q for q in doc.get("queries") or () if query_sources.get(q, source) == source), None)
    return f"{label}: {query}" if query else label


def count(
    docs: Iterable[Mapping[str, Any]],
    decisions: Mapping[str, Decision],
    *,
    since: str | None = None,
    query_sources: Mapping[str, str] | None = None,
) -> Prisma:
    """The PRISMA counts of the update from `since` (ISO date; None: every record, no
    previous update). `query_sources` maps saved query names to their sources."""
    sources = dict(query_sources or {})
    docs = list(docs)
    stored = {d["uid"] for d in docs}
    if since is None:
        return Prisma(None, _totals(docs, decisions, stored, sources), None)
    now = [d for d in docs if str(d.get("first_seen") or "") >= since]
    before = [d for d in docs if str(d.get("first_seen") or "") < since]
    return Prisma(since, _totals(now, decisions, stored, sources), _totals(before, decisions, stored, sources))


def _totals(docs: list[Mapping[str, Any]], decisions: Mapping[str, Decision], stored: set[str],
            sources: Mapping[str, str]) -> Totals:  # fmt: skip
    by_source: Counter[str] = Counter()
    duplicates = 0
    calls: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for doc in docs:
        by_source[source_label(doc, sources)] += 1
        for uid in doc.get("links") or ():
            if uid in stored:
                continue  # a trial and its publication: two records, both screened
            spec = registry.for_uid(uid)
            source = spec.name if spec else uid.split(":", 1)[0]
            folded = {"uid": uid, "source": source, "queries": doc.get("queries") or ()}
            by_source[source_label(folded, sources)] += 1
            duplicates += 1
        decision = decisions.get(doc["uid"])
        if decision is None:
            continue
        calls[decision.decision] += 1
        if decision.decision == "exclude":
            reasons[decision.reason or "no reason given"] += 1
    screened = sum(calls.values())
    return Totals(
        identified=sum(by_source.values()), identified_by_source=dict(sorted(by_source.items())),
        duplicates_removed=duplicates, screened=screened, included=calls["include"],
        excluded=calls["exclude"], excluded_by_reason=dict(reasons.most_common()), maybe=calls["maybe"],
        awaiting=len(docs) - screened,
    )  # fmt: skip
