"""PubMed through NCBI E-utilities: incremental windows, baselines, retraction watch, search.

Routing. Biopython's `Entrez.esearch`/`efetch` hard-code
`https://eutils.ncbi.nlm.nih.gov/entrez/eutils/<tool>.fcgi` and open it with `Entrez._open`,
which has no timeout, its own module-global pacing and an immediate retry of a 429. So this
client uses Biopython for what it does well — `Entrez._build_request(cgi, params, post=)`
builds the request exactly as `Entrez.esearch`/`efetch` would (tool/email/api_key defaults,
id joining, POST for long parameter lists) — but passes it `<base_url>/esearch.fcgi` (base
URL from `NCBI_EUTILS_URL`, via `bot.config.Environment`) and opens it with
`urllib.request` itself (`opener.open(request, timeout=…)`). `Entrez._open` never runs, so its
immediate 429 retries and sleeps never happen; pacing is the process-wide
`bot.ratelimit.ncbi()` limiter (3 requests/s, 10 with `NCBI_API_KEY`) and retries are
`bot.retry.call_with_retries` (backoff with jitter, Retry-After honoured, bounded in count
and time). Every request sends `tool=litwatch`, `email` (`NCBI_EMAIL`) and `api_key`.
`Entrez._build_request` is private API; the biopython range in pyproject pins the major
version and the fake-server tests exercise it on every run.

Window. A run searches the saved term restricted to records that entered PubMed from the
window start (the pipeline's watermark minus the overlap, 7 days unless the query's
`overlap_days` says otherwise) to the window end (today by the one clock, `LITWATCH_NOW`).
The date is CRDT (create date), not EDAT: EDAT is set to the publication date for records
added more than 12 months after publication, so an old paper added to PubMed today would
carry an EDAT years back, fall before the window and be missed forever; CRDT is always the
day the record was created. CRDT alone misses one more case: a term on MeSH headings
matches a record only once indexers add them, weeks after CRDT and past any overlap. So
the window is `"start"[crdt] : "end"[crdt] OR "start"[mhda] : "end"[mhda]` (MHDA: the date
MeSH was added), in the same single esearch. Records the store already holds for this
query (the `stored_ids` hook; `stored_ids_from(store)` builds it) are not fetched again, so
a run with nothing new costs one request (plus the retraction watch's one).

Volume. esearch runs with the history server (`usehistory=y`) and `retmax=9999`. PubMed
returns at most 9,999 IDs of a result, so a window with more hits is halved by date until
every part fits. A baseline pages efetch through the history (WebEnv, 200 per request);
an incremental run POSTs the new IDs, 200 per request.

Nothing is skipped silently. Once a fetch returns, the pipeline moves the watermark past
its window, so a record the fetch left out is never searched for again (a baseline
straggler lies before every later window). So two gaps fail the fetch (`SourceError`), keeping the
watermark for the next run: a single day with more than 9,999 hits, which date halving
cannot split (not retryable as such: the term must be narrowed), and a PMID esearch
listed that efetch still leaves out when asked once more by ID (retryable, naming the
PMIDs). No missing PMID is treated as gone for good: in XML efetch answers a deleted
PMID and one its backend does not serve yet alike, with an empty `PubmedArticleSet`
(text mode says "The following PMID is not available" for both), so the client cannot
tell them apart. Either way the failure clears itself: a deleted record drops out of the
next esearch, a lagging one comes back from efetch.

Retraction watch. Records already stored that are later retracted, corrected or flagged
surface by a cheap second esearch: the saved term AND the integrity publication types and
comment/correction flags, over the *modification* date window (MDAT), then those stored
records (and the stored targets of any notice found) are fetched again. Their new
`corrections` make the pipeline's diff report them as changed: an integrity alert.
"""

from __future__ import annotations

import http.client
import time
import warnings
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar
from urllib.error import HTTPError, URLError
from urllib.request import HTTPRedirectHandler, Request, build_opener

from Bio import Entrez

from bot import ratelimit
from bot.config import NCBI_EUTILS_URL, SavedQuery, today
from bot.errors import QuerySyntaxError, SourceError
from bot.models import FetchResult, Item, Window
from bot.progress import Progress, ProgressFactory, on_terminal
from bot.ratelimit import RateLimiter
from bot.retry import (
    RetriesExhausted,
    RetryPolicy,
    TransientError,
    call_with_retries,
    parse_retry_after,
)
from bot.sources.http import could_not_connect, is_web_url
from bot.sources.pubmed_xml import SearchResult, parse_efetch, parse_esearch

# Biopython warns on stderr when no email is set; this source reports that itself, once per
# run, as a query warning the user sees in `litwatch once` and `status`.
warnings.filterwarnings("ignore", message=r"\s*Email address is not specified", module="Bio.Entrez")

TOOL = "litwatch"
DEFAULT_OVERLAP = timedelta(days=7)
MAX_IDS = 9999  # PubMed hands out at most this many IDs of one result
BATCH = 200  # IDs per efetch, NCBI's recommended ceiling
EARLIEST = date(1781, 1, 1)  # older than any PubMed record: "all dates"
# Records whose integrity status changed (retracted, corrected, flagged), and the notices.
INTEGRITY_FILTER = (
    '"retracted publication"[pt] OR "retraction of publication"[pt] OR "published erratum"[pt]'
    ' OR "expression of concern"[pt] OR hasretractionin OR haspartialretractionin'
    " OR haserratumin"
)
# Notice -> the record it concerns (the notice's own link points back at the original).
NOTICE_LINKS = frozenset({"RetractionOf", "PartialRetractionOf", "ErratumFor", "ExpressionOfConcernFor"})

StoredIds = Callable[[SavedQuery], Collection[str]]


class StoreView(Protocol):
    def ids(self, source: str, query: str | None = None) -> set[str]: ...


T = TypeVar("T")


@dataclass
class _Run:
    """What one fetch or search has done so far: requests sent, warnings for the user."""

    query: str
    requests: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


class PubMedSource:
    """The `pubmed` source: saved-query fetches and ad hoc searches against E-utilities."""

    name = "pubmed"

    def __init__(
        self,
        base_url: str = NCBI_EUTILS_URL,
        *,
        email: str = "",
        api_key: str = "",
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        progress: ProgressFactory | None = None,
        stored_ids: StoredIds | None = None,
        overlap: timedelta = DEFAULT_OVERLAP,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.email = email
        self.api_key = api_key
        self.policy = policy or RetryPolicy()
        self.limiter = limiter or ratelimit.ncbi(api_key=bool(api_key))
        self.progress = progress or on_terminal
        self.stored_ids = stored_ids
        self.overlap = overlap
        self._sleep = sleep

    # ------------------------------------------------------------ Source protocol

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
        """Every record of `query` that entered PubMed in `window`, plus integrity changes."""
        run = _Run(query.name)
        if not self.email:  # NCBI contacts this address before it blocks a client
            run.warn("NCBI_EMAIL is not set: NCBI asks every client for a contact address")
        start = window.start or query.since
        parts = self._search_parts(query.term, start, window.end, run, baseline=window.baseline)
        stored = set() if window.baseline or not self.stored_ids else set(self.stored_ids(query))
        items: dict[str, Item] = {}
        for part in parts:
            wanted = [pmid for pmid in part.ids if pmid not in stored and pmid not in items]
            progress = self.progress(f"{query.name}: baseline", len(wanted)) if (
                window.baseline and len(wanted) > BATCH
            ) else None  # fmt: skip
            try:
                fetched = self._fetch_part(part, wanted, run, progress)
            finally:
                if progress:
                    progress.close()
            items.update((item.id, item) for item in fetched)
        if not window.baseline and start is not None:
            for item in self._retraction_watch(query, start, window.end, stored, run):
                items[item.id] = item
        return FetchResult(items=list(items.values()), warnings=run.warnings, requests=run.requests)

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]:
        """The newest `limit` records for `terms` (ad hoc: no store, no history server)."""
        run = _Run("search")
        term = _dated(terms, since, today()) if since else terms
        result = self._esearch(term, run, retmax=max(1, limit))
        if result.count == 0 and result.errors:
            raise QuerySyntaxError(f"PubMed could not run {terms!r}: {'; '.join(result.errors)}")
        items = {item.id: item for item in self._fetch_ids(result.ids[:limit], run)}
        return [items[pmid] for pmid in result.ids[:limit] if pmid in items]

    # ------------------------------------------------------------ searching

    def _search_parts(
        self, term: str, start: date | None, end: date, run: _Run, *, baseline: bool
    ) -> list[SearchResult]:
        """esearch the window; halve it by date while a part holds more than 9,999 hits."""
        lo = start or EARLIEST
        result = self._esearch(_dated(term, lo, end), run, retmax=MAX_IDS, history=True)
        self._report_term_problems(term, result, run, baseline=baseline)
        if result.count <= MAX_IDS:
            return [result]
        if lo >= end:  # a day is as small as PubMed's date ranges go
            raise SourceError(
                f"PubMed: {result.count} records entered on {end.isoformat()}, more than the "
                f"{MAX_IDS} one search can list; nothing was fetched and the window stays: "
                "narrow the term",
                query=run.query,
            )
        middle = lo + (end - lo) // 2
        return self._search_parts(term, lo, middle, run, baseline=baseline) + self._search_parts(
            term, middle + timedelta(days=1), end, run, baseline=baseline
        )

    def _report_term_problems(
        self, term: str, result: SearchResult, run: _Run, *, baseline: bool, context: str = ""
    ) -> None:
        """ErrorList/WarningList lines become warnings; a baseline that could not run fails."""
        if baseline and result.count == 0 and result.errors:
            raise QuerySyntaxError(
                f"PubMed could not run the term {term!r}: {'; '.join(result.errors)}",
                query=run.query,
            )
        for message in result.errors + result.warnings:
            run.warn(f"PubMed{context}: {message} (the term ran without it)")

    def _esearch(self, term: str, run: _Run, *, retmax: int, history: bool = False, **extra: str) -> SearchResult:
        params = {"db": "pubmed", "term": term, "retmax": str(retmax), **extra}
        if history:
            params["usehistory"] = "y"
        return self._call("esearch", params, run, parse_esearch)

    # ------------------------------------------------------------ fetching

    def _fetch_part(self, result: SearchResult, wanted: list[str], run: _Run, progress: Progress | None) -> list[Item]:
        """Fetch `wanted` of one part: through the history when it is all of it, else by ID."""
        if not wanted:
            return []
        advance = progress.advance if progress else None
        if wanted == result.ids and result.webenv and result.query_key:
            items: list[Item] = []
            for retstart in range(0, len(wanted), BATCH):
                params = {
                    "db": "pubmed", "retmode": "xml", "WebEnv": result.webenv,
                    "query_key": result.query_key, "retstart": str(retstart),
                    "retmax": str(BATCH),
                }  # fmt: skip
                batch = self._call("efetch", params, run, parse_efetch)
                items.extend(batch)
                if advance:
                    advance(len(batch))
        else:
            items = self._fetch_ids(wanted, run, advance)
        return items + self._stragglers(wanted, items, run)

    def _fetch_ids(self, pmids: Iterable[str], run: _Run, advance: Callable[[int], None] | None = None) -> list[Item]:
        """efetch by ID list, POSTed, at most 200 IDs a request."""
        pmids = list(pmids)
        items: list[Item] = []
        for i in range(0, len(pmids), BATCH):
            params = {"db": "pubmed", "retmode": "xml", "id": ",".join(pmids[i : i + BATCH])}
            batch = self._call("efetch", params, run, parse_efetch, post=True)
            items.extend(batch)
            if advance:
                advance(len(batch))
        return items

    def _stragglers(self, wanted: list[str], got: list[Item], run: _Run) -> list[Item]:
        """Ask once more, by ID, for any PMID a batch did not return; fail if any stays away.

        Failing (retryable) keeps the watermark, so the next run lists and asks again; see
        the module docstring for why no missing PMID counts as permanently unavailable.
        """
        returned = {item.id for item in got}
        missing = [pmid for pmid in wanted if pmid not in returned]
        if not missing:
            return []
        again = self._fetch_ids(missing, run)
        still = sorted(set(missing) - {item.id for item in again})
        if still:
            shown = ", ".join(still[:20]) + (f" and {len(still) - 20} more" if len(still) > 20 else "")
            raise SourceError(
                f"PubMed: {len(still)} PMIDs listed by esearch were not returned by efetch, "
                f"even when asked again: {shown}; the window stays so the next run asks again",
                query=run.query,
                retryable=True,
            )
        return again

    # ------------------------------------------------------------ retraction watch

    def _retraction_watch(self, query: SavedQuery, start: date, end: date, stored: set[str], run: _Run) -> list[Item]:
        """Stored records of this query whose integrity status changed in the window."""
        term = f"({query.term}) AND ({INTEGRITY_FILTER})"
        result = self._esearch(
            term, run, retmax=MAX_IDS, datetype="mdat",
            mindate=_ncbi_date(start), maxdate=_ncbi_date(end),
        )  # fmt: skip
        self._report_term_problems(term, result, run, baseline=False, context=" retraction watch")
        if result.count > MAX_IDS:
            run.warn(f"PubMed retraction watch: {result.count} hits, only {MAX_IDS} checked")
        if not result.ids:
            return []
        hits = self._fetch_ids(result.ids, run)
        if not self.stored_ids:
            return hits  # nothing to compare with: every hit is a candidate
        changed = [item for item in hits if item.id in stored]
        targets = {
            link.pmid for item in hits for link in item.corrections if link.type in NOTICE_LINKS and link.pmid in stored
        } - {item.id for item in changed}
        return changed + self._fetch_ids(sorted(targets), run)

    # ------------------------------------------------------------ one request

    def _call(
        self,
        tool: str,
        params: dict[str, str],
        run: _Run,
        parse: Callable[[bytes], T],
        *,
        post: bool | None = None,
    ) -> T:
        """One E-utilities request: rate-limited, timed out, retried, parsed; or SourceError."""
        cgi = f"{self.base_url}/{tool}.fcgi"
        if not is_web_url(cgi):
            raise SourceError(f"{tool}: {cgi!r} is not a valid http(s) URL (check NCBI_EUTILS_URL)", query=run.query)
        params = {**params, "tool": TOOL}
        if self.email:
            params["email"] = self.email
        if self.api_key:
            params["api_key"] = self.api_key

        def attempt() -> T:
            self.limiter.acquire()
            run.requests += 1
            try:
                request = Entrez._build_request(cgi, dict(params), post=post)
                with _OPENER.open(request, timeout=self.policy.timeout) as response:
                    body = response.read()
            except HTTPError as exc:
                if exc.code == 429 or exc.code >= 500:
                    wait = parse_retry_after(exc.headers.get("Retry-After"))
                    raise TransientError(f"{tool}: HTTP {exc.code}", retry_after=wait) from exc
                raise SourceError(f"{tool}: HTTP {exc.code} {exc.reason}", query=run.query) from exc
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise _transport_failure(tool, cgi, exc, run.query) from exc
            try:
                return parse(body)
            except SourceError as exc:
                if exc.retryable:  # cut in transit or a busy backend: ask again
                    raise TransientError(str(exc)) from exc
                raise SourceError(str(exc), query=run.query) from exc

        try:
            return call_with_retries(attempt, self.policy, sleep=self._sleep)
        except RetriesExhausted as exc:
            raise SourceError(str(exc), query=run.query, retryable=True) from exc


class _WebOnlyRedirects(HTTPRedirectHandler):
    """Follow redirects to http(s) only (urllib would also follow one to ftp://)."""

    def redirect_request(self, req: Request, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Request | None:
        if not is_web_url(newurl):
            raise HTTPError(newurl, code, f"redirect to {newurl!r} refused: only http and https are followed",
                            headers, fp)  # fmt: skip
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = build_opener(_WebOnlyRedirects)


def _transport_failure(tool: str, url: str, exc: Exception, query: str) -> TransientError | SourceError:
    """A request that got no HTTP answer: worth asking again, or bound to fail the same way.

    Dropped or refused connections, timeouts, TLS errors and bodies cut short
    (`http.client.IncompleteRead`) are transient; a malformed URL or one urllib cannot
    open is not, and fails the query at once.
    """
    if isinstance(exc, URLError):
        if isinstance(exc.reason, OSError):  # could not connect: DNS, refused, TLS, timeout
            return TransientError(could_not_connect(tool, url, exc))
        return SourceError(f"{tool}: {exc.reason}", query=query)
    if isinstance(exc, http.client.InvalidURL) or (isinstance(exc, ValueError) and not isinstance(exc, OSError)):
        return SourceError(f"{tool}: bad URL ({exc})", query=query)
    return TransientError(f"{tool}: {type(exc).__name__}: {exc}")


def stored_ids_from(store: StoreView) -> StoredIds:
    """The `stored_ids` hook over a `bot.store.Store`: PMIDs it holds for the saved query."""

    def stored_ids(query: SavedQuery) -> set[str]:
        return store.ids("pubmed", query.name)

    return stored_ids


def _dated(term: str, start: date, end: date) -> str:
    """`term` restricted to records created (CRDT) or MeSH-indexed (MHDA) in [start, end]."""
    lo, hi = _ncbi_date(start), _ncbi_date(end)
    return f'({term}) AND ("{lo}"[crdt] : "{hi}"[crdt] OR "{lo}"[mhda] : "{hi}"[mhda])'


def _ncbi_date(day: date) -> str:
    return day.strftime("%Y/%m/%d")
