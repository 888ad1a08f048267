"""Label stored items again with the classifier as it is now (`litwatch reclassify`).

A run classifies only what it fetches new or changed; a stored record keeps the labels it was
given. After `make model` retrains on the team's feedback, a new release, or a change to
`[classify]` (a threshold, a topic term), the store holds labels of another classifier. Each
label names its classifier (`Classification.labeller`), so `litwatch status` can tell how many
are stale, and this relabels them. It sends nothing: a record that becomes a safety signal is
listed for the team to look at, not alerted (a threshold lowered on a store of thousands would
otherwise flood the safety channel with old records).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.models import Classification, Item
from bot.progress import Progress, Silent

Classify = Callable[[Item], Classification]


@dataclass(frozen=True)
class Flip:
    """A record whose safety flag the new labels turn on or off."""

    uid: str
    score: float
    title: str


@dataclass
class Relabelled:
    """What relabelling the store did, or would do."""

    total: int = 0  # stored items
    relabelled: int = 0  # items classified again
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> the fields to store
    before: Counter[str] = field(default_factory=Counter)  # flags of the relabelled items, before
    after: Counter[str] = field(default_factory=Counter)
    kind_changed: int = 0
    now_safety: list[Flip] = field(default_factory=list)
    no_longer_safety: list[Flip] = field(default_factory=list)


FLAGS = ("safety", "possible_safety", "integrity", "corrected")


def labelled_by(docs: Iterable[Mapping[str, Any]], identity: str) -> tuple[int, int]:
    """(items labelled by the classifier named `identity`, items labelled by another)."""
    counts = Counter((doc.get("classification") or {}).get("labeller") == identity for doc in docs)
    return counts[True], counts[False]


def relabel(docs: Iterable[Mapping[str, Any]], classify: Classify, identity: str, *,
            everything: bool = False, progress: Progress | None = None) -> Relabelled:
    """Classify again every stored item (`docs`, as the store holds them) not labelled by
    `identity` (every one if `everything`), and say what changed."""
    docs = list(docs)
    progress = progress or Silent()
    out = Relabelled(total=len(docs))
    for n, doc in enumerate(docs, 1):
        old = doc.get("classification") or {}
        if everything or old.get("labeller") != identity:
            item = Item.from_dict(doc)
            new = classify(item)
            item.classification = new
            out.updates[str(doc["uid"])] = {"classification": item.to_dict()["classification"]}
            out.relabelled += 1
            _tally(out, doc, old, new)
        if n % 500 == 0:
            progress.advance(500)
    progress.advance(len(docs) % 500)
    progress.close()
    return out


def _tally(out: Relabelled, doc: Mapping[str, Any], old: Mapping[str, Any], new: Classification) -> None:
    for flag in FLAGS:
        out.before[flag] += bool(old.get(flag))
        out.after[flag] += bool(getattr(new, flag))
    out.kind_changed += old.get("kind") != new.kind
    if bool(old.get("safety")) != new.safety:
        flip = Flip(str(doc["uid"]), new.safety_score, str(doc.get("title") or ""))
        (out.now_safety if new.safety else out.no_longer_safety).append(flip)


def summary(result: Relabelled, identity: str, *, listed: int = 20) -> list[str]:
    """The lines `litwatch reclassify` prints."""
    lines = [f"relabelled {result.relabelled} of {result.total} stored item(s) with {identity}"
             + (f" ({result.total - result.relabelled} already labelled by it)"
                if result.total > result.relabelled else "")]
    if not result.relabelled:
        return lines
    b, a = result.before, result.after
    lines.append(f"  safety signals {b['safety']} -> {a['safety']} ({len(result.now_safety)} new, "
                 f"{len(result.no_longer_safety)} no longer); possible {b['possible_safety']} -> "
                 f"{a['possible_safety']}; integrity {b['integrity']} -> {a['integrity']}; corrected "
                 f"{b['corrected']} -> {a['corrected']}; kind changed on {result.kind_changed}")
    for heading, flips in (("now safety signals (no alert is sent: look at them here or in "
                            "`litwatch export --flagged`)", result.now_safety),
                           ("no longer safety signals", result.no_longer_safety)):
        if flips:
            lines.append(f"{heading}:")
            ordered = sorted(flips, key=lambda f: (-f.score, f.uid))
            lines += [f"  {f.uid}  {f.score:.2f}  {f.title[:100]}" for f in ordered[:listed]]
            if len(flips) > listed:
                lines.append(f"  … and {len(flips) - listed} more")
    return lines
