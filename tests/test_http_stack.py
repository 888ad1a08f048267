"""The shared HTTP stack as the sources use it: fail fast, say why (issue 12 item 3), PubMed on it."""

from __future__ import annotations

import contextlib
import io
import socket
import sys
from datetime import date

import pytest
import requests
import urllib3

from bot.config import Environment, SavedQuery
from bot.errors import SourceError
from bot.models import Window
from bot.progress import retry_on_terminal
from bot.ratelimit import RateLimiter
from bot.retry import Retry, RetryPolicy, TransientError
from bot.sources import build_sources
from bot.sources.http import Http, cannot_reach
from bot.sources.pubmed import PubMedSource
from tests.conftest import LOCAL_FIXTURES
from tests.factories import http_stack
from tests.fakes.eutils import ARTICLE, FakeEutils, FakeRecord, article_pmid
from tests.fakes.http import FakeServer, Response, closed_port

BASELINE = Window(start=None, end=date(2026, 3, 1), baseline=True)


def test_a_refused_connection_is_asked_once_more_quickly_then_named() -> None:
    """Regression (issue 12: a refused connection was retried 5 times, ~15 s a query): two attempts,
    half a second apart at most, then an error naming the host and what to check."""
    waits: list[float] = []
    port = closed_port()
    with pytest.raises(SourceError) as caught:
        http_stack(RetryPolicy(), waits).get(f"http://127.0.0.1:{port}/rss.xml", query="safety", what="feed")
    assert waits == [0.5]  # one quick retry, not 1 s, 2 s, 4 s, 8 s
    assert str(caught.value) == (
        "safety: feed could not connect to 127.0.0.1: Failed to establish a new connection: "
        "[Errno 111] Connection refused; check the network or proxy"
    )
    assert caught.value.retryable  # the next run tries again


def test_a_busy_server_is_still_retried_in_full() -> None:
    """A 503 is not an unreachable host: it gets every attempt of the policy."""
    waits: list[float] = []
    with FakeServer(lambda r: Response(503, "busy")) as server, pytest.raises(SourceError, match="gave up after 5 attempts"):
        http_stack(RetryPolicy(jitter=0), waits).get(server.url + "/studies", query="trials", what="ClinicalTrials.gov")
    assert waits == [1.0, 2.0, 4.0, 8.0] and len(server.requests) == 5


def test_an_unreachable_source_names_the_url_variable_the_operator_set() -> None:
    """With NCBI_EUTILS_URL set, the message says to check it too, with its value."""
    base = f"http://127.0.0.1:{closed_port()}/eutils"
    env = Environment.from_env({"NCBI_EUTILS_URL": base, "NCBI_EMAIL": "team@example.org"})
    pubmed = build_sources(env, http_stack())["pubmed"]
    with pytest.raises(SourceError) as caught:
        pubmed.fetch(SavedQuery(name="pm", source="pubmed", term="x"), BASELINE)
    assert str(caught.value).endswith(f"; check the network or proxy, or NCBI_EUTILS_URL, which is set to {base}")


def test_a_name_that_does_not_resolve_counts_as_unreachable() -> None:
    """A DNS failure (urllib3's NameResolutionError inside requests' ConnectionError) is unreachable; a reset is not."""
    resolution = urllib3.exceptions.NameResolutionError(
        "eutils.example", None, socket.gaierror(-2, "Name or service not known"))  # type: ignore[arg-type]
    wrapped = urllib3.exceptions.MaxRetryError(None, "/", resolution)  # type: ignore[arg-type]
    assert cannot_reach(requests.ConnectionError(wrapped))
    assert not cannot_reach(requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_retry_on_a_terminal_says_when_and_which_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12 item 3: a wait of a second or more shows "retrying in N s (attempt k of n)" on a terminal; shorter ones stay quiet."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    retry_on_terminal(Retry("esearch", 3, 5, 8.2, TransientError("esearch answered HTTP 503 Service Unavailable")))
    retry_on_terminal(Retry("esearch", 2, 5, 0.3, TransientError("esearch answered HTTP 503 Service Unavailable")))
    assert terminal.getvalue() == "esearch answered HTTP 503 Service Unavailable; retrying in 8 s (attempt 3 of 5)\n"


def test_the_shared_stack_reports_each_retry_it_waits_for() -> None:
    """Http hands every retry to its report: the terminal line comes from the same numbers the wait uses."""
    seen: list[Retry] = []
    answers = [Response(429, "", {"Retry-After": "3"}), Response(200, "ok")]
    with FakeServer(lambda r: answers.pop(0)) as server:
        fetched = Http(policy=RetryPolicy(), report=seen.append).get(server.url + "/f.xml", what="feed")
    assert fetched.body == b"ok" and [(r.attempt, r.attempts, r.delay) for r in seen] == [(2, 5, 3.0)]
    assert str(seen[0]) == "feed answered HTTP 429 Too Many Requests; retrying in 3 s (attempt 2 of 5)"


def handmade_records() -> list[FakeRecord]:
    """The project's own hand-made PubMed records, as the fake E-utilities serves them."""
    xml = (LOCAL_FIXTURES / "pubmed_medlinedate_handmade.xml").read_bytes()
    return [FakeRecord(article_pmid(a), a, date(2026, 2, 27)) for a in ARTICLE.findall(xml)]


def test_pubmed_speaks_e_utilities_through_the_shared_stack() -> None:
    """PubMed's requests, built without Biopython's private request builder, carry tool, email and api_key,
    GET a short search, POST an ID list and a long term, and are paced by the NCBI limiter."""
    paced: list[float] = []

    class Counting(RateLimiter):
        def acquire(self) -> float:
            paced.append(super().acquire())
            return paced[-1]

    with FakeEutils() as fake:
        fake.add(handmade_records())
        pubmed = PubMedSource(fake.url, email="team@example.org", api_key="k3y", http=http_stack(),
                              limiter=Counting(1000))  # fmt: skip
        found = pubmed.search("exosome", limit=5)
        long_term = " OR ".join(["exosome"] * 200)
        pubmed.search(long_term, limit=5)
    assert sorted(i.id for i in found) == ["100001", "100002"]
    methods = [(r.path.rsplit("/", 1)[1], r.method) for r in fake.requests]
    assert methods == [("esearch.fcgi", "GET"), ("efetch.fcgi", "POST"), ("esearch.fcgi", "POST"), ("efetch.fcgi", "POST")]
    assert all((r.param("tool"), r.param("email"), r.param("api_key")) == ("litwatch", "team@example.org", "k3y")
               for r in fake.requests)  # fmt: skip
    assert sorted((fake.requests[1].param("id") or "").split(",")) == ["100001", "100002"]
    assert len(paced) == len(fake.requests)


def test_a_connection_nobody_answers_is_unreachable_too() -> None:
    """A connect that times out (packets dropped: a firewall, no route) gets the one quick retry and
    the same advice, not five full timeouts. The listener's queue is kept full, so connects hang locally."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = []
    for _ in range(3):  # fill the accept queue: the kernel drops later SYNs unanswered
        pending = socket.socket()
        pending.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            pending.connect(("127.0.0.1", port))
        queued.append(pending)
    waits: list[float] = []
    try:
        with pytest.raises(SourceError) as caught:
            http_stack(RetryPolicy(timeout=0.3), waits).get(f"http://127.0.0.1:{port}/rss.xml", query="safety", what="feed")
    finally:
        for sock in (*queued, listener):
            sock.close()
    assert waits == [0.5]
    assert str(caught.value) == ("safety: feed could not connect to 127.0.0.1: no answer within 0.3 s; "
                                 "check the network or proxy")  # fmt: skip
