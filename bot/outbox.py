"""Delivering pending notifications at least once: a notification leaves the outbox only
after its sink confirms every part of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.store import Store


class DeliveryFailed(Exception):
    """The sink could not deliver; `parts_done` is how many parts are confirmed in total."""

    def __init__(self, error: str, parts_done: int = 0):
        super().__init__(error)
        self.error = error
        self.parts_done = parts_done


class Sink(Protocol):
    """Slack or the console. `send` returns only once every part from `start_part` on is confirmed."""

    def send(self, notification: dict[str, Any], items: list[dict[str, Any]], start_part: int) -> None: ...


@dataclass
class FlushReport:
    delivered: int = 0
    failed: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    skipped: int = 0  # left pending because their channel already failed in this flush


def flush(store: Store, sink: Sink) -> FlushReport:
    """Send every pending notification, oldest first; failures stay pending with their error."""
    report = FlushReport()
    broken: set[str] = set()
    for note in store.pending():
        channel = str(note.get("channel", ""))
        if channel in broken:
            report.skipped += 1
            continue
        items = [doc for uid in note.get("uids", ()) if (doc := store.get(uid)) is not None]
        start = int(note.get("sent_parts") or 0)
        try:
            sink.send(note, items, start)
        except DeliveryFailed as exc:
            store.record_failure(note["id"], exc.error, sent_parts=max(start, exc.parts_done))
            report.failed.append((note, exc.error))
            broken.add(channel)
            continue
        store.mark_delivered(note["id"])
        report.delivered += 1
    return report
