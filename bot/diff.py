"""What counts as a change worth telling people about, per source, and how it reads.

A stored item is "changed" only when a watched field differs: the fields a living review
acts on (a trial's status or results, a paper's retraction or erratum). Everything else
(a trial's update date, a reformatted abstract) is refreshed silently or ignored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from bot.models import Item

# CommentsCorrections types that change what a review should think of a record.
INTEGRITY_LINKS = frozenset({
    "RetractionIn", "RetractionOf", "ExpressionOfConcernIn", "ExpressionOfConcernFor",
    "ErratumIn", "ErratumFor", "UpdateIn", "UpdateOf", "ReprintIn",
})

TRIAL_FIELDS = ("status", "why_stopped", "has_results", "enrollment", "primary_completion_date",
                "phases")


def watched(item: Item | Mapping[str, Any]) -> dict[str, Any]:
    """The fields whose change makes an item 'changed', as plain JSON values."""
    if isinstance(item, Item):
        return _watched_item(item)
    data = item
    source = data.get("source")
    if source == "pubmed":
        links = sorted(
            f"{c.get('type')}:{c.get('pmid') or c.get('ref', '')}"
            for c in data.get("corrections") or ()
            if c.get("type") in INTEGRITY_LINKS
        )
        return {"publication_types": sorted(data.get("publication_types") or ()), "links": links}
    if source == "clinicaltrials":
        trial = data.get("trial") or {}
        return {name: _plain(trial.get(name)) for name in TRIAL_FIELDS}
    return {"title": data.get("title", "")}


def _watched_item(item: Item) -> dict[str, Any]:
    # Same result as watched(item.to_dict()), without deep-copying the whole item: this runs
    # once per fetched record on every run, so it is the no-change diff's hot path.
    if item.source == "pubmed":
        links = sorted(f"{c.type}:{c.pmid or c.ref}" for c in item.corrections if c.type in INTEGRITY_LINKS)
        return {"publication_types": sorted(item.publication_types), "links": links}
    if item.source == "clinicaltrials":
        trial = item.trial
        return {name: _plain(getattr(trial, name)) if trial else None for name in TRIAL_FIELDS}
    return {"title": item.title}


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


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


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
