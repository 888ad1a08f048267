"""Screening decisions: who decided include, exclude or maybe on which record, when, where, why.

Pure values. A decision is never edited: changing one's mind is a new decision, and a
record's current decision is its latest one (`current`). The store keeps the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Verdict = Literal["include", "exclude", "maybe"]
VERDICTS: tuple[Verdict, ...] = ("include", "exclude", "maybe")
DEFAULT_EXCLUSION_REASONS = (
    "wrong population", "wrong intervention", "wrong outcome", "wrong study design", "duplicate",
    "not human",
)
# How screening tools spell a decision in their exports (Rayyan: Included / Excluded / Maybe;
# Covidence's title-and-abstract stage calls an exclusion "irrelevant").
_SPELLINGS: dict[str, Verdict] = {
    "include": "include", "included": "include", "yes": "include", "relevant": "include",
    "exclude": "exclude", "excluded": "exclude", "no": "exclude", "irrelevant": "exclude",
    "maybe": "maybe", "unsure": "maybe", "undecided": "maybe",
}  # fmt: skip
PAST = {"include": "Included", "exclude": "Excluded", "maybe": "Maybe"}


@dataclass(frozen=True)
class Reviewer:
    """Who decided: a stable id (a Slack user ID, `cli:NAME`, `rayyan:NAME`) and a display name."""

    id: str
    name: str


@dataclass(frozen=True)
class Decision:
    """One screening decision on one stored record."""

    uid: str
    decision: Verdict
    by: Reviewer
    at: datetime
    where: str = "cli"  # "cli", "import:FILE", "slack:CHANNEL/TS"
    reason: str | None = None

    def same_call(self, other: Decision | None) -> bool:
        """Whether `other` says the same thing by the same person: a double click, not a change."""
        return (other is not None and other.uid == self.uid and other.decision == self.decision
                and other.by.id == self.by.id and other.reason == self.reason)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid, "decision": self.decision,
            "by": {"id": self.by.id, "name": self.by.name},
            "at": self.at.isoformat(timespec="seconds"), "where": self.where, "reason": self.reason,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        by = data.get("by") or {}
        return cls(
            uid=str(data["uid"]), decision=verdict(str(data["decision"])) or "maybe",
            by=Reviewer(str(by.get("id", "")), str(by.get("name", ""))),
            at=datetime.fromisoformat(str(data["at"])), where=str(data.get("where") or ""),
            reason=data.get("reason"),
        )

    def summary(self) -> dict[str, Any]:
        """What exports carry: `screening: {decision, by, at, reason}`."""
        return {"decision": self.decision, "by": self.by.name or self.by.id,
                "at": self.at.isoformat(timespec="seconds"), "reason": self.reason}


def verdict(word: str) -> Verdict | None:
    """A decision as a screening tool spells it ("Included", "irrelevant"), or None."""
    return _SPELLINGS.get(word.strip().lower())


def current(history: Iterable[Decision]) -> dict[str, Decision]:
    """Each record's latest decision (history in the order it was recorded)."""
    latest: dict[str, Decision] = {}
    for decision in history:
        latest[decision.uid] = decision
    return latest


@dataclass(frozen=True)
class Example:
    """A decision on a record litwatch does not hold (an older study of the review, imported
    from Rayyan or Covidence): its title and abstract teach the ranker, nothing else counts it."""

    key: str  # "pmid 123" / "doi 10.…": how the file named it
    decision: Verdict
    title: str
    abstract: str
    by: Reviewer
    at: datetime
    where: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "decision": self.decision, "title": self.title, "abstract": self.abstract,
                "by": {"id": self.by.id, "name": self.by.name},
                "at": self.at.isoformat(timespec="seconds"), "where": self.where}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Example:
        by = data.get("by") or {}
        return cls(key=str(data["key"]), decision=verdict(str(data["decision"])) or "maybe",
                   title=str(data.get("title") or ""), abstract=str(data.get("abstract") or ""),
                   by=Reviewer(str(by.get("id", "")), str(by.get("name", ""))),
                   at=datetime.fromisoformat(str(data["at"])), where=str(data.get("where") or ""))

    def as_doc(self) -> dict[str, Any]:
        """The example as the ranker reads a stored record."""
        return {"uid": f"example:{self.key}", "title": self.title, "abstract": self.abstract}


@dataclass(frozen=True)
class SafetyFeedback:
    """A reviewer's word on a safety alert: the signal is real (`signal`) or it is not. Kept as
    a label for the classifier's next `make model`; the latest per record counts."""

    uid: str
    signal: bool
    by: Reviewer
    at: datetime
    where: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "signal": self.signal, "by": {"id": self.by.id, "name": self.by.name},
                "at": self.at.isoformat(timespec="seconds"), "where": self.where}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SafetyFeedback:
        by = data.get("by") or {}
        return cls(uid=str(data["uid"]), signal=bool(data["signal"]),
                   by=Reviewer(str(by.get("id", "")), str(by.get("name", ""))),
                   at=datetime.fromisoformat(str(data["at"])), where=str(data.get("where") or ""))
