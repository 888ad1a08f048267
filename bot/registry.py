"""The source registry: each source declares, in its own module, everything the rest of litwatch asks of it.

A source is a `SourceSpec` subclass (uid prefix, label, config keys and their checks, watched
fields, record URL, the identifiers other records name it by, how to build its client) with
one instance registered by `register()` when its module is imported. Config validation,
change detection, linking, export, rendering and classification ask the registry, never
`if source == ...`.

Forgetting a declaration fails when the module is imported: a missing class attribute at
class creation, a missing method when the instance is made (`abc`), a clash with another
source at `register()`. The built-in sources are imported on first use, by module name from
`BUILTIN` (the one registration line each), so this module sits at the bottom of the
layering: it imports nothing of litwatch at run time, and the models and config it serves can
import it without a cycle.
"""

from __future__ import annotations

import importlib
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from bot.config import Environment, SavedQuery
    from bot.models import Item
    from bot.sources import Source
    from bot.sources.http import Http
    from bot.store import Store

# Each built-in source: its module, imported on first use (it registers itself).
BUILTIN = (
    "bot.sources.pubmed",
    "bot.sources.clinicaltrials",
    "bot.sources.feeds",
)
ALL_SCOPE = "all"  # `search source:all`: every searchable source


class SourceSpec(ABC):
    """Everything litwatch asks of one source. Subclass it, declare every attribute, register one instance."""

    name: ClassVar[str]  # `source = "<name>"` in the config, `Item.source`
    uid_prefix: ClassVar[str]  # `<prefix>:<id>` is an item's uid
    label: ClassVar[str]  # what people read: "PubMed"
    noun: ClassVar[str]  # one record, in link reasons: "publication", "trial"
    id_label: ClassVar[str]  # a record's id among an item's identifiers: "PMID {}", "{}"; "" shows none
    query_keys: ClassVar[frozenset[str]]  # [[queries]] keys this source reads, beyond the common ones
    search_scope: ClassVar[str | None]  # `search source:<scope>` / `--source <scope>`; None: no ad hoc search
    url_variable: ClassVar[str | None]  # environment variable moving its base URL; None: URLs come per query
    default_url: ClassVar[str]  # base URL when that variable is unset ("" without one)
    ris_type: ClassVar[str]  # RIS TY of its records: JOUR, GEN, ELEC
    ris_database: ClassVar[str]  # RIS DB: the database a record came from ("" when none)
    registry_records: ClassVar[bool]  # its records are registered studies: clinical by definition
    may_list_registry_records: ClassVar[bool]  # an entry may be a registry record, seen by its URL
    accession: ClassVar[re.Pattern[str] | None]  # how other records name one of its records (NCT01234567)
    naming_fields: ClassVar[tuple[str, ...]]  # Item fields where its records name other sources' accessions

    @staticmethod
    def declarations() -> tuple[str, ...]:
        """The class attributes every source must set: each one annotated above."""
        return tuple(SourceSpec.__annotations__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [attr for attr in SourceSpec.declarations() if not hasattr(cls, attr)]
        if missing:
            raise TypeError(f"source {cls.__name__} does not declare {', '.join(missing)} "
                            "(see bot.registry.SourceSpec)")

    @abstractmethod
    def check_query(self, query: SavedQuery, raw: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        """Problems with one [[queries]] block of this source, as (key or "", reason)."""

    @abstractmethod
    def watched(self, item: Item) -> dict[str, Any]:
        """The fields whose change makes a stored record "changed", as plain JSON values."""

    @abstractmethod
    def record_url(self, ident: str) -> str:
        """The web page of the record with this id ("" when it has none of its own)."""

    @abstractmethod
    def build(self, env: Environment, http: Http, store: Store | None) -> Source:
        """The client that fetches and searches this source."""


_specs: dict[str, SourceSpec] = {}
_loaded = False
_loading = False
_lock = threading.RLock()


def register(spec: SourceSpec) -> SourceSpec:
    """Add `spec`; a name, uid prefix or search scope another source already has is an error."""
    with _lock:
        for other in _specs.values():
            for attr in ("name", "uid_prefix", "search_scope"):
                value = getattr(spec, attr)
                if value is not None and value == getattr(other, attr) and other.name != spec.name:
                    raise ValueError(f"source {spec.name!r}: {attr} {value!r} is already taken by {other.name!r}")
        _specs[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a source (tests that register a toy one clean up with this)."""
    with _lock:
        _specs.pop(name, None)


def specs() -> tuple[SourceSpec, ...]:
    """Every registered source: the built-ins in `BUILTIN` order, then the others as registered."""
    _load_builtins()
    ranked = sorted(enumerate(_specs.values()), key=lambda pair: (_builtin_rank(pair[1]), pair[0]))
    return tuple(found for _, found in ranked)


def _builtin_rank(found: SourceSpec) -> int:
    module = type(found).__module__
    return BUILTIN.index(module) if module in BUILTIN else len(BUILTIN)


def names() -> tuple[str, ...]:
    return tuple(s.name for s in specs())


def get(name: str) -> SourceSpec | None:
    _load_builtins()
    return _specs.get(name)


def spec(name: str) -> SourceSpec:
    """The source called `name`; KeyError naming the known ones otherwise."""
    found = get(name)
    if found is None:
        raise KeyError(f"unknown source {name!r} (known: {', '.join(names())})")
    return found


def for_uid(uid: str) -> SourceSpec | None:
    prefix = uid.partition(":")[0]
    return next((s for s in specs() if s.uid_prefix == prefix), None)


def uid(source: str, ident: str) -> str:
    return f"{spec(source).uid_prefix}:{ident}"


def label(source: str) -> str:
    """The source's label; an unknown name (a source since removed) as it is."""
    found = get(source)
    return found.label if found else source


def uid_url(uid: str) -> str:
    """The record page for a uid, or "" when its source has none."""
    found = for_uid(uid)
    return found.record_url(uid.partition(":")[2]) if found else ""


def search_scopes() -> dict[str, tuple[str, ...]]:
    """`source:<scope>` -> the sources an ad hoc search covers; `all` is every searchable one."""
    scoped = {s.search_scope: (s.name,) for s in specs() if s.search_scope}
    return {**scoped, ALL_SCOPE: tuple(n for (n,) in scoped.values())}


def accession_uid(text: str) -> str | None:
    """The uid of the record an accession number names ("NCT01234567" -> "nct:NCT01234567")."""
    value = text.strip().upper()
    for s in specs():
        if s.accession is not None and s.accession.fullmatch(value):
            return f"{s.uid_prefix}:{value}"
    return None


def named_uids(source: str, field: Callable[[str], Any]) -> list[str]:
    """Uids of other sources' records that a record names in its `naming_fields`, each once.

    `field(name)` reads one field of the record (an Item attribute or a stored value). A list
    field holds accession numbers one each; a text field is searched for them.
    """
    found = get(source)
    if found is None or not found.naming_fields:
        return []
    targets = [s for s in specs() if s.accession is not None and s.name != source]
    out: list[str] = []
    for name in found.naming_fields:
        value = field(name)
        for target in targets:
            pattern = target.accession
            assert pattern is not None
            if isinstance(value, list | tuple):
                hits = [str(v).strip().upper() for v in value if pattern.fullmatch(str(v).strip().upper())]
            else:
                hits = pattern.findall(str(value or ""))
            out += [f"{target.uid_prefix}:{hit}" for hit in hits]
    return list(dict.fromkeys(out))


def _load_builtins() -> None:
    global _loaded, _loading
    if _loaded:
        return
    with _lock:  # other threads wait here until every built-in is in
        if _loaded or _loading:  # _loading: a built-in asking the registry while it is imported
            return
        _loading = True
        try:
            for module in BUILTIN:
                importlib.import_module(module)
        finally:
            _loading = False
        _loaded = True
