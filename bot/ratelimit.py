"""Process-wide, thread-safe request rate limits (NCBI: 3 requests/s, 10 with an API key).

A limiter is a sliding window: at most `rate` requests start in any `period` seconds. Each
caller reserves the next free slot under a lock and then sleeps outside it, so concurrent
callers (the scheduler's runs and ad hoc Slack searches in one daemon) queue fairly without
holding the lock while they wait. `shared()` hands every client in the process the same
limiter for the same upstream, because NCBI counts requests per IP or key, not per client.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

NCBI_RATE = 3  # requests per second without an API key
NCBI_RATE_WITH_KEY = 10
# Requests leave here on schedule but reach NCBI with jitter; a 10% longer window keeps the
# server from ever seeing rate+1 requests inside one of its seconds.
SAFETY_MARGIN = 1.1


class RateLimiter:
    """At most `rate` acquisitions in any sliding window of `period` seconds."""

    def __init__(
        self,
        rate: int,
        period: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate < 1 or period <= 0:
            raise ValueError("rate must be >= 1 and period > 0")
        self.rate = rate
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()  # granted start times, ascending, some in the future

    def acquire(self) -> float:
        """Block until a request may start; return the seconds waited."""
        with self._lock:
            now = self._clock()
            while self._starts and self._starts[0] <= now - self.period:
                self._starts.popleft()
            at = now
            if len(self._starts) >= self.rate:
                at = max(at, self._starts[-self.rate] + self.period)
            if self._starts:
                at = max(at, self._starts[-1])
            self._starts.append(at)
        wait = at - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)


_shared: dict[tuple[str, int, float], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared(upstream: str, rate: int, period: float = 1.0) -> RateLimiter:
    """The one limiter of this process for `upstream` at this rate."""
    key = (upstream, rate, period)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = RateLimiter(rate, period)
        return _shared[key]


def ncbi(*, api_key: bool) -> RateLimiter:
    """NCBI E-utilities' limit for this process: 3 requests/s, or 10 with an API key."""
    return shared("ncbi-eutils", NCBI_RATE_WITH_KEY if api_key else NCBI_RATE, SAFETY_MARGIN)
