"""One run of one saved query: fetch, diff against the store, classify, commit, queue alerts.

Guarantees (DESIGN.md, "Delivery guarantees"): the watermark moves only after a fetch fully
succeeded; new items and their notifications are committed in the same write; the first run
of a query is a baseline that posts one summary instead of one alert per record.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from bot.config import SavedQuery, Settings, now
from bot.context import RunContext
from bot.diff import corrected_only
from bot.errors import CommitsFrozen, SourceError
from bot.links import Links
from bot.models import Classification, Item, Window
from bot.notify import Kind, Notification, Summary
from bot.sources import Source
from bot.store import Diff, QueryState, Store

log = logging.getLogger("litwatch")


@dataclass
class RunReport:
    """What one run did, in the counts a PRISMA-style update report needs."""

    query: str
    fetched: int = 0
    new: int = 0
    changed: int = 0
    baseline: bool = False
    not_modified: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notifications: int = 0
    abandoned: bool = False  # the process stopped before the commit: nothing was written


    @property
    def failed(self) -> bool:
        return self.error is not None

    def summary(self) -> str:
        if self.abandoned:
            return f"{self.query}: abandoned, litwatch is stopping (watermark unchanged)"
        if self.error:
            return f"{self.query}: FAILED: {self.error}"
        if self.not_modified:
            return f"{self.query}: not modified since the last run"
        what = "baseline" if self.baseline else f"new {self.new}, changed {self.changed}"
        return f"{self.query}: fetched {self.fetched}, {what} ({self.seconds:.1f} s)"


def window_for(query: SavedQuery, state: QueryState, source: Source, today: date) -> Window:
    """The window a run covers: from the watermark minus the source's overlap, or the baseline."""
    if state.watermark is None:
        return Window(start=query.since, end=today, baseline=True, validators=state.validators)
    overlap = timedelta(days=query.overlap_days) if query.overlap_days else source.overlap
    return Window(start=state.watermark - overlap, end=today, baseline=False,
                  validators=state.validators)


def run_query(query: SavedQuery, ctx: RunContext) -> RunReport:
    """Run `query` once and commit the result; never raises for an upstream failure.

    If the store refuses the commit because the process is stopping, the run is reported
    `abandoned` and nothing of it is written: its watermark stays where it was.
    """
    try:
        return _run_query(query, ctx)
    except CommitsFrozen:
        log.warning("%s: abandoned before its commit, litwatch is stopping", query.name)
        return RunReport(query=query.name, error="abandoned: litwatch is stopping", abandoned=True)


def _run_query(query: SavedQuery, ctx: RunContext) -> RunReport:
    store, settings, link = ctx.store, ctx.settings, ctx.link
    started = time.monotonic()
    moment = now()
    stamp = moment.isoformat(timespec="seconds")
    state = store.query_state(query.name)
    source = ctx.sources[query.source]
    window = window_for(query, state, source, moment.date())
    report = RunReport(query=query.name, baseline=window.baseline)
    try:
        result = source.fetch(query, window)
    except SourceError as exc:
        report.error = exc.message
    except Exception as exc:  # a bug or an unforeseen upstream answer: this query fails, others run
        log.exception("%s: fetch failed unexpectedly", query.name)
        report.error = f"unexpected {type(exc).__name__}: {exc}"
    if report.error is not None:
        report.seconds = time.monotonic() - started
        _commit_failure(query, store, settings, state, report, stamp)
        return report

    items = _dedupe(result.items)
    report.fetched = len(items)
    report.not_modified = result.not_modified
    report.warnings = list(result.warnings)
    # From diff to commit under the store's lock: a concurrent run of another query (a slash
    # command's `run` beside the scheduler) cannot see the same item as new and alert twice.
    with store.lock:
        diff = store.diff(items, query.name)
        for item in diff.touched:
            item.classification = ctx.classify(item)
        linked = link(diff.touched, store) if link and diff.touched else Links()
        if linked.merged:  # one work already stored from another source: no second item or alert
            diff.new = [i for i in diff.new if i.uid not in linked.merged]
        report.new, report.changed = len(diff.new), len(diff.changed)
        outbox = notifications(query, diff, report, settings, previous=state)
        report.notifications = len(outbox)
        new_state = QueryState(
            watermark=window.end,
            last_success=stamp,
            last_attempt=stamp,
            last_error=None,
            warnings=_warnings_after(result.not_modified, state, report),
            validators={**state.validators, **result.validators},
        )
        report.seconds = time.monotonic() - started
        # Items are stamped at commit time, so a digest taken during the fetch still sees them.
        store.commit(query.name, diff, outbox=outbox, state=new_state, run=_run_record(report),
                     updates=linked.updates, baseline=window.baseline)
    return report


def _warnings_after(not_modified: bool, state: QueryState, report: RunReport) -> list[str]:
    """The warnings a query's state keeps: a not-modified answer (304) re-served the content
    the earlier warnings were about, so they still hold (a malformed feed stays malformed)."""
    if not not_modified:
        return report.warnings
    return list(dict.fromkeys([*state.warnings, *report.warnings]))


def _commit_failure(query: SavedQuery, store: Store, settings: Settings, state: QueryState,
                    report: RunReport, stamp: str) -> None:
    failed = QueryState(
        watermark=state.watermark,  # a failed fetch never moves the watermark
        last_success=state.last_success,
        last_attempt=stamp,
        last_error=report.error,
        warnings=state.warnings,
        validators=state.validators,
    )
    outbox: list[Notification] = []
    if report.error != state.last_error:  # say it once, not on every failing run
        outbox += _notes("error", settings.alert_routes(query), query,
                         summary=Summary(message=f"query failed: {report.error}"))
    store.commit(query.name, outbox=outbox, state=failed, run=_run_record(report))


def notifications(query: SavedQuery, diff: Diff, report: RunReport, settings: Settings,
                  previous: QueryState) -> list[Notification]:
    """The outbox entries a run produces: routed, grouped, and baseline-aware; one per route."""
    routes = settings.alert_routes(query)
    notes: list[Notification] = []
    new_warnings = [w for w in report.warnings if w not in previous.warnings]
    if new_warnings:  # the query ran: a warning, not a failure
        notes += _notes("warning", routes, query, summary=Summary(message="; ".join(new_warnings)))
    touched = diff.touched
    if not touched:
        return notes
    if report.baseline:
        kinds = Counter(i.classification.kind for i in touched if i.classification)
        flagged = [i for i in touched if i.classification and (i.classification.safety or i.classification.integrity)]
        notes += _notes("baseline", routes, query, uids=[i.uid for i in touched], summary=Summary(
            count=len(touched), kinds=tuple(kinds.items()), flagged=len(flagged),
        ))
        if flagged:  # stored, not alerted one by one: listed once where safety is reviewed
            notes += _notes("baseline_flagged", settings.safety_routes(query), query,
                            uids=[i.uid for i in flagged], summary=Summary(count=len(flagged)))
        return notes
    grouped: list[str] = []
    quiet = {c.item.uid for c in diff.changed if corrected_only(c.old, c.item)}
    for item in touched:
        label = item.classification or Classification()
        if item.uid in quiet:  # an erratum alone: stored and shown on the item, never an alert
            continue
        if label.safety or label.integrity:
            kind: Kind = "safety" if label.safety else "integrity"
            notes += _notes(kind, settings.safety_routes(query), query, uids=[item.uid])
        else:
            grouped.append(item.uid)
    if grouped:
        notes += _notes("items", routes, query, uids=grouped,
                        summary=Summary(new=report.new, changed=report.changed))
    return notes


def _notes(kind: Kind, routes: tuple[str, ...], query: SavedQuery, *, uids: list[str] | None = None,
           summary: Summary | None = None) -> list[Notification]:
    return [Notification(kind=kind, route=route, query=query.name, uids=tuple(uids or ()),
                         summary=summary or Summary()) for route in routes]


def _run_record(report: RunReport) -> dict[str, Any]:
    return {
        "fetched": report.fetched, "new": report.new, "changed": report.changed,
        "failed": report.failed, "error": report.error, "baseline": report.baseline,
        "not_modified": report.not_modified, "seconds": round(report.seconds, 3),
    }


def _dedupe(items: list[Item]) -> list[Item]:
    seen: dict[str, Item] = {}
    for item in items:
        seen[item.uid] = item  # the last copy of a uid in one fetch is the freshest
    return list(seen.values())
