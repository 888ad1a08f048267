"""The team's word on safety alerts as labelled records for the next `make model`.

Each Confirm / Not a safety signal click (the latest per record, `Store.safety_feedback`)
becomes one record in the JSONL format of `model/labels/` (model/labels/README.md), which
`model/train.py` reads from `model/labels/team-*.jsonl`. Sentences are split as the
classifier splits them. "Not a safety signal": the record reports no harm to people from an
intervention, every sentence is labelled 0 (a harm that is merely off the review's topic is an
Exclude, not this). Confirm: the record is one, and the strongest sentence its alert quoted is
labelled 1; the team judged the record on that quote, not on its other sentences (a second
quote is often the study's design), so those are labelled `null` (not judged: kept as the
record's text, never a training example). A record carries its DOI, URL and linked records so
that `model/train.py` can keep out what the evaluation set or the ADE corpus hold; the reviewer
is named by Slack user ID only.

Pure: stored documents and feedback in, records out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.classify import sentences
from bot.decisions import SafetyFeedback
from bot.models import Item

# A quoted sentence in a classification's evidence: "abstract: '…words…' (0.91)", and the
# sentence rules' "title: '…' (sentence rules) (0.80)". MeSH and registry evidence quote no
# sentence.
_QUOTE = re.compile(r"^(title|abstract): '(.*)'(?: \((?:\d+(?:\.\d+)?|sentence rules)\))*$", re.DOTALL)

Harm = int | None  # 1 harm, 0 none, None not judged


@dataclass(frozen=True)
class TeamLabel:
    """One record labelled by the team's word on its safety alert."""

    uid: str
    kind: str
    safety: bool
    title: tuple[str, Harm]
    abstract: tuple[tuple[str, Harm], ...]
    by: str
    at: str
    doi: str = ""
    url: str = ""
    links: tuple[str, ...] = ()
    flagged: bool = False  # the classifier had flagged it a safety signal (not exported)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.uid, "group": "team", "kind": self.kind, "safety": self.safety,
                "title": list(self.title), "abstract": [list(pair) for pair in self.abstract],
                "by": self.by, "at": self.at, "doi": self.doi, "url": self.url, "links": list(self.links)}

    @property
    def judged(self) -> int:
        """How many of its sentences are training examples."""
        return sum(h is not None for _, h in (self.title, *self.abstract))


@dataclass(frozen=True)
class LabelExport:
    """What `litwatch labels export` writes, and what it left out and why."""

    labels: tuple[TeamLabel, ...]
    skipped: tuple[tuple[str, str], ...]  # (uid, why)

    def jsonl(self) -> str:
        return "".join(json.dumps(label.to_dict(), ensure_ascii=False) + "\n" for label in self.labels)


def team_labels(docs: Mapping[str, Mapping[str, Any]], feedback: Mapping[str, SafetyFeedback]) -> LabelExport:
    """Every record's latest safety feedback as a labelled record, in uid order."""
    labels, skipped = [], []
    for uid in sorted(feedback):
        word = feedback[uid]
        doc = docs.get(uid)
        if doc is None:
            skipped.append((uid, "no longer stored"))
            continue
        item = Item.from_dict(doc)
        if item.trial is not None:
            skipped.append((uid, "a registry record: its safety comes from registry fields, not from text"))
            continue
        parts = sentences(item)
        if not parts:
            skipped.append((uid, "no title or abstract"))
            continue
        has_title = bool(item.title.strip())
        if word.signal:
            quoted = quoted_sentences(parts, has_title, item.classification.evidence if item.classification else ())
            strongest = set(quoted[:1])  # evidence comes strongest first
            if not strongest:
                skipped.append((uid, "confirmed, but its alert quoted no sentence (MeSH or other fields): "
                                     "nothing for the sentence model to learn"))
                continue
            harms: list[Harm] = [1 if i in strongest else None for i in range(len(parts))]
        else:
            harms = [0] * len(parts)
        pairs = list(zip(parts, harms, strict=True))
        title = pairs.pop(0) if has_title else ("", None)
        kind = item.classification.kind if item.classification else "other"
        labels.append(TeamLabel(uid=uid, kind=kind, safety=word.signal, title=title, abstract=tuple(pairs),
                                by=word.by.id or "unknown", at=word.at.isoformat(timespec="seconds"),
                                doi=item.doi or "", url=item.url or "",
                                links=tuple(sorted(_linked(item))),
                                flagged=bool(item.classification and item.classification.safety)))
    return LabelExport(tuple(labels), tuple(skipped))


def _linked(item: Item) -> list[str]:
    """The uids of the records folded into this one (cross-source links) and the other URLs of
    the same work."""
    return [v for v in (*item.links, *item.alt_urls) if v]


def quoted_sentences(parts: Sequence[str], has_title: bool, evidence: Sequence[str]) -> list[int]:
    """Indexes of the sentences (title first when `has_title`) that `evidence` quotes, in the
    order of the evidence (strongest first)."""
    found: list[int] = []
    for line in evidence:
        m = _QUOTE.match(line)
        if m is None:
            continue
        where, quote = m.group(1), m.group(2).strip("…").strip().lower()
        if not quote:
            continue
        candidates = [0] if where == "title" and has_title else range(1 if has_title else 0, len(parts))
        for i in candidates:
            if quote in parts[i].lower():
                if i not in found:
                    found.append(i)
                break
    return found
