"""Delivering pending notifications at least once: a notification leaves the outbox only
after its sink confirms every part of it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.store import Store


class DeliveryFailed(Exception):
    """The sink could not deliver; `parts_done` is how many parts are confirmed in total."""

    def __init__(self, error: str, parts_done: int = 0):
        super().__init__(error)
        self.error = error
        self.parts_done = parts_done


PartConfirmed = Callable[[int, Sequence[str]], None]


class Sink(Protocol):
    """Slack or the console: `send` returns once every part from `start_part` on is confirmed.

    After each confirmed part it calls `on_part(parts_done, uids_in_that_part)`, so a
    delivery cut off mid-way (error, kill, restart) resumes after the last confirmed part.
    """

    def send(self, notification: dict[str, Any], items: list[dict[str, Any]], start_part: int,
             on_part: PartConfirmed | None = None) -> None: ...


def delivers_to_slack(sink: Sink) -> bool:
    """Whether `sink` posts to Slack (SlackSink says so with `delivers_to = "slack"`)."""
    return getattr(sink, "delivers_to", None) == "slack"


def previews_only(store: Store, sink: Sink) -> bool:
    """A store that delivers to Slack, flushed to anything else (the console when
    SLACK_BOT_TOKEN is not set): the sink shows what is pending, Slack still gets it."""
    return not delivers_to_slack(sink) and store.delivers_to_slack()


def held_notice(count: int) -> str:
    """The one line that says why printed notifications stay pending."""
    return (f"SLACK_BOT_TOKEN is not set, but this store delivers to Slack: {count} "
            f"notification{'' if count == 1 else 's'} printed here and kept for Slack")


@dataclass
class FlushReport:
    delivered: int = 0
    failed: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    skipped: int = 0  # left pending because their channel already failed in this flush
    held: int = 0  # shown by a console on a Slack store and left pending for Slack
    stopped: bool = False  # the process began stopping: the rest stays pending for the next start


def flush(store: Store, sink: Sink, *, stopping: threading.Event | None = None) -> FlushReport:
    """Send every pending notification, oldest first; failures stay pending with their error.

    Once `stopping` is set, no further notification is started; the one being sent finishes
    and is marked, so a deliberate stop never leaves a confirmed message unmarked.

    On a store that delivers to Slack, a sink that is not Slack (no SLACK_BOT_TOKEN in this
    shell) only previews: every notification is shown and stays pending (`held`), so the
    terminal never consumes an alert the channel did not get.

    Parts already confirmed are never sent again. Where messages carry items, progress is
    kept by uid rather than by part number: a resumed delivery renders only the items not
    yet posted, so an item that changed in between cannot shift the split and be lost or
    posted twice.
    """
    report = FlushReport()
    if delivers_to_slack(sink):
        store.remember_slack()
    hold = previews_only(store, sink)
    broken: set[str] = set()
    for note in store.pending():
        if stopping is not None and stopping.is_set():
            report.stopped = True
            break
        channel = str(note.get("channel", ""))
        if channel in broken:
            report.skipped += 1
            continue
        items = store.docs(note.get("uids", ()))
        sent_uids = list(note.get("sent_uids") or ())
        start = int(note.get("sent_parts") or 0)
        if sent_uids:
            already_sent = set(sent_uids)
            items = [doc for doc in items if doc["uid"] not in already_sent]
            start = 0
            if not items:  # every item went out before the last attempt was cut off
                store.mark_delivered(note["id"])
                report.delivered += 1
                continue

        def confirmed(parts_done: int, uids: Sequence[str], note_id: str = note["id"],
                      sent: list[str] = sent_uids) -> None:
            sent.extend(uids)
            store.record_progress(note_id, parts_done, sent)

        try:
            sink.send(note, items, start, None if hold else confirmed)
        except DeliveryFailed as exc:
            if not hold:
                store.record_failure(note["id"], exc.error, sent_parts=max(start, exc.parts_done),
                                     sent_uids=sent_uids)
            report.failed.append((note, exc.error))
            broken.add(channel)
            continue
        if hold:  # shown, not delivered: Slack, where the team reads it, has not seen it yet
            report.held += 1
            continue
        store.mark_delivered(note["id"])
        report.delivered += 1
    return report
