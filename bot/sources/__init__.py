"""Sources: one module per upstream, each a pure parser plus a thin client behind `Source`.

Each module also declares its source to `bot.registry` (a `SourceSpec`): what the rest of
litwatch asks of it, and how to build its client on the shared HTTP stack.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Protocol

from bot import registry
from bot.config import Environment, SavedQuery
from bot.models import FetchResult, Item, Window

if TYPE_CHECKING:
    from bot.sources.http import Http
    from bot.store import Store


class Source(Protocol):
    """What the pipeline needs of a source. `fetch` raises SourceError when it cannot finish."""

    overlap: timedelta  # how far before the watermark a window reaches back (late indexing)

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult: ...

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]: ...


def build_sources(env: Environment, http: Http | None = None, *, store: Store | None = None) -> dict[str, Source]:
    """Every registered source's client, keyed by its config name, all on one HTTP stack.

    With a `store`, PubMed skips re-downloading records it already holds for a query (the
    overlap window finds them again) and its retraction watch looks only at stored records.
    """
    from bot.sources.http import Http

    http = http or Http(deadline=env.fetch_deadline, max_bytes=env.max_fetch_bytes)
    return {spec.name: spec.build(env, http, store) for spec in registry.specs()}
