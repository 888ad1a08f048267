"""PubMed through NCBI E-utilities: incremental windows, baselines, retraction watch, search.

Routing. Every request goes through the one HTTP stack (`bot.sources.http.Http`: the
shared session, timeouts, deadline and size cap, redirect guards, retries with Retry-After)
to `<base>/esearch.fcgi` and `<base>/efetch.fcgi`, the base from `NCBI_EUTILS_URL`. It sends
what Biopython's `Entrez` would — `tool=litwatch`, `email` (`NCBI_EMAIL`), `api_key`
(`NCBI_API_KEY`), IDs joined by commas, POST for ID lists and long terms — but built here:
Biopython's own functions hard-code NCBI's host, open URLs without a timeout and retry a
429 at once, and the request builder they share is private API. Pacing is the process-wide
`bot.ratelimit.ncbi()` limiter (3 requests/s, 10 with an API key), acquired before every
attempt, retries included.

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

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlencode

from bot import corrections, ratelimit, registry
from bot.config import Environment, SavedQuery, today
from bot.errors import QuerySyntaxError, SourceError
from bot.models import FetchResult, Item, Window
from bot.progress import Progress, ProgressFactory, on_terminal
from bot.ratelimit import RateLimiter
from bot.retry import RetryPolicy, TransientError
from bot.sources.http import Http, status_error, url_hint
from bot.sources.pubmed_xml import PUBMED_URL, SearchResult, parse_efetch_batch, parse_esearch

if TYPE_CHECKING:
    from bot.store import Store

NCBI_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
TOOL = "litwatch"
DEFAULT_OVERLAP = timedelta(days=7)
LONG_QUERY = 1000  # characters of parameters past which a request is POSTed, as Entrez does
MAX_IDS = 9999  # PubMed hands out at most this many IDs of one result
BATCH = 200  # IDs per efetch, NCBI's recommended ceiling
EARLIEST = date(1781, 1, 1)  # older than any PubMed record: "all dates"
# Notice -> the record it concerns (the notice's own link points back at the original).
NOTICE_LINKS = corrections.NOTICE_LINKS
log = logging.getLogger("litwatch")

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
    skipped: set[str] = field(default_factory=set)  # PMIDs whose record could not be read

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
        http: Http | None = None,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        progress: ProgressFactory | None = None,
        stored_ids: StoredIds | None = None,
        overlap: timedelta = DEFAULT_OVERLAP,
        hint: str = "",
    ):
        self.base_url = base_url.rstrip("/")
        self.email = email
        self.api_key = api_key
        self.http = http or Http(policy=policy)
        self.limiter = limiter or ratelimit.ncbi(api_key=bool(api_key))
        self.progress = progress or on_terminal
        self.stored_ids = stored_ids
        self.overlap = overlap
        self.hint = hint  # ends an "unreachable" message: "or NCBI_EUTILS_URL, set to …"
        # The retraction watch's `has…` flags PubMed still accepts (one it rejects is dropped).
        self._watch_flags = list(corrections.WATCH_FLAGS)

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
                batch = self._efetch(params, run)
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
            batch = self._efetch(params, run, post=True)
            items.extend(batch)
            if advance:
                advance(len(batch))
        return items

    def _efetch(self, params: dict[str, str], run: _Run, *, post: bool | None = None) -> list[Item]:
        """One efetch: its readable records; each unreadable one becomes a warning naming it."""
        batch = self._call("efetch", params, run, parse_efetch_batch, post=post)
        for record in batch.skipped:
            run.warn(f"{record.describe()}; the other records were stored")
            run.skipped.add(record.pmid)
        return batch.items

    def _stragglers(self, wanted: list[str], got: list[Item], run: _Run) -> list[Item]:
        """Ask once more, by ID, for any PMID a batch did not return; fail if any stays away.

        Failing (retryable) keeps the watermark, so the next run lists and asks again; see
        the module docstring for why no missing PMID counts as permanently unavailable.
        """
        returned = {item.id for item in got} | run.skipped  # a skipped record came, unreadable
        missing = [pmid for pmid in wanted if pmid not in returned]
        if not missing:
            return []
        again = self._fetch_ids(missing, run)
        still = sorted(set(missing) - {item.id for item in again} - run.skipped)
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
        term = f"({query.term}) AND ({corrections.watch_filter(self._watch_flags)})"
        result = self._esearch(
            term, run, retmax=MAX_IDS, datetype="mdat",
            mindate=_ncbi_date(start), maxdate=_ncbi_date(end),
        )  # fmt: skip
        result = self._drop_rejected_flags(result)
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

    def _drop_rejected_flags(self, result: SearchResult) -> SearchResult:
        """A message of PubMed's that names one of the watch's own flags is PubMed not knowing
        it: drop that flag for good (one log line) instead of warning the user on every run."""
        def ours(message: str) -> list[str]:
            words = set(message.lower().replace(":", " ").replace(",", " ").split())
            return [f for f in self._watch_flags if f in words]

        kept_errors: list[str] = []
        kept_warnings: list[str] = []
        for messages, kept in ((result.errors, kept_errors), (result.warnings, kept_warnings)):
            for message in messages:
                rejected = ours(message)
                if not rejected:
                    kept.append(message)
                for flag in rejected:
                    if flag not in self._watch_flags:
                        continue  # another query's run dropped it meanwhile
                    self._watch_flags.remove(flag)
                    log.info("PubMed does not know the retraction-watch term %r (%s); the watch "
                             "goes on without it", flag, message)
        return dataclasses.replace(result, errors=kept_errors, warnings=kept_warnings)

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
        params = {**params, "tool": TOOL}
        if self.email:
            params["email"] = self.email
        if self.api_key:
            params["api_key"] = self.api_key
        post = post or len(urlencode(params)) > LONG_QUERY

        def attempt() -> T:
            run.requests += 1
            response, body = self.http.once(
                "POST" if post else "GET", f"{self.base_url}/{tool}.fcgi",
                params=None if post else params, data=params if post else None, query=run.query, what=tool,
            )  # fmt: skip
            if response.status_code != 200:
                raise SourceError(status_error(tool, response, body), query=run.query)
            try:
                return parse(body)
            except SourceError as exc:
                if exc.retryable:  # cut in transit or a busy backend: ask again
                    raise TransientError(str(exc)) from exc
                raise SourceError(str(exc), query=run.query) from exc

        return self.http.call(attempt, query=run.query, what=tool, hint=self.hint, before=self.limiter.acquire,
                              url=f"{self.base_url}/{tool}.fcgi")  # fmt: skip


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


class PubMed(registry.SourceSpec):
    """PubMed records (`pmid:<PMID>`), searched with E-utilities."""

    name = "pubmed"
    uid_prefix = "pmid"
    label = "PubMed"
    noun = "publication"
    id_label = "PMID {}"
    query_keys = frozenset({"term"})
    search_scope = "pubmed"
    url_variable = "NCBI_EUTILS_URL"
    default_url = NCBI_EUTILS_URL
    ris_type = "JOUR"
    ris_database = "PubMed"
    registry_records = False
    may_list_registry_records = False
    accession = None  # trials name their publications by PMID in their own records
    naming_fields = ("trial_ids", "abstract")  # DataBank accession numbers, then the text

    def check_query(self, query: SavedQuery, raw: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        if not query.term:
            yield "term", "required for source = 'pubmed'"

    def watched(self, item: Item) -> dict[str, Any]:
        # Publication types and the integrity links (retraction, concern, erratum, update).
        links = sorted(f"{c.type}:{c.pmid or c.ref}" for c in item.corrections
                       if c.type in corrections.WATCHED_LINKS)
        return {"publication_types": sorted(item.publication_types), "links": links}

    def record_url(self, ident: str) -> str:
        return PUBMED_URL.format(pmid=ident)

    def build(self, env: Environment, http: Http, store: Store | None) -> PubMedSource:
        return PubMedSource(env.base_url(self), email=env.ncbi_email, api_key=env.ncbi_api_key, http=http,
                            stored_ids=stored_ids_from(store) if store else None,
                            hint=url_hint(env, self))  # fmt: skip


registry.register(PubMed())
