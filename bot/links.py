"""Cross-source links: a publication and the registered trial it reports; one work, two sources.

Pure: given the items a run touched and read-only lookups into the store, it sets `links`,
`alt_urls` and reasons on those items and says what the pipeline must change in stored
items. Two rules:

- A PubMed record naming an NCT ID (DataBank list or abstract) that the store holds is linked
  both ways; its alert gives "publication of tracked trial NCT…". A trial record listing
  result publications (or newly tracked after them) is linked the same way.
- A new item whose DOI is already stored under another source (a journal's feed entry and
  its PubMed record) is folded into the stored item: one item carrying both URLs, no second
  alert.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.models import Classification, Item

NCT = re.compile(r"\bNCT\d{8}\b")


class StoredLookup(Protocol):
    """What linking reads from the store (bot.store.Store provides the first two)."""

    def get(self, uid: str) -> dict[str, Any] | None: ...

    def uid_for_doi(self, doi: str) -> str | None: ...


# For new trials: stored uids of publications naming each of these NCT IDs (a store scan,
# so it is only asked when a run brings new trials).
NamingLookup = Callable[[set[str]], Mapping[str, list[str]]]


@dataclass
class Links:
    """What the pipeline must do after linking."""

    updates: dict[str, dict[str, Any]] = field(default_factory=dict)  # stored uid -> fields
    merged: dict[str, str] = field(default_factory=dict)  # new uid -> stored uid it joined


def named_trials(item: Item) -> list[str]:
    """NCT IDs a record names: its DataBank accession numbers, then any in its abstract."""
    found = [t.upper() for t in item.trial_ids if NCT.fullmatch(t.upper())]
    found += NCT.findall(item.abstract)
    return list(dict.fromkeys(found))


def link(
    items: list[Item],
    stored: StoredLookup,
    *,
    new: Iterable[str] | None = None,
    naming: NamingLookup | None = None,
) -> Links:
    """Link `items` (new and changed, one run) to each other's stored counterparts.

    `new` is the uids of the items not yet stored (default: those `stored.get` misses).
    """
    new_uids = set(new) if new is not None else {i.uid for i in items if stored.get(i.uid) is None}
    result = Links()
    patches = _Patches(stored, result.updates)

    for item in items:
        if item.uid not in new_uids:
            _keep_stored_links(item, stored.get(item.uid))

    for item in items:
        joined = _merge_same_doi(item, stored, patches) if item.uid in new_uids else None
        if joined:
            result.merged[item.uid] = joined

    live = [i for i in items if i.uid not in result.merged]
    for item in live:
        if item.source == "pubmed":
            tracked = [n for n in named_trials(item) if stored.get(f"nct:{n}") is not None]
            for nct in tracked:
                _add(item, "links", f"nct:{nct}")
                patches.add(f"nct:{nct}", "links", item.uid)
            if tracked:
                _reason(item, "publication of tracked trial " + ", ".join(tracked))
        elif item.source == "clinicaltrials":
            for uid in item.links:
                if uid.startswith("pmid:") and stored.get(uid) is not None:
                    patches.add(uid, "links", item.uid)

    new_trials = {i.id: i for i in live if i.source == "clinicaltrials" and i.uid in new_uids}
    if new_trials and naming is not None:
        for nct, publications in naming(set(new_trials)).items():
            trial = new_trials.get(nct)
            if trial is None:
                continue
            for uid in publications:
                _add(trial, "links", uid)
                patches.add(uid, "links", trial.uid)
            if publications:
                _reason(trial, "tracked trial with publications " + ", ".join(publications))
    return result


def link_items(items: list[Item], store: Any) -> Links:
    """The pipeline hook: `link` on the store (its `get`, `uid_for_doi` and an NCT scan)."""

    def naming(ncts: set[str]) -> dict[str, list[str]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for uid, first_seen, trial_ids, abstract in store.fields(
                "pubmed", "uid", "first_seen", "trial_ids", "abstract"):  # fmt: skip
            text_ids = set(trial_ids or ()) | set(NCT.findall(abstract or ""))
            for nct in text_ids & ncts:
                found.setdefault(nct, []).append((first_seen or "", uid))
        # Publications oldest first, as the store lists its items.
        return {nct: [uid for _, uid in sorted(docs)] for nct, docs in found.items()}

    return link(items, store, naming=naming)


# ---------------------------------------------------------------- helpers


class _Patches:
    """Field updates for stored items, built on what the store holds now."""

    def __init__(self, stored: StoredLookup, updates: dict[str, dict[str, Any]]):
        self.stored = stored
        self.updates = updates

    def add(self, uid: str, name: str, value: str) -> None:
        doc = self.stored.get(uid)
        if doc is None:
            return
        current = self.updates.get(uid, {}).get(name, doc.get(name) or [])
        if value not in current:
            self.updates.setdefault(uid, {})[name] = [*current, value]


def _add(item: Item, name: str, value: str) -> None:
    current: tuple[str, ...] = getattr(item, name)
    if value and value not in current and value != item.uid:
        setattr(item, name, (*current, value))


def _reason(item: Item, reason: str) -> None:
    label = item.classification or Classification()
    if reason not in label.reasons:
        item.classification = dataclasses.replace(label, reasons=(*label.reasons, reason))


def _keep_stored_links(item: Item, doc: Mapping[str, Any] | None) -> None:
    """A refetched record knows only its own links; keep those earlier runs added."""
    if not doc:
        return
    for name in ("links", "alt_urls"):
        for value in doc.get(name) or ():
            _add(item, name, value)


def _merge_same_doi(item: Item, stored: StoredLookup, patches: _Patches) -> str | None:
    """Fold a new item into a stored one of another source with the same DOI: its uid."""
    uid = stored.uid_for_doi(item.doi) if item.doi else None
    doc = stored.get(uid) if uid and uid != item.uid else None
    if uid is None or doc is None or doc.get("source") == item.source:
        return None  # same source: two records, not one work in two places
    if item.url and item.url != doc.get("url"):
        patches.add(uid, "alt_urls", item.url)
    patches.add(uid, "links", item.uid)
    return uid
