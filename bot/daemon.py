"""`litwatch run`: the scheduler and the slash-command listener in one process, one store.

One process writes the store (DESIGN.md, "Store"): scheduled runs, `/litwatch run`,
subscriptions and deliveries all go through the same `Store`, whose lock serialises them.

On SIGTERM or SIGINT (what a platform sends on deploy) the daemon stops taking work and
waits a few seconds for the runs and deliveries in flight, wherever they came from (the
scheduler or a chat command: one `InFlight` tracker counts them all); a delivery stops
after the notification it is sending. Then the store refuses further run commits, so an
abandoned run never moves its watermark and the next start runs it again, while a
delivery its channel has confirmed is still marked sent: a deliberate stop causes no duplicate
(DESIGN.md, "Delivery guarantees"). Every commit is already on disk (one atomic write
each), so the process then exits, within 10 s.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any, Protocol
from urllib.parse import urlsplit

from bot.config import Environment, SavedQuery
from bot.context import RunContext
from bot.errors import CommitsFrozen, LitwatchError, StoreError
from bot.inflight import InFlight
from bot.notify import Notification
from bot.outbox import FlushReport, flush, held_notice
from bot.pipeline import RunReport, run_query
from bot.ranker import FeatureCache
from bot.scheduler import DIGEST_JOB, QUERY_JOB_PREFIX, Scheduler
from bot.slack.actions import Update
from bot.slack.commands import Services
from bot.slack.deliver import make_client
from bot.slack.listener import CommandDispatcher, SignedCommandServer, SocketModeListener, updater
from bot.slack.reach import reach_for

log = logging.getLogger(__name__)

STOP_BUDGET = 10.0  # seconds from the signal to exit (platforms kill at ~10 s)
DRAIN = 6.5  # of which the runs and deliveries in flight may use this much to finish
LOCK_WAIT = 2.0  # and then a delivery still sending, or a commit under way, this much
DELIVERY = "delivery"
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # local time with its offset, on every line the daemon writes


class Runner:
    """Runs saved queries and delivers the outbox for the scheduler and for chat commands.

    One run per query at a time (a per-query lock: a `/litwatch run` and the scheduled
    run of the same query never overlap, which would diff against the same state twice and
    alert twice), and one delivery at a time (two concurrent flushes would both send the
    same pending notification). Each run, digest and delivery is counted in `work`, which
    the daemon closes and waits on when it stops.
    """

    def __init__(self, ctx: RunContext, *, on_report: Callable[[RunReport], None] | None = None):
        self.ctx = ctx
        self.store = ctx.store
        self.on_report = on_report
        self._query_locks: dict[str, threading.Lock] = {}  # made on first run (setdefault is atomic)
        self._deliver_lock = threading.Lock()
        self.reports: list[RunReport] = []
        self.work = InFlight()

    def run(self, query: SavedQuery) -> RunReport | None:
        """Run `query` and deliver; None if that query is already running."""
        with self.work.track(QUERY_JOB_PREFIX + query.name) as admitted:
            if not admitted:
                return RunReport(query=query.name, error="not started: litwatch is stopping", abandoned=True)
            lock = self._query_locks.setdefault(query.name, threading.Lock())
            if not lock.acquire(blocking=False):
                return None
            try:
                report = run_query(query, self.ctx)
            except StoreError as exc:  # disk full, read-only: this run is not saved, the next one redoes it
                log.error("%s: %s", query.name, exc)
                report = RunReport(query=query.name, error=str(exc))
            finally:
                lock.release()
            self.reports.append(report)
            if self.on_report:
                self.on_report(report)
            if not report.abandoned:
                self.deliver()
            return report

    def deliver(self) -> FlushReport:
        with self.work.track(DELIVERY) as admitted:
            if not admitted:  # stopping: what is pending goes out on the next start
                return FlushReport(stopped=True)
            with self._deliver_lock:
                try:
                    report = flush(self.store, self.ctx.channels, stopping=self.work.closed)
                except StoreError as exc:  # what could not be recorded stays pending for the next flush
                    log.error("delivery stopped: %s", exc)
                    return FlushReport(stopped=True)
        for note, error in report.failed:
            log.warning("delivery to %s failed, kept pending: %s", note.route, error)
        for note, error in report.set_aside:
            log.warning("%s notification %s to %s refused twice, set aside: %s", note.kind, note.id, note.route, error)
        for scheme, count in sorted(report.held.items()):
            log.warning("%s", held_notice(self.ctx.channels, scheme, count))
        return report

    def digest(self) -> list[Notification]:
        """The scheduled digest job: queue what is due for each subscriber, then deliver."""
        from bot.digest import queue_or_preview

        with self.work.track(DIGEST_JOB) as admitted:
            if not admitted:
                return []
            try:
                notes = queue_or_preview(self.store, self.ctx.settings, self.ctx.channels).queued
            except CommitsFrozen:  # stopping: the digest is queued on the next start instead
                log.warning("digest abandoned before its commit, litwatch is stopping")
                return []
            except StoreError as exc:  # not queued: the subscribers stay due for the next run
                log.error("digest not queued: %s", exc)
                return []
            self.deliver()
        return notes

    def last_success(self, name: str) -> datetime | None:
        stamp = self.store.query_state(name).last_success
        return datetime.fromisoformat(stamp) if stamp else None


class Listener(Protocol):
    """A slash-command transport: Socket Mode or the signed HTTP endpoint."""

    description: str

    def start(self) -> None: ...

    def close(self) -> None: ...


class Daemon:
    """The long-running process: scheduler, optional Socket Mode listener, shared store."""

    def __init__(
        self,
        runner: Runner,
        *,
        listen: Callable[[CommandDispatcher], Listener] | None = None,
        slack_api_url: str = "",
        post: Callable[[str, dict[str, Any]], None] | None = None,
        cannot_post: Callable[[str], str | None] | None = None,
        update: Update | None = None,
    ):
        ctx = runner.ctx
        self.settings = settings = ctx.settings
        self.store = store = ctx.store
        self.runner = runner
        self.scheduler = Scheduler(
            settings,
            run_query=runner.run,
            run_digest=runner.digest,
            last_success=runner.last_success,
            work=runner.work,
        )
        services = Services(
            settings=settings,
            store=store,
            sources=ctx.sources,
            classify=ctx.classify,
            run_query=runner.run,
            next_run=self.scheduler.next_run,
            cannot_post=cannot_post,
            features=FeatureCache(),
        )
        host = urlsplit(slack_api_url).netloc  # compared with a response_url's netloc
        extra: dict[str, Any] = {"post": post} if post else {}
        self.dispatcher = CommandDispatcher(services, allowed_hosts=(host,) if host else (), update=update, **extra)
        self.listener = listen(self.dispatcher) if listen else None
        self.abandoned: list[str] = []  # work still running when stop() gave up on it

    def start(self, *, catch_up: bool = True) -> list[str]:
        """Connect the listener, deliver leftovers, start the clock; return caught-up queries."""
        if self.listener is not None:
            self.listener.start()  # commands work during the catch-up runs too
        # What a previous process committed but could not deliver goes out first.
        threading.Thread(target=self.runner.deliver, name="litwatch-deliver", daemon=True).start()
        return self.scheduler.start(catch_up=catch_up)

    def stop(self, drain: float = DRAIN, lock_wait: float = LOCK_WAIT) -> bool:
        """Stop taking work, let the work in flight finish within `drain` s; True if all did.

        Runs (scheduled or from chat) still going after that are abandoned: the store then
        refuses their commit, so their watermark does not move. A delivery still sending
        gets `lock_wait` s more to record what its channel confirmed; its journal writes are never
        blocked. The store is closed last. False means something is still running: the
        caller must leave with `os._exit` rather than wait for those threads.
        """
        started = time.monotonic()
        self.dispatcher.close()
        if self.listener is not None:
            self.listener.close()
        work = self.runner.work
        work.close()  # no new run or delivery; a flush stops before its next notification
        self.scheduler.stop(timeout=0)  # no queued job starts; the wait below covers the running one
        deadline = started + drain
        finished = work.wait(deadline - time.monotonic())
        finished = self.dispatcher.wait(deadline - time.monotonic()) and finished
        self.store.freeze_commits()
        if not finished:
            deadline += lock_wait
            work.wait(deadline - time.monotonic(), which=lambda name: name == DELIVERY)
            self.abandoned = work.running
            finished = not self.abandoned and self.dispatcher.wait(0)
        if not finished:
            log.warning("abandoning work still in progress: %s (watermarks unchanged)",
                        ", ".join(self.abandoned) or "command replies")  # fmt: skip
        closed = self.store.close(timeout=max(deadline - time.monotonic(), 0.1))
        return finished and closed


def say(line: str, out: Any = None) -> None:
    """One line of the daemon's own output, time-stamped like its log lines."""
    stream = out or sys.stdout
    # One write, newline included: print() writes the end separately, and another thread's
    # output could land between a line and its newline.
    stream.write(f"{datetime.now().astimezone().strftime(STAMP_FORMAT)} {line}\n")
    stream.flush()


def configure_logging() -> None:
    """Warnings from everything, and litwatch's own progress lines (INFO), on stderr.

    Without this only warnings reach the terminal, through Python's last-resort handler,
    and a line such as "connected to Slack" would be lost. A handler set up earlier (a test
    harness, an embedding program) is kept; only litwatch's loggers are turned up.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s",
                            datefmt=STAMP_FORMAT, stream=sys.stderr)
    for name in ("bot", "litwatch"):
        logging.getLogger(name).setLevel(logging.INFO)


def run_until_signalled(daemon: Daemon, *, out: Any = None) -> int:
    """Start `daemon`, block until SIGTERM/SIGINT, stop within the budget; exit code 0."""
    out = out or sys.stdout
    stop = threading.Event()
    finished = True
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        due = daemon.start()
        listening = daemon.listener.description if daemon.listener else ("slash commands off (no SLACK_APP_TOKEN)")
        count = len(daemon.settings.enabled_queries)
        say(f"litwatch running: {count} {'query' if count == 1 else 'queries'} scheduled, "
            f"{listening}; catching up: {', '.join(due) or 'nothing'}", out)
        while not stop.wait(0.5):
            pass
        started = time.monotonic()
        name = signal.Signals(received[0]).name if received else "signal"
        say(f"{name}: stopping (finishing the running job for up to {DRAIN:.1f} s)", out)
        finished = daemon.stop()
        say(f"stopped in {time.monotonic() - started:.1f} s"
            + ("" if finished else "; abandoned the running fetch (watermark unchanged)"), out)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not finished:
        # Worker threads are not daemonic and the ones left may wait on a slow upstream for
        # minutes: leave without joining them. Everything committed is already on disk, and
        # the store refuses their commits.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def build_daemon(env: Environment, ctx: RunContext, *, http_port: int | None = None) -> Daemon:
    """Wire the production daemon: Socket Mode iff SLACK_APP_TOKEN is set, or with
    `http_port` the signed HTTP endpoint (needs SLACK_SIGNING_SECRET) instead."""
    listen: Callable[[CommandDispatcher], Listener] | None = None
    if http_port is not None:
        if not env.slack_signing_secret:
            raise LitwatchError("litwatch serve needs SLACK_SIGNING_SECRET to verify requests")
        secret = env.slack_signing_secret

        def listen(dispatcher: CommandDispatcher) -> Listener:
            return SignedCommandServer(dispatcher, secret, port=http_port)

    elif env.slack_app_token:
        token, api_url = env.slack_app_token, env.slack_api_url

        def listen(dispatcher: CommandDispatcher) -> Listener:
            return SocketModeListener(token, dispatcher, api_url=api_url)

    runner = Runner(ctx, on_report=lambda r: say(r.summary()))
    update = updater(make_client(env)) if env.slack_bot_token else None  # buttons update their message
    return Daemon(runner, listen=listen, slack_api_url=env.slack_api_url, cannot_post=reach_for(env), update=update)
