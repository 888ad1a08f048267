"""One run of a saved query: windows, baseline, routing, failures that keep the watermark."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import run_queries
from bot.config import SavedQuery, Settings, load_settings
from bot.context import RunContext
from bot.errors import SourceError
from bot.models import Classification, FetchResult, Item, Window
from bot.notify import Notification
from bot.outbox import DeliveryFailed, flush
from bot.pipeline import run_query
from bot.render import PLAIN
from bot.store import Diff, QueryState, Store
from tests import factories
from tests.factories import channels, notification, pubmed_item, retracted, write_config


@dataclass
class ScriptedSource:
    """A Source that returns what the test scripted and records the windows it was asked for."""

    results: list[FetchResult | Exception] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    overlap: timedelta = timedelta(days=7)

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
        self.windows.append(window)
        outcome = self.results.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]:
        return []


def label(item: Item) -> Classification:
    """Test classifier: 'safety' in the title means a safety signal; retracted means integrity."""
    integrity = "Retracted Publication" in item.publication_types
    return Classification(kind="clinical", safety="safety" in item.title, integrity=integrity,
                          reasons=("test rule",))


class RecordingChannel:
    """A channel of scheme `scheme` that records what it was given; routes in `fail_routes` fail."""

    format = PLAIN

    def __init__(self, fail_routes: set[str] | None = None, scheme: str = "slack",
                 refuse_kinds: set[str] | None = None):
        self.sent: list[tuple[Notification, list[dict[str, Any]]]] = []
        self.fail_routes = fail_routes or set()
        self.refuse_kinds = refuse_kinds or set()  # refused as messages, every time
        self.scheme = self.label = scheme

    def send(self, notification: Notification, items: list[dict[str, Any]], start_part: int,
             on_part: Any = None, *, compact: bool = False) -> None:
        if notification.route in self.fail_routes:
            raise DeliveryFailed("channel_not_found")
        if notification.kind in self.refuse_kinds:
            raise DeliveryFailed("invalid_blocks", refused=True)
        self.sent.append((notification, items))
        if on_part:
            on_part(1, ())


def context(settings: Settings, store: Store, sources: dict[str, Any], *available: Any,
            console: io.StringIO | None = None) -> RunContext:
    return factories.context(settings, store, sources, *available, classify=label, console=console)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path))


def run(settings: Settings, store: Store, source: ScriptedSource, name: str = "pm") -> Any:
    query = settings.query(name)
    assert query is not None
    return run_query(query, context(settings, store, {"pubmed": source, "clinicaltrials": source}))


def test_first_run_is_a_baseline_with_one_summary(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first run stores everything and queues one summary, not one alert per record."""
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-10T06:00:00+00:00")
    store = Store.memory()
    source = ScriptedSource([FetchResult(items=[pubmed_item(n) for n in range(183)])])
    report = run(settings, store, source)
    assert source.windows[0] == Window(start=None, end=date(2026, 3, 10), baseline=True)
    assert report.baseline and report.new == 183
    notes = store.pending()
    assert [(n.kind, n.notification.summary.count) for n in notes] == [("baseline", 183)]
    assert store.query_state("pm").watermark == date(2026, 3, 10)


def test_later_runs_overlap_the_watermark_and_alert_on_new_only(settings: Settings,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The second window starts a week before the watermark; only unseen records alert."""
    store = Store.memory()
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-10T06:00:00+00:00")
    source = ScriptedSource([FetchResult(items=[pubmed_item(1), pubmed_item(2)]),
                             FetchResult(items=[pubmed_item(2), pubmed_item(3)])])
    run(settings, store, source)
    for note in store.pending():
        store.mark_delivered(note.id)
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-11T06:00:00+00:00")
    report = run(settings, store, source)
    assert source.windows[1] == Window(start=date(2026, 3, 3), end=date(2026, 3, 11))
    assert (report.new, report.changed, report.baseline) == (1, 0, False)
    assert [(n.kind, list(n.uids)) for n in store.pending()] == [("items", ["pmid:30000003"])]


def test_safety_and_integrity_go_to_the_safety_channel_one_each(settings: Settings) -> None:
    """Safety signals and retractions are routed one per message to safety_channel."""
    store = Store.memory()
    source = ScriptedSource([FetchResult(items=[pubmed_item(1)]),
                             FetchResult(items=[retracted(pubmed_item(1)),
                                                pubmed_item(2, title="Granuloma safety report"),
                                                pubmed_item(3)])])
    run(settings, store, source)
    for note in store.pending():
        store.mark_delivered(note.id)
    run(settings, store, source)
    routed = sorted((n.kind, n.route, n.uids) for n in store.pending())
    assert routed == [("integrity", "slack:C999", ("pmid:30000001",)), ("items", "slack:C111", ("pmid:30000003",)),
                      ("safety", "slack:C999", ("pmid:30000002",))]


def test_failed_fetch_keeps_the_watermark_and_records_the_error(settings: Settings,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A fetch that fails after its retries changes no watermark, records the error once."""
    store = Store.memory()
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-10T06:00:00+00:00")
    source = ScriptedSource([FetchResult(items=[pubmed_item(1)]),
                             SourceError("HTTP 429 after 5 attempts", query="pm"),
                             SourceError("HTTP 429 after 5 attempts", query="pm")])
    run(settings, store, source)
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-12T06:00:00+00:00")
    first = run(settings, store, source)
    second = run(settings, store, source)
    state = store.query_state("pm")
    assert first.failed and state.watermark == date(2026, 3, 10)
    assert state.last_error == "HTTP 429 after 5 attempts"
    errors = [n for n in store.pending() if n.kind == "error"]
    assert len(errors) == 1 and second.failed  # said once, not on every failing run
    assert [r["failed"] for r in store.runs("pm")] == [False, True, True]


def test_upstream_warnings_are_surfaced_once(settings: Settings) -> None:
    """A PhraseNotFound-style warning is kept in the state and queued to the channel once."""
    store = Store.memory()
    warn = "PhraseNotFound: exosomez"
    source = ScriptedSource([FetchResult(items=[pubmed_item(1)], warnings=[warn]),
                             FetchResult(items=[pubmed_item(1)], warnings=[warn])])
    run(settings, store, source)
    run(settings, store, source)
    assert store.query_state("pm").warnings == [warn]
    assert [n.notification.summary.message for n in store.pending() if n.kind == "warning"] == [warn]


def test_a_warning_is_queued_as_a_warning_not_a_failure(settings: Settings) -> None:
    """Regression (warnings read as failures): a query that ran with a warning queues a "warning"
    notification, worded as such, and no "error" one."""
    from bot.console import render_text

    store = Store.memory()
    warn = "feed is not well-formed (bozo): mismatched tag"
    run(settings, store, ScriptedSource([FetchResult(items=[pubmed_item(1)], warnings=[warn])]))
    notes = [n for n in store.pending() if n.kind in ("warning", "error")]
    assert [n.kind for n in notes] == ["warning"]
    text = render_text(notes[0].notification, [])
    assert "Query warning — pm" in text and warn in text
    assert "failed" not in text.lower() and "retries" not in text


def test_a_not_modified_run_keeps_the_previous_warnings(settings: Settings) -> None:
    """Regression (warnings read as failures): a 304 run re-serves the content the warning was about,
    so `status` keeps showing it instead of reporting the malformed feed healthy."""
    store = Store.memory()
    warn = "feed is not well-formed (bozo): mismatched tag"
    source = ScriptedSource([FetchResult(items=[pubmed_item(1)], warnings=[warn]),
                             FetchResult(not_modified=True)])
    run(settings, store, source)
    second = run(settings, store, source)
    assert second.not_modified and second.warnings == []
    assert store.query_state("pm").warnings == [warn]
    assert len([n for n in store.pending() if n.kind == "warning"]) == 1  # not announced again


def test_flush_delivers_and_keeps_failures_pending(settings: Settings) -> None:
    """Delivery marks a notification sent only after the channel confirms it; failures stay with the error."""
    store = Store.memory()
    store.add_notifications([notification("items", "slack:C1"),
                             notification("safety", "slack:CGONE"),
                             notification("safety", "slack:CGONE")])
    sink = RecordingChannel(fail_routes={"slack:CGONE"})
    report = flush(store, channels(sink))
    assert (report.delivered, len(report.failed), report.skipped) == (1, 1, 1)
    pending = store.pending()
    assert [n.route for n in pending] == ["slack:CGONE", "slack:CGONE"]
    assert pending[0].last_error == "channel_not_found" and pending[0].attempts == 1
    sink.fail_routes.clear()
    assert flush(store, channels(sink)).delivered == 2 and store.pending() == []
    assert len(sink.sent) == 3  # nothing confirmed was sent twice


def test_console_consumes_the_outbox_of_a_store_that_never_had_slack(settings: Settings) -> None:
    """Terminal mode (`make run` without a token, never Slack): the console is the destination, so
    printed notifications are delivered, as before the held-for-Slack fix."""
    store = Store.memory()
    store.add_notifications([notification("safety", "slack:C999")])
    report = flush(store, channels())
    assert (report.delivered, sum(report.held.values())) == (1, 0) and store.pending() == []
    assert store.destinations() == set()


def test_console_flush_of_a_slack_store_prints_but_keeps_every_notification(settings: Settings) -> None:
    """Regression (alerts consumed by the terminal): once a store delivered to Slack, a console flush
    shows each pending notification, safety ones too, and leaves it untouched for Slack."""
    store = Store.memory()
    store.commit("pm", Diff(new=[pubmed_item(1, title="safety signal")]))
    store.add_notifications([notification("error", message="x")])
    flush(store, channels(RecordingChannel()))
    assert store.destinations() == {"slack"}
    store.add_notifications([notification("safety", "slack:C999", ["pmid:30000001"]),
                             notification("items", "slack:C111", ["pmid:30000001"])])
    before = store.pending()
    out = io.StringIO()
    report = flush(store, channels(console=out))
    assert (report.delivered, report.held, report.failed) == (0, {"slack": 2}, [])
    assert store.pending() == before  # no attempt, error or part progress recorded either
    assert out.getvalue().count("--- to ") == 2 and "Safety signal" in out.getvalue()


def test_run_queries_then_console_output(settings: Settings) -> None:
    """`once` logic: every enabled query runs, then the console prints what Slack would get."""
    store = Store.memory()
    pm = ScriptedSource([FetchResult(items=[pubmed_item(1)])])
    ct = ScriptedSource([SourceError("400: bad query.term", query="ct")])
    out = io.StringIO()
    ctx = context(settings, store, {"pubmed": pm, "clinicaltrials": ct}, console=out)
    reports, delivered = run_queries(ctx)
    assert [r.summary().split(" (")[0] for r in reports] == ["pm: fetched 1, baseline", "ct: FAILED: 400: bad query.term"]
    text = out.getvalue()
    assert "--- to slack:C111\n== Baseline — pm ==" in text and "1 existing item stored as the baseline" in text
    assert "query failed: 400: bad query.term" in text
    assert delivered.delivered == 2 and store.pending() == []


def test_concurrent_runs_finding_the_same_item_alert_once(settings: Settings) -> None:
    """Regression (review finding 4): two queries fetching the same new record at once queue one alert."""
    import threading

    store = Store.memory()
    for name in ("pm", "ct"):  # past their baselines
        store.commit(name, state=QueryState(watermark=date(2026, 1, 1)))
    both_fetched = threading.Barrier(2)

    class Racing(ScriptedSource):
        def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
            both_fetched.wait(timeout=5)
            return FetchResult(items=[pubmed_item(7)])

    threads = [threading.Thread(target=run_query, args=(settings.query(name), context(
                   settings, store, {"pubmed": Racing(), "clinicaltrials": Racing()})))
               for name in ("pm", "ct")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    alerted = [uid for note in store.pending() for uid in note.uids]
    assert alerted == ["pmid:30000007"]
    assert sorted(store.get("pmid:30000007")["queries"]) == ["ct", "pm"]  # type: ignore[index]


def test_an_unexpected_exception_fails_only_its_query(settings: Settings) -> None:
    """A source raising something unforeseen records that query's failure; the other queries still run."""
    store = Store.memory()
    broken = ScriptedSource([RuntimeError("parser bug")])
    fine = ScriptedSource([FetchResult(items=[pubmed_item(1)])])
    reports, _ = run_queries(context(settings, store, {"pubmed": fine, "clinicaltrials": broken},
                                     RecordingChannel()))
    assert [r.failed for r in reports] == [False, True]
    assert reports[1].error == "unexpected RuntimeError: parser bug"
    assert store.query_state("ct").last_error == "unexpected RuntimeError: parser bug"


def test_a_run_whose_commit_is_refused_at_stop_is_abandoned_and_writes_nothing(settings: Settings) -> None:
    """Regression (a stopping daemon must abandon a run before its commit, not block it):
    when the store refuses the commit, the run is reported abandoned and the watermark stays."""
    store = Store.memory()
    store.save_state("pm", QueryState(watermark=date(2025, 1, 1), last_success="2025-01-01T00:00:00+00:00"))
    store.freeze_commits()
    for outcome in (FetchResult(items=[pubmed_item(1, title="safety")]), SourceError("down", query="pm")):
        report = run(settings, store, ScriptedSource([outcome]))
        assert report.abandoned and report.failed and "stopping" in report.summary()
        assert store.query_state("pm").watermark == date(2025, 1, 1)
        assert store.get("pmid:30000001") is None and store.pending() == [] and store.runs() == []


def test_baseline_flagged_records_are_listed_once_to_the_safety_channel(settings: Settings,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: a baseline's flagged records go to the safety channel in one list, linked, with a count."""
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-10T06:00:00+00:00")
    store = Store.memory()
    items = [pubmed_item(n, title=f"Granuloma safety report {n}" if n < 13 else f"Study {n}")
             for n in range(1, 31)]
    run(settings, store, ScriptedSource([FetchResult(items=items)]))
    notes = {n.kind: n for n in store.pending()}
    assert set(notes) == {"baseline", "baseline_flagged"}
    flagged = notes["baseline_flagged"]
    assert flagged.route == "slack:C999"
    assert len(flagged.uids) == 12 and flagged.notification.summary.count == 12
    out = io.StringIO()
    flush(store, channels(console=out))
    text = out.getvalue()
    assert "--- to slack:C999\n== Baseline — 12 flagged records — pm ==" in text
    assert text.count("• Granuloma safety report") == 10  # the top 10, then a count
    assert "+2 more: /litwatch flagged pm or litwatch export --flagged --query pm" in text
    assert "12 carry a safety or integrity flag: they are listed in one message to the safety channel" in text


def test_baseline_without_flags_posts_only_its_summary(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing flagged in a baseline: no second message for the safety channel."""
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-10T06:00:00+00:00")
    store = Store.memory()
    run(settings, store, ScriptedSource([FetchResult(items=[pubmed_item(1), pubmed_item(2)])]))
    assert [n.kind for n in store.pending()] == ["baseline"]


def test_a_refused_announcement_is_set_aside_without_announcing_itself(settings: Settings) -> None:
    """The "set aside" line, refused too, is set aside silently (no chain of announcements); and a
    stopping store, which takes no commit, still sets the refused notification aside."""
    store = Store.memory()
    store.add_notifications([notification("items", "slack:C111")])
    refusing = RecordingChannel(refuse_kinds={"items", "set_aside"})
    assert len(flush(store, channels(refusing)).set_aside) == 1
    assert [(n.kind, n.set_aside) for n in store.pending()] == [("items", True), ("set_aside", False)]
    assert len(flush(store, channels(refusing)).set_aside) == 1
    assert [(n.kind, n.set_aside) for n in store.pending()] == [("items", True), ("set_aside", True)]
    stopping = Store.memory()
    stopping.add_notifications([notification("items", "slack:C111")])
    stopping.freeze_commits()
    assert len(flush(stopping, channels(refusing)).set_aside) == 1
    assert [(n.kind, n.set_aside, n.attempts) for n in stopping.pending()] == [("items", True, 2)]
