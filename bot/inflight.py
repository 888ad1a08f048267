"""Work in flight: the runs and deliveries a stopping daemon waits for, then refuses.

Scheduled runs, `/litwatch run` from chat, digests and deliveries all enter one tracker, so
a stop sees every one of them whichever thread (scheduler worker, command pool) runs it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class InFlight:
    """Counts work by name (`query:<name>`, `digest`, `delivery`); `close` admits no more."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._active: Counter[str] = Counter()
        # Set once stopping: long work (a flush) checks it to stop at its next safe point.
        self.closed = threading.Event()

    @contextmanager
    def track(self, name: str) -> Iterator[bool]:
        """Count the block as work named `name`; yields False (not counted) once closed."""
        with self._changed:
            admitted = not self.closed.is_set()
            if admitted:
                self._active[name] += 1
        try:
            yield admitted
        finally:
            if admitted:
                with self._changed:
                    self._active[name] -= 1
                    if not self._active[name]:
                        del self._active[name]
                    self._changed.notify_all()

    def close(self) -> None:
        """Admit no more work; what is running goes on."""
        with self._changed:
            self.closed.set()

    def wait(self, timeout: float, which: Callable[[str], bool] = lambda name: True) -> bool:
        """Wait up to `timeout` s until no work matching `which` is running; True if none is."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._changed:
            return self._changed.wait_for(
                lambda: not any(which(name) for name in self._active), deadline - time.monotonic()
            )

    @property
    def running(self) -> list[str]:
        with self._changed:
            return sorted(self._active)
