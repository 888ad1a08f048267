"""Per-subscriber digests: what arrived since each subscriber's last digest, queued and sent.

A digest is an ordinary outbox notification (type "digest"), so it inherits the outbox's
at-least-once delivery. The subscriber's `last_digest` moves when the digest is queued,
after the notification is stored: a crash between the two repeats a digest, never skips one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings, now
from bot.notify import Notification, Summary
from bot.outbox import Channels, FlushReport, flush
from bot.screening import awaiting
from bot.store import DigestMark, Store

log = logging.getLogger(__name__)

PERIODS = {"weekly": timedelta(days=7), "daily": timedelta(days=1)}
# A digest scheduled at the same hour each week is due even if the last one ran a bit late.
DUE_SLACK = timedelta(hours=1)


def due(subscription: dict[str, Any], moment: datetime) -> bool:
    """Whether a subscriber's period has passed since its last digest."""
    last = subscription.get("last_digest")
    if not last:
        return True
    period = PERIODS.get(str(subscription.get("period")), PERIODS["weekly"])
    return datetime.fromisoformat(str(last)) <= moment - period + DUE_SLACK


def _baseline_only(doc: dict[str, Any]) -> bool:
    """An item stored by a query's first run and unchanged since: the team has its summary
    (and the flagged list) already, so a digest never repeats the baseline as news."""
    return "baseline_seq" in doc and doc.get("seq") == doc["baseline_seq"]


def build_digests(store: Store, settings: Settings, *, period: str | None = None,
                  moment: datetime | None = None, pictures: bool = True) -> list[Notification]:  # fmt: skip
    """One digest notification per subscriber: every subscriber of `period`, or (None) every
    subscriber whose period has passed; `pictures=False` draws (and writes) no picture."""
    moment = moment or now()
    until = moment.isoformat(timespec="seconds")
    # The window is a range of commit numbers, taken before the items are read: an item
    # committed after this (in the same second or not) has a higher number, so it is in the
    # next digest, never in none.
    mark = store.sequence()
    left = awaiting(store)
    drawn: dict[str, tuple[str, ...]] = {}  # since -> its pictures (subscribers of one period share them)
    notes = []
    for sub in store.subscriptions():
        if period is not None and sub.get("period") != period:
            continue
        if period is None and not due(sub, moment):
            continue
        sub_period = str(sub.get("period") or "weekly")
        since = str(sub.get("last_digest") or (moment - PERIODS[sub_period]).isoformat(timespec="seconds"))
        last_seq = sub.get("last_digest_seq")
        if isinstance(last_seq, int):  # half-open (last, mark]: each commit in exactly one digest
            window = store.items(after_seq=last_seq, until_seq=mark)
        else:  # a subscription without a number (written by hand): by stamps, (since, until]
            window = store.items(after=since, until=until)
        docs = [d for d in window if not _baseline_only(d)]
        notes.append(Notification(
            kind="digest", route=str(sub["target"]), uids=tuple(d["uid"] for d in docs),
            summary=Summary(period=sub_period, since=since, until=until, until_seq=mark,
                            top=settings.digest.top, count=len(docs), awaiting=left,
                            pictures=_pictures(store, settings, since, moment, drawn)
                            if docs and pictures else ()),
        ))  # fmt: skip
    return notes


def _pictures(store: Store, settings: Settings, since: str, moment: datetime,
              drawn: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The digest's trend chart and PRISMA diagram as PNG files beside the store (in
    `figures/`); none for a store without a directory, or when drawing fails (said in a line)."""
    if store.path is None:
        return ()
    if since not in drawn:
        from bot.figures import digest_pictures

        stem = f"digest-{moment.date().isoformat()}-from-{since[:10]}"
        try:
            drawn[since] = digest_pictures(
                store.items(), store.current_decisions(), since=since, today=moment.date(),
                query_sources={q.name: q.source for q in settings.queries},
                directory=store.path.parent / "figures", stem=stem)  # fmt: skip
        except (OSError, ValueError) as exc:
            log.warning("digest pictures not drawn (%s); the digest goes without them", exc)
            drawn[since] = ()
    return drawn[since]


def queue_digests(store: Store, settings: Settings, *, period: str | None = None,
                  moment: datetime | None = None) -> list[Notification]:  # fmt: skip
    """Store the digests in the outbox, then move each subscriber's `last_digest`."""
    return _queue(store, build_digests(store, settings, period=period, moment=moment))


def _queue(store: Store, notes: list[Notification]) -> list[Notification]:
    if notes:
        # Digests and the subscribers' new `last_digest` land in one write: a crash cannot
        # queue a digest twice or move a subscriber past a digest that was never queued.
        store.commit("", outbox=notes, last_digests={
            n.route: DigestMark(n.summary.until, n.summary.until_seq) for n in notes})
    return notes


@dataclass(frozen=True)
class DigestRun:
    """The digests of one digest job: those queued, and those only previewed on the console."""

    queued: list[Notification]
    previewed: list[Notification]


def queue_or_preview(store: Store, settings: Settings, channels: Channels, *, period: str | None = None,
                     moment: datetime | None = None) -> DigestRun:  # fmt: skip
    """Queue the digests that are due; one whose channel this process lacks, on a store that
    delivered through that channel before, is shown on the console instead (a preview).

    A preview queues nothing and moves no subscriber's `last_digest`: the digest stays due,
    and its channel gets it from the next run that has it. Nor does it draw the pictures: a
    preview leaves no file behind; the digest draws them when it is queued.
    """
    destinations = store.destinations()
    moment = moment or now()
    queued: list[Notification] = []
    previewed: list[Notification] = []
    drawn: dict[str, tuple[str, ...]] = {}
    for note in build_digests(store, settings, period=period, moment=moment, pictures=False):
        channel, hold = channels.pick(note.route, destinations)
        if hold:
            channel.send(note, store.docs(note.uids), 0)
            previewed.append(note)
        elif note.uids:
            since = note.summary.since
            queued.append(replace(note, summary=replace(
                note.summary, pictures=_pictures(store, settings, since, moment, drawn))))
        else:
            queued.append(note)
    return DigestRun(_queue(store, queued), previewed)


def run_digests(store: Store, settings: Settings, channels: Channels, *, period: str | None = None,
                moment: datetime | None = None) -> tuple[DigestRun, FlushReport]:  # fmt: skip
    """Queue the digests that are due and deliver everything pending (the scheduled job)."""
    run = queue_or_preview(store, settings, channels, period=period, moment=moment)
    return run, flush(store, channels)
