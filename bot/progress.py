"""Progress of long fetches and retries, shown only on an interactive terminal.

A cold baseline of thousands of records takes minutes at NCBI's 3 requests/s; a person at a
terminal should see it moving. Under a scheduler, in CI or with output redirected there is
no terminal and nothing is printed (no bar fragments in log files).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Protocol, TextIO

from bot.retry import Retry

log = logging.getLogger(__name__)


class Progress(Protocol):
    def advance(self, done: int) -> None: ...

    def close(self) -> None: ...


ProgressFactory = Callable[[str, int], Progress]  # (label, total) -> Progress


class ProgressLine:
    """ "label: 400/2500 (16%)" rewritten in place on `stream`."""

    def __init__(self, label: str, total: int, stream: TextIO):
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        self._draw()

    def advance(self, done: int) -> None:
        self.done = min(self.total, self.done + done)
        self._draw()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self) -> None:
        percent = 100 * self.done // self.total
        self.stream.write(f"\r{self.label}: {self.done}/{self.total} ({percent}%)")
        self.stream.flush()


class Silent:
    """The progress of a run nobody watches."""

    def advance(self, done: int) -> None:
        pass

    def close(self) -> None:
        pass


def on_terminal(label: str, total: int) -> Progress:
    """A progress line on stderr when both stdout and stderr are terminals, else silence."""
    if sys.stdout.isatty() and sys.stderr.isatty():
        return ProgressLine(label, total, sys.stderr)
    return Silent()


def retry_on_terminal(retry: Retry) -> None:
    """A retry worth waiting for, told on a terminal ("retrying in 8 s (attempt 3 of 5)"); always logged."""
    log.info("%s", retry)
    if retry.delay >= 1 and sys.stderr.isatty():
        sys.stderr.write(f"{retry}\n")
        sys.stderr.flush()
