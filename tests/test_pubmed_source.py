"""The PubMed client against a fake E-utilities on 127.0.0.1 serving the project's own records and,
when present, the real recorded ones (tests/corpus.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import ratelimit
from bot.config import Environment, SavedQuery
from bot.errors import QuerySyntaxError, SourceError
from bot.models import Classification, Item, Window
from bot.pipeline import window_for
from bot.progress import Silent, on_terminal
from bot.ratelimit import RateLimiter
from bot.retry import RetryPolicy
from bot.sources import build_sources
from bot.sources.pubmed import PubMedSource
from bot.sources.pubmed_xml import parse_efetch
from bot.store import QueryState
from tests.conftest import LOCAL_FIXTURES
from tests.corpus import PubMedCorpus
from tests.factories import http_stack
from tests.fakes.eutils import (
    ARTICLE,
    EFETCH_HEAD,
    EFETCH_TAIL,
    INTEGRITY,
    FakeEutils,
    FakeRecord,
    article_pmid,
    renumbered,
)
from tests.fakes.http import Response, closed_port

TODAY = date(2026, 3, 2)
QUERY = SavedQuery(name="exosomes-hair", source="pubmed", term="exosome* AND alopecia")


@pytest.fixture
def articles(pubmed_corpus: PubMedCorpus) -> list[bytes]:
    return pubmed_corpus.articles


@pytest.fixture
def fake() -> Iterator[FakeEutils]:
    with FakeEutils() as server:
        yield server


class Store:
    """The little of the store these tests need: items by PMID, and the pipeline's diff."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    def ids(self, query: SavedQuery) -> set[str]:
        return set(self.items)

    def apply(self, items: list[Item]) -> tuple[list[str], list[str]]:
        """Store `items`; return (new PMIDs, changed PMIDs)."""
        new = [i.id for i in items if i.id not in self.items]
        changed = [i.id for i in items if i.id in self.items and i.to_dict() != self.items[i.id].to_dict()]
        self.items.update((i.id, i) for i in items)
        return new, changed


def records(articles: list[bytes], count: int, crdt: date, first: int = 40_000_000) -> list[FakeRecord]:
    """`count` real records, renumbered from `first`, created on `crdt`."""
    return [
        FakeRecord(str(first + n), renumbered(articles[n % len(articles)], str(first + n)), crdt) for n in range(count)
    ]


def source(fake: FakeEutils, store: Store | None = None, **options: object) -> PubMedSource:
    options.setdefault("limiter", RateLimiter(1000))  # pacing has its own tests
    policy = options.pop("policy", None)
    waits = options.pop("waits", None)
    options["http"] = http_stack(policy, waits)  # type: ignore[arg-type]
    return PubMedSource(
        fake.url,
        email="review-team@example.org",
        stored_ids=store.ids if store else None,
        **options,  # type: ignore[arg-type]
    )


def incremental(since: date, end: date = TODAY) -> Window:
    return Window(start=since, end=end)


BASELINE = Window(start=None, end=TODAY, baseline=True)


# ---------------------------------------------------------------- baseline and increments


def test_baseline_fetches_every_record_through_the_history_server(fake, articles):
    """A first run lists all matches with one esearch and pages efetch through WebEnv."""
    fake.add(records(articles, 450, TODAY - timedelta(days=400)))
    result = source(fake).fetch(QUERY, BASELINE)
    assert len(result.items) == 450 and len({i.id for i in result.items}) == 450
    assert fake.tools() == ["esearch", "efetch", "efetch", "efetch"]
    search, *fetches = fake.requests
    assert search.param("usehistory") == "y" and search.param("retmax") == "9999"
    assert all(f.param("WebEnv") and int(f.param("retmax") or 0) <= 200 for f in fetches)
    assert [f.param("retstart") for f in fetches] == ["0", "200", "400"]
    assert result.requests == 4


def test_every_request_identifies_the_tool_and_goes_to_the_configured_base(fake, articles):
    """Requests reach <base>/esearch.fcgi and efetch.fcgi with tool, email and api_key."""
    fake.add(records(articles, 3, TODAY))
    src = source(fake, api_key="k3y")
    src.fetch(QUERY, BASELINE)
    assert [r.path for r in fake.requests] == [
        "/entrez/eutils/esearch.fcgi",
        "/entrez/eutils/efetch.fcgi",
    ]
    for request in fake.requests:
        assert request.param("tool") == "litwatch"
        assert request.param("email") == "review-team@example.org"
        assert request.param("api_key") == "k3y"
        assert request.param("db") == "pubmed"


def test_window_searches_create_date_or_mesh_date_from_start_to_end(fake, articles):
    """The term sent restricts CRDT or MHDA to the window, both ends included."""
    fake.add(records(articles, 2, TODAY))
    source(fake, Store()).fetch(QUERY, incremental(date(2026, 2, 20)))
    term = fake.requests[0].param("term")
    assert term == (
        '(exosome* AND alopecia) AND ("2026/02/20"[crdt] : "2026/03/02"[crdt] '
        'OR "2026/02/20"[mhda] : "2026/03/02"[mhda])'
    )


def test_new_records_then_nothing_new_then_a_late_indexed_one(fake, articles):
    """Baseline; 5 new records alert; a no-change run costs 2 requests; a late record is caught."""
    store = Store()
    fake.add(records(articles, 40, TODAY - timedelta(days=100)))
    src = source(fake, store)
    new, _ = store.apply(src.fetch(QUERY, BASELINE).items)
    assert len(new) == 40

    # Day 1: five records enter PubMed.
    day1 = TODAY - timedelta(days=10)
    fake.add(records(articles, 5, day1, first=41_000_000))
    before = len(fake.requests)
    result = src.fetch(QUERY, incremental(day1 - timedelta(days=7), day1))
    new, changed = store.apply(result.items)
    assert sorted(new) == [str(41_000_000 + n) for n in range(5)] and changed == []
    assert fake.requests[before + 1].param("WebEnv")  # every hit is new: page the history

    # Day 2: nothing new. One esearch for the window, one for the retraction watch.
    day2 = day1 + timedelta(days=1)
    before = len(fake.requests)
    result = src.fetch(QUERY, incremental(day2 - timedelta(days=7), day2))
    assert result.items == [] and result.requests == 2
    assert fake.tools()[before:] == ["esearch", "esearch"]

    # Day 3: a record created on day 0 only now becomes visible; the overlap catches it.
    late = records(articles, 1, day1 - timedelta(days=1), first=42_000_000)
    fake.add(late)
    day3 = day2 + timedelta(days=1)
    new, _ = store.apply(src.fetch(QUERY, incremental(day3 - timedelta(days=7), day3)).items)
    assert new == ["42000000"]


def test_record_matching_only_after_mesh_indexing_is_caught_by_its_mesh_date(fake, articles):
    """Created 60 days ago, MeSH-indexed today: inside the window by MHDA, so fetched."""
    store = Store()
    src = source(fake, store)
    indexed = records(articles, 1, TODAY - timedelta(days=60))[0]
    indexed.mhda = TODAY
    fake.add([indexed, *records(articles, 1, TODAY - timedelta(days=60), first=43_000_000)])
    new, _ = store.apply(src.fetch(QUERY, incremental(TODAY - timedelta(days=7))).items)
    assert new == [indexed.pmid]


def test_records_stored_under_the_query_are_not_fetched_again(fake, articles):
    """Overlap hits already stored cost no efetch; only the unknown ones are fetched."""
    store = Store()
    src = source(fake, store)
    fake.add(records(articles, 10, TODAY - timedelta(days=3)))
    store.apply(src.fetch(QUERY, BASELINE).items)
    fake.add(records(articles, 2, TODAY, first=44_000_000))
    before = len(fake.requests)
    result = src.fetch(QUERY, incremental(TODAY - timedelta(days=7)))
    assert sorted(i.id for i in result.items) == ["44000000", "44000001"]
    assert fake.tools()[before:] == ["esearch", "efetch", "esearch"]
    assert fake.requests[before + 1].param("id") == "44000001,44000000"


def test_query_since_bounds_the_baseline(fake, articles):
    """A baseline of a query with `since` starts its window there."""
    fake.add(records(articles, 3, date(2023, 1, 1)) + records(articles, 2, date(2025, 1, 1), 45_000_000))
    query = SavedQuery(name="q", source="pubmed", term="x", since=date(2024, 6, 1))
    result = source(fake).fetch(query, BASELINE)
    assert sorted(i.id for i in result.items) == ["45000000", "45000001"]
    assert '"2024/06/01"[crdt]' in (fake.requests[0].param("term") or "")


# ---------------------------------------------------------------- volume


@pytest.mark.slow
def test_more_than_9999_hits_are_split_by_date_until_every_part_fits(fake, articles):
    """10,050 hits over 40 days: the window is halved, and no record is lost."""
    start = TODAY - timedelta(days=39)
    plain = [a for a in articles if not INTEGRITY.search(a)]  # keep the retraction watch quiet
    many = [
        FakeRecord(str(50_000_000 + n), renumbered(plain[n % len(plain)], str(50_000_000 + n)),
                   start + timedelta(days=n % 40))
        for n in range(10_050)
    ]  # fmt: skip
    fake.add(many)
    unseen = {r.pmid for r in many[::503]}  # 20 records spread over every day slot
    store = Store()
    store.items = {r.pmid: Item("pubmed", r.pmid, "stored") for r in many if r.pmid not in unseen}
    result = source(fake, store).fetch(QUERY, incremental(start))
    assert {i.id for i in result.items} == unseen
    searches = [r for r in fake.requests if r.path.endswith("esearch.fcgi")]
    assert len(searches) == 4  # whole window, two halves, retraction watch
    assert result.warnings == []


@pytest.mark.slow
def test_a_single_day_over_the_limit_fails_the_fetch_naming_the_day(fake, articles):
    """Regression (over-9,999 day only warned, watermark moved): one day PubMed cannot list whole fails the fetch."""
    many = records(articles, 10_000, TODAY, first=60_000_000)
    fake.add(many)
    store = Store()
    store.items = {r.pmid: Item("pubmed", r.pmid, "stored") for r in many}
    with pytest.raises(SourceError) as caught:
        source(fake, store).fetch(QUERY, incremental(TODAY, TODAY))
    message = str(caught.value)
    assert "more than the 9999" in message and TODAY.isoformat() in message and "narrow the term" in message
    assert caught.value.query == "exosomes-hair" and not caught.value.retryable
    assert "efetch" not in fake.tools()


def test_a_pmid_efetch_does_not_return_is_asked_again_then_fails_the_fetch(fake, articles):
    """Regression (straggler only warned, watermark moved): a listed PMID efetch still omits on the re-ask fails the fetch, named."""
    fake.add(records(articles, 5, TODAY))
    fake.withheld = {"40000002"}
    with pytest.raises(SourceError) as caught:
        source(fake).fetch(QUERY, BASELINE)
    assert fake.tools() == ["esearch", "efetch", "efetch"]
    assert fake.requests[2].param("id") == "40000002"
    message = str(caught.value)
    assert "40000002" in message and "not returned" in message
    assert caught.value.retryable and caught.value.query == "exosomes-hair"


# ---------------------------------------------------------------- faults


def test_429_storm_is_retried_after_the_servers_retry_after(fake, articles, pubmed_corpus):
    """Three 429s (recorded body, Retry-After: 1) are waited out, never retried at once."""
    fake.add(records(articles, 3, TODAY))
    fake.fail(429, 3, retry_after="1", body=pubmed_corpus.rate_limit_body)
    sleeps: list[float] = []
    policy = RetryPolicy(timeout=5, attempts=5, base_delay=0.01, max_delay=5, total=60)
    result = source(fake, policy=policy, waits=sleeps).fetch(QUERY, BASELINE)
    assert len(result.items) == 3
    assert len(fake.requests) == 5 and result.requests == 5  # 3 refused + esearch + efetch
    assert len(sleeps) == 3 and all(s >= 1.0 for s in sleeps)


def test_429_storm_that_outlasts_the_retries_fails_the_query(fake, articles, pubmed_corpus):
    """When every attempt is refused the fetch raises a retryable SourceError naming the query."""
    fake.add(records(articles, 3, TODAY))
    fake.fail(429, 10, retry_after="0", body=pubmed_corpus.rate_limit_body)
    with pytest.raises(SourceError, match="exosomes-hair: gave up after 4 attempts") as caught:
        source(fake).fetch(QUERY, BASELINE)
    assert caught.value.retryable and caught.value.query == "exosomes-hair"
    assert len(fake.requests) == 4


def test_a_retry_after_longer_than_the_policy_allows_fails_without_retrying_early(fake, articles, pubmed_corpus):
    """Regression (Retry-After capped at max_delay): NCBI asking for 120 s is not retried after 5 s; the error says so."""
    fake.add(records(articles, 3, TODAY))
    fake.fail(429, 1, retry_after="120", body=pubmed_corpus.rate_limit_body)
    sleeps: list[float] = []
    policy = RetryPolicy(timeout=5, attempts=5, base_delay=0.01, max_delay=5, total=60)
    with pytest.raises(SourceError, match="asked to wait 120 s") as caught:
        source(fake, policy=policy, waits=sleeps).fetch(QUERY, BASELINE)
    assert caught.value.retryable and caught.value.query == "exosomes-hair"
    assert sleeps == [] and len(fake.requests) == 1


def test_server_errors_are_retried_with_backoff(fake, articles):
    """Two 500s on efetch, then success: all records, backoff pauses grow."""
    fake.add(records(articles, 3, TODAY))
    fake.fail(500, 2, tool="efetch")
    sleeps: list[float] = []
    policy = RetryPolicy(timeout=5, attempts=4, base_delay=0.01, max_delay=1, total=30, jitter=0)
    result = source(fake, policy=policy, waits=sleeps).fetch(QUERY, BASELINE)
    assert len(result.items) == 3 and sleeps == [0.01, 0.02]


def test_a_slow_answer_times_out_and_is_retried(fake, articles):
    """An answer slower than the policy's timeout is abandoned and asked again."""
    fake.add(records(articles, 2, TODAY))
    fake.fail(200, 1, delay=1.0, tool="esearch")
    policy = RetryPolicy(timeout=0.3, attempts=3, base_delay=0.001, max_delay=0.01, total=30)
    result = source(fake, policy=policy).fetch(QUERY, BASELINE)
    assert len(result.items) == 2 and fake.tools()[:2] == ["esearch", "esearch"]


def test_a_truncated_body_once_is_fetched_again(fake, articles):
    """An efetch body cut in half is not a short result: it is requested again."""
    fake.add(records(articles, 3, TODAY))
    fake.truncate(1, tool="efetch")
    result = source(fake).fetch(QUERY, BASELINE)
    assert len(result.items) == 3 and fake.tools() == ["esearch", "efetch", "efetch"]


def test_truncated_bodies_every_time_fail_the_query(fake, articles):
    """A body that is always truncated fails the fetch instead of returning fewer items."""
    fake.add(records(articles, 3, TODAY))
    fake.truncate(10, tool="efetch")
    with pytest.raises(SourceError, match="truncated"):
        source(fake).fetch(QUERY, BASELINE)


def test_a_client_error_is_not_retried(fake, articles):
    """HTTP 400 is the request's fault: one attempt, then SourceError, not retryable."""
    fake.fail(400, 5)
    with pytest.raises(SourceError, match="HTTP 400") as caught:
        source(fake).fetch(QUERY, BASELINE)
    assert not caught.value.retryable and len(fake.requests) == 1


def test_a_body_shorter_than_its_length_is_retried(fake, articles):
    """Regression (urllib escapes): a connection closed mid-body (IncompleteRead) is asked again."""
    fake.add(records(articles, 2, TODAY))
    body = b"<?xml version='1.0'?><PubmedArticleSet>" + b" " * 1000 + b"</PubmedArticleSet>"
    fake.faults.append(("efetch", Response(200, body, cut_at=40)))
    result = source(fake).fetch(QUERY, BASELINE)
    assert len(result.items) == 2 and fake.tools() == ["esearch", "efetch", "efetch"]


def test_tls_trouble_is_retried_then_a_retryable_error(fake):
    """Regression (urllib escapes): an ssl error (https to a plain-http server) is retried, then a SourceError."""
    client = source(fake, policy=RetryPolicy.fast(2))
    client.base_url = fake.url.replace("http://", "https://")
    with pytest.raises(SourceError, match="SSL") as caught:
        client.fetch(QUERY, BASELINE)
    assert caught.value.retryable and caught.value.query == "exosomes-hair"


@pytest.mark.parametrize("base", ["eutils.example.org/entrez", "http://[::1/entrez", "http://127.0.0.1:port/entrez"])
def test_a_malformed_base_url_fails_the_query_at_once(base):
    """Regression (urllib escapes): a base URL urllib rejects (ValueError, InvalidURL) is a SourceError, not a crash."""
    client = PubMedSource(base, email="a@example.org", limiter=RateLimiter(1000), policy=RetryPolicy.fast())
    with pytest.raises(SourceError) as caught:
        client.fetch(QUERY, BASELINE)
    assert caught.value.query == "exosomes-hair" and not caught.value.retryable


def test_a_file_base_url_is_refused_before_any_request():
    """Regression (urllib opens file:// too): NCBI_EUTILS_URL must be http(s); no local file is read."""
    client = PubMedSource("file:///etc", email="a@example.org", limiter=RateLimiter(1000), policy=RetryPolicy.fast())
    with pytest.raises(SourceError, match=r"'file:///etc/esearch.fcgi' is not a valid http\(s\) URL"):
        client.fetch(QUERY, BASELINE)


def test_a_redirect_to_ftp_is_refused(fake):
    """Regression (urllib follows ftp:// redirects): a redirect outside http(s) fails the query, not followed."""
    fake.fail(302, 1)
    fake.faults[-1][1].headers["Location"] = "ftp://127.0.0.1:1/esearch.fcgi"  # type: ignore[union-attr]
    with pytest.raises(SourceError, match="only http and https redirects are followed") as caught:
        source(fake).fetch(QUERY, BASELINE)
    assert not caught.value.retryable and len(fake.requests) == 1


# ---------------------------------------------------------------- query problems


def test_phrase_not_found_is_surfaced_as_a_warning(fake, articles):
    """esearch's PhraseNotFound comes back in FetchResult.warnings; the rest still ran."""
    fake.add(records(articles, 2, TODAY))
    fake.not_found = {"fleegle"}
    query = SavedQuery(name="typo", source="pubmed", term="exosome AND fleegle")
    result = source(fake).fetch(query, BASELINE)
    assert len(result.items) == 2
    assert result.warnings == ["PubMed: PhraseNotFound: fleegle (the term ran without it)"]


def test_a_baseline_that_found_nothing_because_of_the_term_is_a_query_error(fake, articles):
    """Zero hits plus an ErrorList on a baseline raises QuerySyntaxError naming the phrase."""
    fake.not_found = {"fleegle"}
    query = SavedQuery(name="typo", source="pubmed", term="fleegle")
    with pytest.raises(QuerySyntaxError, match="typo: PubMed could not run the term 'fleegle'"):
        source(fake).fetch(query, BASELINE)


def test_missing_email_is_reported_once(fake, articles):
    """Without NCBI_EMAIL the run works and says, once, that NCBI asks for it."""
    fake.add(records(articles, 2, TODAY))
    src = PubMedSource(fake.url, policy=RetryPolicy.fast(), limiter=RateLimiter(1000))
    result = src.fetch(QUERY, BASELINE)
    assert len(result.items) == 2
    assert [w for w in result.warnings if "NCBI_EMAIL" in w] == [result.warnings[0]]
    assert all(r.param("email") is None for r in fake.requests)


# ---------------------------------------------------------------- retraction watch


def test_stored_record_that_gets_retracted_comes_back_changed(fake, pubmed_corpus):
    """A stored study later retracted is refetched by the watch and diffs as changed."""
    store = Store()
    src = source(fake, store)
    original = pubmed_corpus.plain
    pmid = "46000000"
    fake.add([FakeRecord(pmid, renumbered(original, pmid), TODAY - timedelta(days=300))])
    store.apply(src.fetch(QUERY, BASELINE).items)
    assert store.items[pmid].corrections == ()

    fake.add([FakeRecord(pmid, renumbered(pubmed_corpus.retracted, pmid), TODAY - timedelta(days=300), mdat=TODAY)])
    before = len(fake.requests)
    result = src.fetch(QUERY, incremental(TODAY - timedelta(days=7)))
    new, changed = store.apply(result.items)
    assert new == [] and changed == [pmid]
    assert [c.type for c in store.items[pmid].corrections] == ["RetractionIn"]
    watch = fake.requests[before + 1]
    assert watch.param("datetype") == "mdat" and watch.param("mindate") == "2026/02/23"
    assert '"retracted publication"[pt]' in (watch.param("term") or "")
    assert fake.tools()[before:] == ["esearch", "esearch", "efetch"]


def test_erratum_notice_brings_back_the_stored_record_it_corrects(fake, pubmed_corpus):
    """An erratum notice matching the term leads to refetching the stored record it names."""
    store = Store()
    src = source(fake, store)
    notice = pubmed_corpus.erratum_notice
    target = pubmed_corpus.erratum_target  # the notice's ErratumFor
    corrected = pubmed_corpus.corrected
    old = corrected.split(b"<CommentsCorrectionsList>")[0] + corrected.split(b"</CommentsCorrectionsList>")[1]
    store.items[target] = records_from(old, target)[0]
    fake.add([
        FakeRecord(article_pmid(notice), notice, TODAY - timedelta(days=20), mdat=TODAY),
        FakeRecord(target, renumbered(corrected, target), date(2021, 1, 1), mdat=TODAY,
                   matches=False),
    ])  # fmt: skip
    result = src.fetch(QUERY, incremental(TODAY - timedelta(days=7)))
    _, changed = store.apply(result.items)
    assert changed == [target]
    assert [c.type for c in store.items[target].corrections] == ["ErratumIn"]


def test_watch_hits_outside_the_store_are_not_reported(fake, pubmed_corpus):
    """An integrity hit the store never held is left to the normal window, not reported."""
    store = Store()
    retracted = pubmed_corpus.retracted
    fake.add([FakeRecord(article_pmid(retracted), retracted, date(1975, 6, 1), mdat=TODAY)])
    result = source(fake, store).fetch(QUERY, incremental(TODAY - timedelta(days=7)))
    assert result.items == [] and fake.tools() == ["esearch", "esearch", "efetch"]


def test_baseline_runs_no_retraction_watch(fake, articles):
    """A baseline already fetches every record as it is now: no watch request."""
    fake.add(records(articles, 2, TODAY))
    source(fake, Store()).fetch(QUERY, BASELINE)
    assert fake.tools() == ["esearch", "efetch"]


# ---------------------------------------------------------------- ad hoc search


def test_search_returns_the_newest_records_first_without_history(fake, articles):
    """Ad hoc search: top N newest, one esearch without usehistory, one efetch."""
    fake.add(records(articles, 30, TODAY))
    items = source(fake).search("exosome alopecia", limit=5)
    assert [i.id for i in items] == [str(40_000_029 - n) for n in range(5)]
    assert fake.tools() == ["esearch", "efetch"]
    assert fake.requests[0].param("usehistory") is None
    assert fake.requests[0].param("retmax") == "5"


def test_search_since_reads_the_one_clock(fake, articles, monkeypatch):
    """`since` restricts by create date up to today as LITWATCH_NOW pins it."""
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-02T08:00:00+00:00")
    fake.add(records(articles, 2, date(2026, 1, 1)) + records(articles, 1, date(2026, 3, 1), 47_000_000))
    items = source(fake).search("exosome", since=date(2026, 2, 1))
    assert [i.id for i in items] == ["47000000"]
    assert '"2026/02/01"[crdt] : "2026/03/02"[crdt]' in (fake.requests[0].param("term") or "")


def test_search_with_an_unknown_phrase_and_no_hits_is_a_query_error(fake):
    """An ad hoc search that found nothing because a phrase is unknown says which."""
    fake.not_found = {"fleegle"}
    with pytest.raises(QuerySyntaxError, match="fleegle"):
        source(fake).search("fleegle")


# ---------------------------------------------------------------- politeness


def test_shared_limiter_keeps_concurrent_clients_under_three_per_second(fake, articles):
    """Three threads searching at once through the process-wide limiter: no violation."""
    fake.add(records(articles, 3, TODAY))
    limiter = RateLimiter(ratelimit.NCBI_RATE, ratelimit.SAFETY_MARGIN)
    clients = [source(fake, limiter=limiter) for _ in range(3)]
    threads = [threading.Thread(target=lambda c=c: [c.search("x", limit=2) for _ in range(2)]) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.requests) == 12 and fake.violations == 0


def test_without_a_limiter_the_fake_counts_violations(fake, articles):
    """The fake's sliding-window counter sees a burst that ignores the limit."""
    fake.add(records(articles, 1, TODAY))
    src = source(fake)  # unlimited
    for _ in range(3):
        src.search("x", limit=1)
    assert fake.violations >= 1


def test_the_ncbi_limiter_is_one_per_process_and_faster_with_a_key():
    """Every client without a key shares one 3/s limiter; with a key, one 10/s limiter."""
    plain = PubMedSource("http://127.0.0.1:9", email="a@b.c")
    other = PubMedSource("http://127.0.0.1:9", email="d@e.f")
    keyed = PubMedSource("http://127.0.0.1:9", api_key="k")
    assert plain.limiter is other.limiter and plain.limiter.rate == 3
    assert keyed.limiter is not plain.limiter and keyed.limiter.rate == 10


def test_rate_limiter_spaces_a_burst_into_windows():
    """Seven immediate acquisitions at 3 per 1.0 s wait 0,0,0,1,1,1,2 seconds."""
    now = [0.0]
    waits: list[float] = []
    limiter = RateLimiter(3, 1.0, clock=lambda: now[0], sleep=waits.append)
    for _ in range(7):
        limiter.acquire()
    assert waits == [1.0, 1.0, 1.0, 2.0]


# ---------------------------------------------------------------- wiring


def test_progress_is_shown_for_a_cold_baseline_only(fake, articles):
    """A baseline of 450 reports progress to 450; an incremental run reports none."""
    calls: list[tuple[str, int]] = []
    advanced: list[int] = []
    closed: list[bool] = []

    class Recorder:
        def advance(self, done: int) -> None:
            advanced.append(done)

        def close(self) -> None:
            closed.append(True)

    def factory(label: str, total: int) -> Recorder:
        calls.append((label, total))
        return Recorder()

    fake.add(records(articles, 450, TODAY))
    src = source(fake, Store(), progress=factory)
    src.fetch(QUERY, BASELINE)
    assert calls == [("exosomes-hair: baseline", 450)] and sum(advanced) == 450 and closed
    src.fetch(QUERY, incremental(TODAY - timedelta(days=7)))
    assert len(calls) == 1


def test_progress_is_silent_without_a_terminal():
    """Under pytest (no TTY) the default progress prints nothing."""
    assert isinstance(on_terminal("x", 10), Silent)


def test_overlap_is_seven_days_unless_the_query_says_otherwise():
    """The source's overlap is 7 days; a query's overlap_days overrides it."""
    src = PubMedSource("http://127.0.0.1:9")
    assert src.overlap == timedelta(days=7)
    state = QueryState(watermark=TODAY)
    assert TODAY - window_for(QUERY, state, src, TODAY).start == timedelta(days=7)
    custom = SavedQuery(name="q", source="pubmed", term="x", overlap_days=30)
    assert TODAY - window_for(custom, state, src, TODAY).start == timedelta(days=30)


def test_build_sources_gives_pubmed_the_url_email_and_key_of_the_environment_object():
    """The CLI's Environment decides where and as whom the source talks."""
    env = Environment.from_env(
        {"NCBI_EUTILS_URL": "http://mirror.example/eutils/", "NCBI_EMAIL": "x@y.z",
         "NCBI_API_KEY": "secret"}
    )  # fmt: skip
    src = build_sources(env)["pubmed"]
    assert isinstance(src, PubMedSource)
    assert (src.base_url, src.email, src.api_key) == (
        "http://mirror.example/eutils",
        "x@y.z",
        "secret",
    )
    assert src.limiter.rate == 10


# ---------------------------------------------------------------- helpers


def records_from(xml: bytes, pmid: str) -> list[Item]:
    return parse_efetch(EFETCH_HEAD + renumbered(xml, pmid) + EFETCH_TAIL)


# ---------------------------------------------------------------- with the pipeline


def pipeline(fake: FakeEutils, tmp_path: Path) -> tuple[Any, Callable[[], Any]]:
    """A real in-memory store and `run()`: the test config's `pm` query through run_query against `fake`."""
    from bot.config import load_settings
    from bot.pipeline import run_query
    from bot.sources.pubmed import stored_ids_from
    from bot.store import Store
    from tests.factories import context, write_config

    settings = load_settings(write_config(tmp_path))
    query = settings.query("pm")
    assert query is not None
    store = Store.memory()
    src = source(fake)
    src.stored_ids = stored_ids_from(store)

    def run() -> Any:
        return run_query(query, context(settings, store, {"pubmed": src}, classify=integrity_rule))

    return store, run


def test_pipeline_end_to_end_baseline_retraction_and_a_failed_run(fake, articles, pubmed_corpus, tmp_path,
                                                                 monkeypatch):
    """Through run_query and a real store: baseline, a retraction alert, then a 429 storm
    that fails the run and leaves the watermark where it was."""
    store, run = pipeline(fake, tmp_path)
    pmid = "48000000"
    fake.add([FakeRecord(pmid, renumbered(pubmed_corpus.plain, pmid), date(2025, 6, 1))])
    fake.add(records(articles, 9, date(2025, 7, 1), first=48_000_001))

    monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
    first = run()
    assert first.baseline and first.new == 10 and not first.failed

    xml = renumbered(pubmed_corpus.retracted, pmid)
    fake.add([FakeRecord(pmid, xml, date(2025, 6, 1), mdat=date(2026, 3, 2))])
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-02T06:00:00+00:00")
    second = run()
    assert (second.new, second.changed) == (0, 1)
    assert any(n.kind == "integrity" for n in store.pending())

    fake.fail(429, 10, retry_after="0", body=pubmed_corpus.rate_limit_body)
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-03T06:00:00+00:00")
    third = run()
    assert third.failed and "HTTP 429" in (third.error or "")
    assert store.query_state("pm").watermark == date(2026, 3, 2)


def test_a_straggler_is_fetched_by_the_next_run_through_the_pipeline(fake, articles, tmp_path, monkeypatch):
    """Regression (baseline straggler lost for good): the failed baseline keeps no watermark; the next run stores all five."""
    store, run = pipeline(fake, tmp_path)
    fake.add(records(articles, 5, date(2025, 7, 1)))
    fake.withheld = {"40000002"}
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
    first = run()
    assert first.failed and "40000002" in (first.error or "")
    assert store.query_state("pm").watermark is None and store.get("pmid:40000001") is None
    fake.withheld = set()
    second = run()
    assert second.baseline and second.new == 5 and not second.failed
    assert store.get("pmid:40000002") is not None


def test_one_malformed_record_is_skipped_by_name_and_the_others_stored(fake, tmp_path, monkeypatch):
    """Regression (issue 14, finding 5: invalid bytes in one record failed every run with no
    PMID named, 0 of 10 good records stored): the run succeeds, stores the ten good records
    and warns naming the broken record's PMID."""
    handmade = ARTICLE.findall((LOCAL_FIXTURES / "pubmed_medlinedate_handmade.xml").read_bytes())[0]
    good = [FakeRecord(str(41_000_000 + n), renumbered(handmade, str(41_000_000 + n)), date(2025, 7, 1))
            for n in range(10)]  # fmt: skip
    broken = renumbered(handmade, "41000099").replace(b"</ArticleTitle>", b"\xff\x01</ArticleTitle>")
    fake.add([*good, FakeRecord("41000099", broken, date(2025, 7, 1))])
    store, run = pipeline(fake, tmp_path)
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
    report = run()
    assert not report.failed and report.new == 10
    assert all(store.get(f"pmid:{record.pmid}") for record in good) and store.get("pmid:41000099") is None
    assert any("PMID 41000099" in warning and "skipped" in warning for warning in report.warnings)
    assert "PMID 41000099" in " ".join(store.query_state("pm").warnings)


def integrity_rule(item: Item) -> Classification:
    """Test classifier: a retracted publication is an integrity signal."""
    retracted = "Retracted Publication" in item.publication_types
    return Classification(integrity=retracted, reasons=("test rule",))


def test_unreachable_eutils_reads_like_the_other_sources():
    """A refused connection reads "esearch could not connect to <host>: <cause>", as the
    ClinicalTrials.gov and feed clients say it (one HTTP stack), and stays retryable."""
    unreachable = PubMedSource(f"http://127.0.0.1:{closed_port()}/entrez/eutils", email="review-team@example.org",
                               limiter=RateLimiter(1000),
                               policy=RetryPolicy.fast(attempts=2))  # fmt: skip
    with pytest.raises(SourceError) as caught:
        unreachable.fetch(QUERY, BASELINE)
    message = caught.value.message
    assert message.startswith("esearch could not connect to 127.0.0.1: Failed to establish a new connection: "
                              "[Errno 111] Connection refused; check the network or proxy")
    assert "urlopen error" not in message and caught.value.retryable


def test_watch_drops_a_flag_pubmed_rejects_without_warning_every_run(fake, caplog):
    """Issue 10: a has… flag PubMed does not know is dropped with one log line, not a query warning per run."""
    fake.not_found = {"haspartialretractionin"}
    src = source(fake, Store())
    with caplog.at_level("INFO", logger="litwatch"):
        first = src.fetch(QUERY, incremental(TODAY - timedelta(days=7)))
        second = src.fetch(QUERY, incremental(TODAY - timedelta(days=7)))
    assert not [w for w in first.warnings + second.warnings if "haspartialretractionin" in w]
    terms = [r.param("term") or "" for r in fake.requests if r.param("datetype") == "mdat"]
    assert "haspartialretractionin" in terms[0] and "haspartialretractionin" not in terms[1]
    assert '"retraction of publication"[pt]' in terms[1]
    dropped = [r for r in caplog.records if "haspartialretractionin" in r.getMessage()]
    assert len(dropped) == 1
