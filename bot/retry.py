"""Bounded retries with exponential backoff, jitter and Retry-After, shared by every client.

Retry behaviour is configuration: a `RetryPolicy` handed to each client says how long one
request may take and how often and patiently it is retried. `retrying` runs a call under it
on stamina, so tests switch every wait off in one place (`stamina.set_testing`, in
tests/conftest.py) while the policy's attempt counts still hold. `call_with_retries` is the
same policy as a plain loop with an injectable sleep, for a loop that must stop in the middle
of a wait (the Socket Mode reconnect, which a shutdown interrupts); stamina's waits cannot be.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import stamina
import stamina.instrumentation

T = TypeVar("T")
QUICK_RETRY = 0.5  # seconds before asking an unreachable host once more
# Our own report (`RetryReport`) says what is retried and why; stamina's default logging hook
# would add an unformatted "stamina.retry_scheduled" line to every terminal.
stamina.instrumentation.set_on_retry_hooks(())


class TransientError(Exception):
    """A failure worth retrying (429, 5xx, timeout, connection reset)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unreachable(TransientError):
    """The host did not resolve or refused the connection: a wrong place or no network, not a busy
    server. Asked once more, quickly, and no more."""


class RetriesExhausted(Exception):
    """Retrying stopped; `last` is the final transient error, `reason` why it stopped early."""

    def __init__(self, attempts: int, last: TransientError, *, reason: str | None = None):
        if reason:
            tries = "attempt" if attempts == 1 else "attempts"
            message = f"stopped after {attempts} {tries}: {last}; {reason}"
        else:
            message = f"gave up after {attempts} attempts: {last}"
        super().__init__(message)
        self.attempts = attempts
        self.last = last
        self.reason = reason


@dataclass(frozen=True)
class RetryPolicy:
    """How long one request may take and how often, and how patiently, it is retried."""

    timeout: float = 30.0  # seconds for one request
    attempts: int = 5  # total tries, the first included
    base_delay: float = 1.0  # first backoff; doubles each retry
    max_delay: float = 60.0  # cap on one backoff; a longer Retry-After stops the retries
    total: float = 300.0  # wall-clock budget for all attempts of one call
    jitter: float = 0.5  # +- fraction of each backoff, so clients do not retry in step

    @classmethod
    def fast(cls, attempts: int = 4) -> RetryPolicy:
        """A policy for tests: real retries, millisecond pauses."""
        return cls(timeout=5.0, attempts=attempts, base_delay=0.001, max_delay=0.05, total=30.0)

    def backoff(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1-based); never less than `retry_after`.

        A Retry-After is not capped: callers ask `refuses_wait` first and stop retrying
        when the server wants a longer pause than this policy allows.
        """
        # The exponent is capped so that a caller retrying for days (a reconnect loop) never
        # overflows a float: 2.0 ** 1024 raises; by then the delay is max_delay anyway.
        delay = min(self.max_delay, self.base_delay * 2.0 ** min(retry - 1, 1000))
        delay *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            # The server knows its own limits: never retry sooner than it asked.
            delay = max(delay, retry_after)
        return max(0.0, delay)

    def refuses_wait(self, retry_after: float | None, elapsed: float = 0.0) -> str | None:
        """Why waiting `retry_after` s is more than this policy allows, or None when it fits.

        Retrying before the server's Retry-After would only be refused again (and can get a
        client blocked), so a wait longer than `max_delay` or than what is left of `total`
        after `elapsed` seconds ends the retries instead of being shortened.
        """
        if retry_after is None:
            return None
        if retry_after > self.max_delay:
            return (
                f"the server asked to wait {_seconds(retry_after)} s (Retry-After), longer than "
                f"the {_seconds(self.max_delay)} s one pause may last; not retrying sooner than asked"
            )
        left = max(0.0, self.total - elapsed)
        if retry_after > left:
            return (
                f"the server asked to wait {_seconds(retry_after)} s (Retry-After), more than the "
                f"{_seconds(left)} s left of the {_seconds(self.total)} s retry budget; "
                "not retrying sooner than asked"
            )
        return None


def _seconds(value: float) -> str:
    """Seconds for a message: one decimal at most, none when whole (120, 0.5)."""
    return f"{value:.1f}".removesuffix(".0")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, TransientError, float], None] | None = None,
) -> T:
    """Call `fn` until it returns; retry only `TransientError`, within the policy's bounds."""
    started = time.monotonic()
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except TransientError as exc:
            if attempt == policy.attempts:
                raise RetriesExhausted(attempt, exc) from exc
            refusal = policy.refuses_wait(exc.retry_after, time.monotonic() - started)
            if refusal:
                raise RetriesExhausted(attempt, exc, reason=refusal) from exc
            delay = policy.backoff(attempt, exc.retry_after)
            if time.monotonic() - started + delay > policy.total:
                raise RetriesExhausted(attempt, exc) from exc
            if on_retry:
                on_retry(attempt, exc, delay)
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")


@dataclass(frozen=True)
class Retry:
    """One retry about to happen, for whoever shows progress: "retrying in 8 s (attempt 3 of 5)"."""

    what: str
    attempt: int  # the attempt about to start, 2 or more
    attempts: int
    delay: float
    error: TransientError

    def __str__(self) -> str:
        return f"{self.error}; retrying in {_seconds(round(self.delay))} s (attempt {self.attempt} of {self.attempts})"


RetryReport = Callable[[Retry], None]


def retrying(fn: Callable[[], T], policy: RetryPolicy, *, what: str = "request",
             report: RetryReport | None = None) -> T:  # fmt: skip
    """Call `fn` until it returns; retry only `TransientError`, within the policy's bounds.

    The wait before each retry is the policy's backoff, never shorter than a Retry-After; a
    Retry-After longer than the policy allows ends the retries instead (see `refuses_wait`).
    An `Unreachable` host gets one quick retry. Raises `RetriesExhausted` with the last error.
    """
    started = time.monotonic()
    made = 0
    refusal: str | None = None

    def backoff(exc: Exception) -> bool | float:
        nonlocal refusal
        if not isinstance(exc, TransientError) or made >= policy.attempts:
            return False
        if isinstance(exc, Unreachable):
            if made >= 2:
                return False
            delay = min(policy.base_delay, QUICK_RETRY)
        else:
            elapsed = time.monotonic() - started
            refusal = policy.refuses_wait(exc.retry_after, elapsed)
            if refusal:
                return False
            delay = policy.backoff(made, exc.retry_after)
            if elapsed + delay > policy.total:
                return False
        if report is not None:
            report(Retry(what, made + 1, policy.attempts, delay, exc))
        return float(delay)

    try:
        for attempt in stamina.retry_context(on=backoff, attempts=policy.attempts, timeout=None):
            with attempt:
                made += 1
                return fn()
    except TransientError as exc:
        raise RetriesExhausted(made, exc, reason=refusal) from exc
    raise AssertionError("unreachable: the loop returns or raises")
