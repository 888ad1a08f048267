"""RetryPolicy and call_with_retries: a server's Retry-After is never cut short."""

from __future__ import annotations

import pytest

from bot.errors import SourceError
from bot.retry import RetriesExhausted, RetryPolicy, TransientError, call_with_retries
from tests.factories import http_stack
from tests.fakes.http import FakeServer, Response

POLICY = RetryPolicy(timeout=5, attempts=5, base_delay=0.001, max_delay=60, total=300, jitter=0)


def refused_with(retry_after: float):
    """A call that is always refused with this Retry-After; counts its attempts."""
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        raise TransientError("HTTP 429", retry_after=retry_after)

    return fn, calls


def test_backoff_is_never_shorter_than_retry_after() -> None:
    """Regression (Retry-After capped at max_delay): backoff returns the server's full wait, even past max_delay."""
    assert POLICY.backoff(1, retry_after=120) == 120
    assert POLICY.backoff(1, retry_after=2) == 2
    assert POLICY.backoff(1) == pytest.approx(0.001)


def test_backoff_stays_at_max_delay_however_many_retries() -> None:
    """Regression (2 ** n overflowed a float after ~1,000 retries, ending a reconnect loop that
    retries for days): a late retry waits max_delay, never raises."""
    assert POLICY.backoff(5_000) == 60
    assert POLICY.backoff(10**9) == 60


def test_retry_after_longer_than_max_delay_stops_the_retries_at_once() -> None:
    """Regression (120 s Retry-After retried after 60 s): a wait past max_delay ends retrying with no pause."""
    fn, calls = refused_with(120)
    sleeps: list[float] = []
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(fn, POLICY, sleep=sleeps.append)
    assert sleeps == [] and len(calls) == 1
    assert "the server asked to wait 120 s" in str(caught.value)
    assert "60 s one pause may last" in str(caught.value)
    assert caught.value.attempts == 1 and caught.value.reason


def test_retry_after_beyond_the_remaining_budget_stops_the_retries() -> None:
    """Regression (Retry-After cut short): a wait that fits max_delay but not the total budget stops, saying so."""
    fn, calls = refused_with(45)
    policy = RetryPolicy(timeout=5, attempts=5, base_delay=0.001, max_delay=60, total=30, jitter=0)
    sleeps: list[float] = []
    with pytest.raises(RetriesExhausted, match=r"asked to wait 45 s .*left of the 30 s retry budget"):
        call_with_retries(fn, policy, sleep=sleeps.append)
    assert sleeps == [] and len(calls) == 1


def test_retry_after_within_the_policy_is_waited_in_full() -> None:
    """A Retry-After the policy can honour is slept in full before each retry."""
    fn, calls = refused_with(2.5)
    sleeps: list[float] = []
    with pytest.raises(RetriesExhausted, match="gave up after 3 attempts"):
        call_with_retries(fn, RetryPolicy(attempts=3, base_delay=0.001, max_delay=60, jitter=0), sleep=sleeps.append)
    assert sleeps == [2.5, 2.5] and len(calls) == 3


def test_shared_get_reports_the_servers_wait_instead_of_retrying_early() -> None:
    """Regression (Retry-After capped): a 429 asking for 120 s is one request and a retryable SourceError naming the wait."""
    sleeps: list[float] = []
    with FakeServer(lambda r: Response(429, "slow down", {"Retry-After": "120"})) as server, \
            pytest.raises(SourceError, match=r"^trials: stopped after 1 attempt: .*asked to wait 120 s") as caught:  # fmt: skip
        http_stack(POLICY, sleeps).get(server.url + "/studies", query="trials", what="ClinicalTrials.gov")
    assert caught.value.retryable and sleeps == [] and len(server.requests) == 1
