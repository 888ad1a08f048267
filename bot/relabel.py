"""Label stored items again with the classifier as it is now (`litwatch reclassify`).

A run classifies only what it fetches new or changed; a stored record keeps the labels it was
given. After `make model` retrains on the team's feedback, an upgrade, or a change to
`[classify]` (a threshold, a topic term), the store holds labels of another classifier. Each
label names its classifier (`Classification.labeller`), so `litwatch status` can tell how many
are stale, and this relabels them. It sends nothing: a record that becomes a safety signal or
gains an integrity flag is listed for the team to look at, not alerted (a threshold lowered on
a store of thousands would otherwise flood the safety channel with old records).

Two kinds of record keep their labels: one the team gave safety feedback on (its Confirm or
"Not a safety signal" judged the evidence the alert quoted, which `litwatch labels export`
turns into training labels), and one a pending notification names (it is rendered from the
store when delivered: its alert must show what it was queued with).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.links import LINK_REASON
from bot.models import Classification, Item
from bot.progress import Progress, Silent

Classify = Callable[[Item], Classification]
FLAGS = ("safety", "possible_safety", "integrity", "corrected")
LISTED = 20  # flips the text summary lists per heading (`--json` lists all)
# (flag, now set): the heading its records are listed under.
HEADINGS = {("safety", True): "now safety signals", ("safety", False): "no longer safety signals",
            ("integrity", True): "now flagged for integrity", ("integrity", False): "no longer flagged for integrity"}


@dataclass(frozen=True)
class Flip:
    """A record whose safety or integrity flag the new labels turn on or off."""

    uid: str
    score: float
    title: str


@dataclass
class Relabelled:
    """What relabelling the store did, or would do."""

    identity: str
    total: int = 0  # stored items
    relabelled: int = 0  # items classified again
    current: int = 0  # already labelled by this classifier
    judged: int = 0  # kept: the team's safety feedback judged their labels
    pending: int = 0  # kept: a pending notification names them
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> the fields to store
    before: Counter[str] = field(default_factory=Counter)  # flags of the relabelled items, before
    after: Counter[str] = field(default_factory=Counter)
    kind_changed: int = 0
    flips: dict[str, list[Flip]] = field(default_factory=lambda: {heading: [] for heading in HEADINGS.values()})

    def to_json(self) -> str:
        return json.dumps({
            "identity": self.identity, "total": self.total, "relabelled": self.relabelled,
            "current": self.current, "judged": self.judged, "pending": self.pending,
            "kind_changed": self.kind_changed, "before": dict(self.before), "after": dict(self.after),
            "flips": {k: [dataclasses.asdict(f) for f in v] for k, v in self.flips.items()},
        }, indent=2) + "\n"


def labelled_by(docs: Iterable[Mapping[str, Any]], identity: str,
                kept: Collection[str] = ()) -> tuple[int, int]:
    """(items labelled by the classifier named `identity`, items another labelled), the uids
    in `kept` (judged by the team) counted in neither."""
    counts = Counter((doc.get("classification") or {}).get("labeller") == identity
                     for doc in docs if doc["uid"] not in kept)
    return counts[True], counts[False]


def relabel(docs: Iterable[Mapping[str, Any]], classify: Classify, identity: str, *,
            judged: Collection[str] = (), pending: Collection[str] = (), everything: bool = False,
            progress: Progress | None = None) -> Relabelled:
    """Classify again every stored item (`docs`, as the store holds them) not labelled by
    `identity` (every one if `everything`), but those in `judged` or `pending`; say what changed.
    Reasons the linker added ("publication of tracked trial …") stay."""
    docs = list(docs)
    progress = progress or Silent()
    out = Relabelled(identity=identity, total=len(docs))
    for n, doc in enumerate(docs, 1):
        uid = str(doc["uid"])
        old = doc.get("classification") or {}
        if uid in judged:
            out.judged += 1
        elif uid in pending:
            out.pending += 1
        elif not everything and old.get("labeller") == identity:
            out.current += 1
        else:
            item = Item.from_dict(doc)
            new = classify(item)
            linked = tuple(r for r in old.get("reasons", ()) if LINK_REASON.match(r) and r not in new.reasons)
            item.classification = dataclasses.replace(new, reasons=new.reasons + linked)
            out.updates[uid] = {"classification": item.to_dict()["classification"]}
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
    for flag in ("safety", "integrity"):
        if bool(old.get(flag)) != getattr(new, flag):
            out.flips[HEADINGS[flag, getattr(new, flag)]].append(
                Flip(str(doc["uid"]), new.safety_score, str(doc.get("title") or "")))


def summary(result: Relabelled) -> list[str]:
    """The lines `litwatch reclassify` prints."""
    kept = [f"{result.current} already labelled by it"] * bool(result.current)
    kept += [f"{result.judged} the team gave safety feedback on, kept as judged"] * bool(result.judged)
    kept += [f"{result.pending} in notifications not yet delivered (run again after delivery)"] * bool(
        result.pending)
    lines = [f"relabelled {result.relabelled} of {result.total} stored item(s) with {result.identity}"
             + (f" ({'; '.join(kept)})" if kept else "")]
    if not result.relabelled:
        return lines
    b, a = result.before, result.after
    lines.append(f"  safety signals {b['safety']} -> {a['safety']} ({len(result.flips[HEADINGS['safety', True]])} "
                 f"new, {len(result.flips[HEADINGS['safety', False]])} no longer); possible {b['possible_safety']} -> "
                 f"{a['possible_safety']}; integrity {b['integrity']} -> {a['integrity']}; corrected "
                 f"{b['corrected']} -> {a['corrected']}; kind changed on {result.kind_changed}")
    for heading, flips in result.flips.items():
        if not flips:
            continue
        note = " (no alert is sent: look at them here or in `litwatch export --flagged`)" \
            if heading.startswith("now") else ""
        lines.append(f"{heading} ({len(flips)}){note}:")
        ordered = sorted(flips, key=lambda f: (-f.score, f.uid))
        lines += [f"  {f.uid}  {f.score:.2f}  {f.title[:100]}" for f in ordered[:LISTED]]
        if len(flips) > LISTED:
            lines.append(f"  … and {len(flips) - LISTED} more (`litwatch reclassify --dry-run --json` lists all)")
    return lines
