"""Sources: one module per upstream, each a pure parser plus a thin client behind `Source`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.config import Environment, SavedQuery
from bot.models import FetchResult, Item, Window
from bot.retry import RetryPolicy

if TYPE_CHECKING:
    from bot.store import Store


class Source(Protocol):
    """What the pipeline needs of a source. `fetch` raises SourceError when it cannot finish."""

    overlap: timedelta  # how far before the watermark a window reaches back (late indexing)

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult: ...

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]: ...


def build_sources(env: Environment, policy: RetryPolicy | None = None, *,
                  store: Store | None = None) -> dict[str, Source]:
    """The production sources, keyed by the config's `source` names, all on `env`'s base URLs.

    With a `store`, PubMed skips re-downloading records it already holds for a query (the
    overlap window finds them again) and its retraction watch looks only at stored records.
    """
    import requests

    from bot.sources.clinicaltrials import ClinicalTrialsSource
    from bot.sources.feeds import FeedSource
    from bot.sources.pubmed import PubMedSource, stored_ids_from

    policy = policy or RetryPolicy()
    session = requests.Session()
    session.headers["User-Agent"] = "litwatch (living-review monitor)"
    return {
        "pubmed": PubMedSource(env.ncbi_eutils_url, email=env.ncbi_email, api_key=env.ncbi_api_key,
                               policy=policy, stored_ids=stored_ids_from(store) if store else None),
        "clinicaltrials": ClinicalTrialsSource(env.ctgov_api_url, session=session, policy=policy),
        "feed": FeedSource(session=session, policy=policy),
    }
