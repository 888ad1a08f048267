"""Delivering pending notifications at least once: a notification leaves the outbox only
after its channel confirms every part of it.

A channel (Slack, e-mail, the console) is picked by the scheme of a notification's route.
The rules are the same for every channel: parts are confirmed one by one and journalled, a
failure keeps the notification pending with its error, a route that failed is not tried
again in the same flush, and a delivery cut off mid-way resumes after the last confirmed part.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.errors import CommitsFrozen
from bot.notify import CONSOLE, Notification, Pending, Summary, scheme_of
from bot.render import Format
from bot.store import Store

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The channel could not deliver; `parts_done` is how many parts are confirmed in total.

    `refused` means the channel refused this message itself for good (Slack's
    `invalid_blocks`, `msg_too_long`; an SMTP 554 after DATA): sending it again unchanged
    cannot help, while the channel works for other messages. `too_big` says size was why.
    """

    def __init__(self, error: str, parts_done: int = 0, *, refused: bool = False, too_big: bool = False):
        super().__init__(error)
        self.error = error
        self.parts_done = parts_done
        self.refused = refused or too_big
        self.too_big = too_big


PartConfirmed = Callable[[int, Sequence[str]], None]
Items = list[dict[str, Any]]


class Channel(Protocol):
    """Delivers notifications of one route scheme ("slack", "mailto", "console").

    `send` returns once every part from `start_part` on is confirmed (Slack answered ok, the
    SMTP server accepted the message, the text was printed), calling
    `on_part(parts_done, uids_in_that_part)` after each one, so a delivery cut off mid-way
    resumes after the last confirmed part. A part is whatever the channel posts and confirms
    on its own: a message, or a file Slack shares after a digest's messages, so a kill repeats
    at most the one post in flight. Any failure is `DeliveryFailed(error, parts_done)`.
    `format` holds the channel's size limits, by which a notification is split into parts;
    with `compact` the channel splits into smaller parts (`bot.render.compact`), for the one
    retry of a message it refused (only where no part of it went out, or progress is by item).
    """

    scheme: str
    label: str
    format: Format

    def send(self, notification: Notification, items: Items, start_part: int,
             on_part: PartConfirmed | None = None, *, compact: bool = False) -> None: ...


@dataclass(frozen=True)
class Unavailable:
    """A channel this process cannot use, and why (shown when its notifications are held)."""

    label: str  # "Slack"
    reason: str  # "SLACK_BOT_TOKEN is not set"


@dataclass
class Channels:
    """The channels this process can deliver through, the console for everything else."""

    console: Channel
    available: Mapping[str, Channel] = field(default_factory=dict)
    unavailable: Mapping[str, Unavailable] = field(default_factory=dict)

    def pick(self, route: str, destinations: set[str]) -> tuple[Channel, bool]:
        """The channel for `route`, and whether it only previews (True: shown, kept pending).

        A route whose channel is missing here goes to the console. If the store has delivered
        through that channel before, the console only previews: the terminal never consumes
        an alert the team reads elsewhere. A store that never had it (terminal mode) is
        delivered to the console for good.
        """
        scheme = scheme_of(route)
        if scheme in self.available:
            return self.available[scheme], False
        return self.console, scheme != CONSOLE and scheme in destinations

    def label(self, scheme: str) -> str:
        known = self.available.get(scheme)
        if known is not None:
            return known.label
        missing = self.unavailable.get(scheme)
        return missing.label if missing else scheme


def held_notice(channels: Channels, scheme: str, count: int, what: str = "notification",
                done: str = "kept for") -> str:  # fmt: skip
    """The one line that says why printed notifications stay pending."""
    missing = channels.unavailable.get(scheme)
    label = channels.label(scheme)
    reason = missing.reason if missing else f"{label} is not configured"
    return (f"{reason}, but this store delivers to {label}: {count} {what}{'' if count == 1 else 's'} "
            f"printed here and {done} {label} (`litwatch outbox --to-terminal` makes the terminal "
            "the destination again)")


@dataclass
class FlushReport:
    delivered: int = 0
    failed: list[tuple[Pending, str]] = field(default_factory=list)
    skipped: int = 0  # left pending because their route already failed in this flush
    set_aside: list[tuple[Pending, str]] = field(default_factory=list)  # refused twice: out of line
    held: Counter[str] = field(default_factory=Counter)  # per scheme: previewed, left pending
    stopped: bool = False  # the process began stopping: the rest stays pending for the next start


def flush(store: Store, channels: Channels, *, stopping: threading.Event | None = None) -> FlushReport:
    """Send every pending notification, oldest first; failures stay pending with their error.

    Once `stopping` is set, no further notification is started; the one being sent finishes
    and is marked, so a deliberate stop never leaves a confirmed message unmarked.

    A notification for a channel this process lacks, on a store that delivered through that
    channel before, is only previewed on the console and stays pending (`held`). The first
    confirmed delivery through a channel makes it one of the store's destinations; a token
    or server that never confirmed anything changes nothing.

    Parts already confirmed are never sent again. Where messages carry items, progress is
    kept by uid rather than by part number: a resumed delivery renders only the items not
    yet sent, so an item that changed in between cannot shift the split and be lost or
    sent twice.
    """
    report = FlushReport()
    destinations = store.destinations()
    broken: set[str] = set()

    def remember(channel: Channel) -> None:
        if channel.scheme != CONSOLE and channel.scheme not in destinations:
            store.remember_destination(channel.scheme)
            destinations.add(channel.scheme)

    for pending in store.pending():
        if pending.set_aside:
            continue
        if stopping is not None and stopping.is_set():
            report.stopped = True
            break
        if pending.route in broken:
            report.skipped += 1
            continue
        channel, hold = channels.pick(pending.route, destinations)
        items = store.docs(pending.uids)
        sent_uids = list(pending.sent_uids)
        start = pending.sent_parts
        if sent_uids:
            already_sent = set(sent_uids)
            items = [doc for doc in items if doc["uid"] not in already_sent]
            start = 0
            if not items:  # every item went out before the last attempt was cut off
                store.mark_delivered(pending.id)
                report.delivered += 1
                continue

        def confirmed(parts_done: int, uids: Sequence[str], note_id: str = pending.id,
                      sent: list[str] = sent_uids, channel: Channel = channel) -> None:
            sent.extend(uids)
            store.record_progress(note_id, parts_done, sent)
            remember(channel)

        try:
            if hold:
                channel.send(pending.notification, items, start)
            else:
                _send_or_retry_smaller(store, channel, pending, items, start, sent_uids, confirmed)
        except DeliveryFailed as exc:
            if hold:
                report.failed.append((pending, exc.error))
                broken.add(pending.route)
                continue
            store.record_failure(pending.id, exc.error, sent_parts=max(start, exc.parts_done),
                                 sent_uids=sent_uids)
            if exc.refused:  # refused twice: out of line, so what follows for this route still goes
                _set_aside(store, channel, pending, exc.error)
                report.set_aside.append((pending, exc.error))
                continue
            report.failed.append((pending, exc.error))
            broken.add(pending.route)
            continue
        if hold:  # shown, not delivered: the channel the team reads has not seen it yet
            report.held[scheme_of(pending.route)] += 1
            continue
        store.mark_delivered(pending.id)
        remember(channel)
        report.delivered += 1
    return report


def _send_or_retry_smaller(store: Store, channel: Channel, pending: Pending, items: Items, start: int,
                           sent_uids: list[str], confirmed: PartConfirmed) -> None:
    """Send; if the channel refuses the message itself, record that and send once more in
    smaller parts (from the first unconfirmed part or item). A second refusal propagates."""
    try:
        channel.send(pending.notification, items, start, confirmed)
    except DeliveryFailed as exc:
        if not exc.refused:
            raise
        store.record_failure(pending.id, exc.error, sent_parts=max(start, exc.parts_done), sent_uids=sent_uids)
        if sent_uids:  # progress by item: render only what has not gone out
            already_sent = set(sent_uids)
            items, start = [doc for doc in items if doc["uid"] not in already_sent], 0
        else:
            start = max(start, exc.parts_done)
        channel.send(pending.notification, items, start, confirmed, compact=True)


def drop_route(store: Store, route: str) -> int:
    """Drop every pending notification to `route` (an address that is gone for good)."""
    return sum(store.drop(note.id) for note in store.pending() if note.route == route)


def _set_aside(store: Store, channel: Channel, pending: Pending, error: str) -> None:
    """Take a twice-refused notification out of line and tell its route so, in one line."""
    store.set_aside(pending.id)
    note = pending.notification
    if note.kind == "set_aside":  # the announcement itself refused: no announcement of that
        return
    what = f"{note.kind} notification {pending.id}" + (f" of {note.query}" if note.query else "")
    alert = Notification(kind="set_aside", route=note.route, query=note.query, summary=Summary(
        message=f"{channel.label} refused the {what} twice and it was set aside: {error}"))
    try:
        store.add_notifications([alert])
    except CommitsFrozen:  # stopping: status and `litwatch outbox` still show it set aside
        log.warning("%s", alert.summary.message)
