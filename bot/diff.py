"""What counts as a change worth telling people about, per source, and how it reads.

A stored item is "changed" only when a watched field differs: the fields a living review
acts on (a trial's status or results, a paper's retraction or erratum), which each source
declares (`bot.registry.SourceSpec.watched`). Everything else (a trial's update date, a
reformatted abstract) is refreshed silently or ignored. A field a source watches that no
describer here knows reads "<field>: old -> new".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from bot import corrections, registry
from bot.models import Item


def watched(item: Item | Mapping[str, Any]) -> dict[str, Any]:
    """The fields whose change makes an item 'changed' (its source declares them), as JSON values.

    A stored record of a source no longer registered is compared by title alone.
    """
    source = item.source if isinstance(item, Item) else str(item.get("source"))
    spec = registry.get(source)
    if spec is None:
        return {"title": item.title if isinstance(item, Item) else item.get("title", "")}
    # An Item as it is: this runs once per fetched record on every run (the no-change diff's
    # hot path); a stored dict is read back into one first.
    return spec.watched(item if isinstance(item, Item) else Item.from_dict(item))


def fingerprint(item: Item | Mapping[str, Any]) -> str:
    """A short hash of the watched fields; equal hashes mean nothing worth an alert changed."""
    blob = json.dumps(watched(item), sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(blob.encode(), digest_size=12).hexdigest()


def describe_changes(old: Mapping[str, Any], new: Item) -> list[str]:
    """Field-level differences in words a reviewer reads: "Status RECRUITING -> TERMINATED"."""
    before, after = watched(old), watched(new)
    lines: list[str] = []
    for name in after:
        if before.get(name) == after.get(name):
            continue
        describe = _DESCRIBERS.get(name, _generic(name.replace("_", " ")))
        lines.extend(describe(before.get(name), after.get(name)))
    return lines


def corrected_only(old: Mapping[str, Any], new: Item) -> bool:
    """Whether all that changed is an erratum or correction: shown on the item, no alert."""
    before, after = watched(old), watched(new)
    if set(before) != set(after) or "links" not in after:
        return False
    for name in after:
        gained = set(after[name] or ()) ^ set(before.get(name) or ())
        if name == "links":
            if any(corrections.tier_of_link(link.split(":", 1)[0]) != "corrected" for link in gained):
                return False
        elif name == "publication_types":
            if any(corrections.tier_of_type(pt) != "corrected" for pt in gained):
                return False
        elif before.get(name) != after.get(name):
            return False
    return True


def _generic(label: str) -> Callable[[Any, Any], list[str]]:
    def describe(old: Any, new: Any) -> list[str]:
        return [f"{label}: {_show(old)} -> {_show(new)}"]

    return describe


def _show(value: Any, *, quote: bool = True) -> str:
    if value in (None, "", []):
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str) and quote:
        return f"'{value}'"
    return str(value)


def _why_stopped(old: Any, new: Any) -> list[str]:
    return [f"why stopped: {_show(new)}" if new else f"why stopped cleared (was {_show(old)})"]


def _labelled(label: str) -> Callable[[Any, Any], list[str]]:
    """A trial field as the registry shows it: "enrollment 40 -> 12", no quotes around dates."""

    def describe(old: Any, new: Any) -> list[str]:
        return [f"{label} {_show(old, quote=False)} -> {_show(new, quote=False)}"]

    return describe


def _results(old: Any, new: Any) -> list[str]:
    return ["results posted"] if new else ["results withdrawn from the registry"]


def _added(label: str) -> Callable[[Any, Any], list[str]]:
    def describe(old: Any, new: Any) -> list[str]:
        gained = sorted(set(new or ()) - set(old or ()))
        lost = sorted(set(old or ()) - set(new or ()))
        return [f"{label} added: {v}" for v in gained] + [f"{label} removed: {v}" for v in lost]

    return describe


_DESCRIBERS: dict[str, Callable[[Any, Any], list[str]]] = {
    "status": _labelled("Status"),
    "why_stopped": _why_stopped,
    "has_results": _results,
    "enrollment": _labelled("enrollment"),
    "primary_completion_date": _labelled("primary completion"),
    "phases": _labelled("phases"),
    "publication_types": _added("publication type"),
    "links": _added("linked notice"),
}
