"""ClinicalTrials.gov API v2 client: saved-query fetches with paging and update windows.

Thin I/O around `ctgov_json`: builds the /studies parameters, follows `nextPageToken`
(an empty page is not the end), maps HTTP failures to SourceError. The registry's date
filter is day-granular, so incremental windows must reach back at least a day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from bot import registry
from bot.config import Environment, SavedQuery
from bot.errors import QuerySyntaxError, SourceError
from bot.models import FetchResult, Item, Window
from bot.sources.ctgov_json import FIELDS, STUDY_URL, StudyFormatError, StudyPage, parse_page_bytes
from bot.sources.http import Http, status_error, url_hint

if TYPE_CHECKING:
    from bot.store import Store

CTGOV_API_URL = "https://clinicaltrials.gov/api/v2"

PAGE_SIZE = 1000  # the API's maximum
MAX_PAGES = 500  # 500,000 studies: far beyond any saved search; guards a token loop


class ClinicalTrialsSource:
    """`Source` for `source = "clinicaltrials"` queries, on any v2-compatible base URL."""

    overlap = timedelta(days=1)  # LastUpdatePostDate has no time of day

    def __init__(
        self,
        base_url: str,
        *,
        http: Http,
        page_size: int = PAGE_SIZE,
        hint: str = "",
    ):
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.page_size = page_size
        self.hint = hint

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
        """Every study matching `query` updated since `window.start` (all of them if None)."""
        params = query_params(query, since=window.start, page_size=self.page_size)
        result = FetchResult()
        found: dict[str, Item] = {}  # a study updated mid-paging can appear twice
        for page in self._pages(params, query.name, result):
            for item in page.items:
                found[item.id] = item
            result.warnings.extend(w for w in page.skipped if w not in result.warnings)
        result.items = list(found.values())
        return result

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]:
        """Ad hoc: the `limit` most recently updated studies matching `terms`."""
        params = search_params(terms, limit=limit, since=since, page_size=self.page_size)
        items: dict[str, Item] = {}
        for page in self._pages(params, "search", FetchResult()):
            for item in page.items:
                items.setdefault(item.id, item)
            if len(items) >= limit:
                break
        return list(items.values())[:limit]

    def _pages(self, params: dict[str, str], name: str, result: FetchResult) -> Iterator[StudyPage]:
        """Each page in turn, the same parameters every time plus the previous page's token."""
        seen_tokens: set[str] = set()
        token: str | None = None
        for _ in range(MAX_PAGES):
            page_params = {**params, "pageToken": token} if token else params
            page = self._get_page(page_params, name, result)
            yield page
            token = page.next_page_token
            if token is None:
                return
            if token in seen_tokens:
                raise SourceError(f"ClinicalTrials.gov repeated page token {token!r}", query=name)
            seen_tokens.add(token)
        raise SourceError(f"ClinicalTrials.gov returned more than {MAX_PAGES} pages", query=name)

    def _get_page(self, params: dict[str, str], name: str, result: FetchResult) -> StudyPage:
        fetched = self.http.get(
            f"{self.base_url}/studies", params=params, headers={"Accept": "application/json"}, query=name,
            what="ClinicalTrials.gov", hint=self.hint,
        )  # fmt: skip
        result.requests += fetched.requests
        response = fetched.response
        if response.status_code == 400:
            raise QuerySyntaxError(
                f"{status_error('ClinicalTrials.gov', response, fetched.body)}: it rejected the query",
                query=name,
            )
        if response.status_code != 200:
            raise SourceError(
                f"{status_error('ClinicalTrials.gov', response, fetched.body)} for {self.base_url}/studies",
                query=name,
            )
        try:
            return parse_page_bytes(fetched.body)
        except StudyFormatError as exc:
            message = f"ClinicalTrials.gov sent an unreadable page: {exc}"
            raise SourceError(message, query=name) from exc


def query_params(
    query: SavedQuery, *, since: date | None, page_size: int = PAGE_SIZE
) -> dict[str, str]:
    """The /studies parameters for a saved query, repeated on every page."""
    params = {"format": "json", "fields": FIELDS, "pageSize": str(page_size), "countTotal": "true"}
    for key, value in (("query.term", query.term), ("query.cond", query.condition),
                       ("query.intr", query.intervention)):  # fmt: skip
        if value:
            params[key] = value
    if query.status:
        params["filter.overallStatus"] = ",".join(query.status)
    if since is not None:
        params["filter.advanced"] = updated_since(since)
    return params


def search_params(terms: str, *, limit: int, since: date | None, page_size: int) -> dict[str, str]:
    params = {
        "format": "json", "fields": FIELDS, "query.term": terms,
        "pageSize": str(max(1, min(limit, page_size))), "sort": "LastUpdatePostDate:desc",
    }  # fmt: skip
    if since is not None:
        params["filter.advanced"] = updated_since(since)
    return params


def updated_since(day: date) -> str:
    """The Essie expression for "last update posted on or after `day`"."""
    return f"AREA[LastUpdatePostDate]RANGE[{day.isoformat()},MAX]"


STATUSES = (
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
)  # fmt: skip
# Registry fields whose change a living review acts on.
WATCHED = ("status", "why_stopped", "has_results", "enrollment", "primary_completion_date", "phases")
SEARCH_KEYS = ("term", "condition", "intervention")


class ClinicalTrials(registry.SourceSpec):
    """ClinicalTrials.gov studies (`nct:<NCT ID>`), through API v2."""

    name = "clinicaltrials"
    uid_prefix = "nct"
    label = "ClinicalTrials.gov"
    noun = "trial"
    id_label = "{}"  # NCT01234567 says what it is
    query_keys = frozenset({"term", "condition", "intervention", "status"})
    search_scope = "trials"
    url_variable = "CTGOV_API_URL"
    default_url = CTGOV_API_URL
    ris_type = "GEN"
    ris_database = "ClinicalTrials.gov"
    registry_records = True
    may_list_registry_records = False
    accession = re.compile(r"\bNCT\d{8}\b")
    naming_fields = ()  # its records list their publications as links (ctgov_json)

    def check_query(self, query: SavedQuery, raw: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        for status in query.status:
            if status not in STATUSES:
                yield "status", f"unknown trial status {status!r} (expected e.g. RECRUITING, COMPLETED)"
        mistyped = any(k in raw and not isinstance(raw[k], str) for k in SEARCH_KEYS)  # reported already
        if not (query.term or query.condition or query.intervention) and not mistyped:
            yield "", "source = 'clinicaltrials' needs at least one of term, condition, intervention"

    def watched(self, item: Item) -> dict[str, Any]:
        trial = item.trial
        return {name: _plain(getattr(trial, name)) if trial else None for name in WATCHED}

    def record_url(self, ident: str) -> str:
        return STUDY_URL.format(ident)

    def build(self, env: Environment, http: Http, store: Store | None) -> ClinicalTrialsSource:
        return ClinicalTrialsSource(env.base_url(self), http=http, hint=url_hint(env, self))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


registry.register(ClinicalTrials())
