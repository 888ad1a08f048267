"""Cross-source links: a publication and the registered trial it reports; one work, two sources.

Pure: given the items a run touched and read-only lookups into the store, it sets `links`,
`alt_urls` and reasons on those items and says what the pipeline must change in stored
items. What names what is each source's declaration (`bot.registry`: `accession`,
`naming_fields`). Two rules:

- A record naming another source's record the store holds (a PubMed record naming an NCT ID
  in its DataBank list or abstract) is linked both ways; its alert gives "publication of
  tracked trial NCT…". A record listing others itself (a trial's result publications), or
  newly tracked after records naming it, is linked the same way.
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

from bot import registry
from bot.models import Classification, Item


class StoredLookup(Protocol):
    """What linking reads from the store (bot.store.Store provides the first two)."""

    def get(self, uid: str) -> dict[str, Any] | None: ...

    def uid_for_doi(self, doi: str) -> str | None: ...


# For new records others may name: stored uids of the records naming each of these uids (a
# store scan, so it is only asked when a run brings new nameable records).
NamingLookup = Callable[[set[str]], Mapping[str, list[str]]]


@dataclass
class Links:
    """What the pipeline must do after linking."""

    updates: dict[str, dict[str, Any]] = field(default_factory=dict)  # stored uid -> fields
    merged: dict[str, str] = field(default_factory=dict)  # new uid -> stored uid it joined


def named_uids(item: Item) -> list[str]:
    """Uids of other sources' records that `item` names (NCT IDs in a PubMed record's DataBank
    list, then in its abstract), each once."""
    return registry.named_uids(item.source, lambda name: getattr(item, name))


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
        tracked = [uid for uid in named_uids(item) if stored.get(uid) is not None]
        for uid in tracked:
            _add(item, "links", uid)
            patches.add(uid, "links", item.uid)
        if tracked:
            _reason(item, _naming_reason(item, tracked))
        for uid in item.links:  # links the record carries itself (a trial's publications)
            if uid not in tracked and stored.get(uid) is not None:
                patches.add(uid, "links", item.uid)

    nameable = {i.uid: i for i in live if i.uid in new_uids and _nameable(i)}
    if nameable and naming is not None:
        for uid, naming_uids in naming(set(nameable)).items():
            record = nameable.get(uid)
            if record is None:
                continue
            for other in naming_uids:
                _add(record, "links", other)
                patches.add(other, "links", record.uid)
            if naming_uids:
                _reason(record, _named_reason(record, naming_uids))
    return result


def _nameable(item: Item) -> bool:
    spec = registry.get(item.source)
    return spec is not None and spec.accession is not None


# The reasons `link` adds, whatever the nouns: "publication of tracked trial NCT…", "tracked
# trial with publications pmid:…". A record labelled again (`litwatch reclassify`) keeps them.
LINK_REASON = re.compile(r"^(?:[\w ]+ of tracked [\w ]+ \S|tracked [\w ]+ with [\w ]+s \S)")


def _naming_reason(item: Item, tracked: list[str]) -> str:
    """ "publication of tracked trial NCT01234567": the record, then what it names, by source."""
    noun = _noun(item.source)
    parts = []
    for target in registry.specs():
        idents = [uid.partition(":")[2] for uid in tracked if uid.partition(":")[0] == target.uid_prefix]
        if idents:
            parts.append(f"{noun} of tracked {target.noun} {', '.join(idents)}")
    return "; ".join(parts)


def _named_reason(record: Item, naming_uids: list[str]) -> str:
    """ "tracked trial with publications pmid:1, pmid:2"."""
    spec = registry.for_uid(naming_uids[0])
    return f"tracked {_noun(record.source)} with {spec.noun if spec else 'record'}s {', '.join(naming_uids)}"


def _noun(source: str) -> str:
    spec = registry.get(source)
    return spec.noun if spec else "record"


def link_items(items: list[Item], store: Any) -> Links:
    """The pipeline hook: `link` on the store (its `get`, `uid_for_doi` and a scan for names)."""

    def naming(uids: set[str]) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for spec in registry.specs():
            if not spec.naming_fields:
                continue
            for uid, first_seen, *values in store.fields(spec.name, "uid", "first_seen", *spec.naming_fields):
                doc = dict(zip(spec.naming_fields, values, strict=True))
                for named in set(registry.named_uids(spec.name, doc.get)) & uids:
                    found.setdefault(named, []).append((first_seen or "", uid))
        return found

    def oldest_first(uids: set[str]) -> dict[str, list[str]]:
        # Naming records oldest first, as the store lists its items.
        return {named: [uid for _, uid in sorted(docs)] for named, docs in naming(uids).items()}

    return link(items, store, naming=oldest_first)


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
