"""The scheduler: jobs from config, periods, catch-up on start and a draining stop."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import SavedQuery, Settings, parse_settings
from bot.scheduler import (
    DIGEST_JOB,
    Scheduler,
    catch_up_due,
    misfire_grace,
    previous_fire_times,
    schedule_period,
    trigger_for,
)

NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)  # a Wednesday


def make_settings(*queries: dict[str, Any], timezone: str = "UTC") -> Settings:
    raw = {
        "slack": {"channel": "C1"},
        "digest": {"schedule": "0 9 * * mon", "timezone": timezone},
        "queries": list(queries),
    }
    return parse_settings(raw, Path("test.toml"))


def pubmed(name: str, schedule: str = "0 6 * * *", **extra: Any) -> dict[str, Any]:
    return {"name": name, "source": "pubmed", "term": "exosome", "schedule": schedule, **extra}


class Recorder:
    """An injected job function that records the queries it ran, optionally blocking."""

    def __init__(self, hold: float = 0.0):
        self.ran: list[str] = []
        self.hold = hold
        self.started = threading.Event()
        self.done = threading.Event()

    def __call__(self, query: SavedQuery) -> None:
        self.started.set()
        time.sleep(self.hold)
        self.ran.append(query.name)
        self.done.set()


def never_run(settings: Settings, job: Any) -> Scheduler:
    """A scheduler (no digest job) over queries that have never succeeded."""
    return Scheduler(
        settings, run_query=job, run_digest=None, last_success=lambda name: None, clock=lambda: NOW
    )


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_one_job_per_enabled_query_plus_digest() -> None:
    """Every enabled saved query gets a job and the digest gets one; disabled queries none."""
    settings = make_settings(pubmed("a"), pubmed("b", enabled=False), pubmed("c"))
    sched = Scheduler(
        settings,
        run_query=Recorder(),
        run_digest=lambda: None,
        last_success=lambda name: None,
        clock=lambda: NOW,
    )
    assert sched.job_ids() == [DIGEST_JOB, "query:a", "query:c"]


def test_jobs_coalesce_single_instance_and_daily_grace() -> None:
    """Jobs coalesce, never overlap, use the config's time zone; a daily job may start 12 h late."""
    settings = make_settings(pubmed("a"), pubmed("hourly", "5 * * * *"), timezone="Europe/Berlin")
    sched = never_run(settings, Recorder())
    # APScheduler applies its job_defaults when it adds the pending jobs, at start.
    sched._scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in sched._scheduler.get_jobs()}
        daily = jobs["query:a"]
        assert daily.coalesce is True and daily.max_instances == 1
        assert daily.misfire_grace_time == 12 * 3600
        assert jobs["query:hourly"].misfire_grace_time == 1800
        assert str(daily.trigger.timezone) == "Europe/Berlin"
        assert str(sched._scheduler.timezone) == "Europe/Berlin"
    finally:
        sched.stop()


def test_schedule_period_from_previous_fire_times() -> None:
    """The period is the gap between the two previous fire times of the crontab."""
    assert schedule_period("0 6 * * *", "UTC", NOW) == timedelta(days=1)
    assert schedule_period("0 */6 * * *", "UTC", NOW) == timedelta(hours=6)
    assert schedule_period("*/15 * * * *", "UTC", NOW) == timedelta(minutes=15)
    assert schedule_period("0 9 * * mon", "UTC", NOW) == timedelta(days=7)
    assert schedule_period("0 9 1 * *", "UTC", NOW) == timedelta(days=28)  # Feb 1 -> Mar 1


def test_weekday_crontab_period_on_monday_is_the_weekend_gap() -> None:
    """On a Monday after the run, a weekday-only schedule's last gap is Friday to Monday."""
    monday = datetime(2025, 3, 10, 7, 0, tzinfo=UTC)
    assert schedule_period("0 6 * * mon-fri", "UTC", monday) == timedelta(days=3)


def test_previous_fire_times_are_in_the_configured_zone() -> None:
    """Fire times follow the configured zone, so 06:00 Berlin is 05:00 UTC in winter."""
    fired = previous_fire_times(trigger_for("0 6 * * *", "Europe/Berlin"), NOW)
    assert [f.astimezone(UTC).hour for f in fired] == [5, 5]
    assert fired[1] - fired[0] == timedelta(days=1)


def test_misfire_grace_is_half_a_period_with_a_floor() -> None:
    """Grace is half the period, never below a minute."""
    assert misfire_grace(timedelta(days=7)) == 7 * 12 * 3600
    assert misfire_grace(timedelta(minutes=1)) == 60


def test_catch_up_due_rules() -> None:
    """A query never run, or last successful longer than its period ago, is due; a fresh one not."""
    assert catch_up_due("0 6 * * *", "UTC", None, NOW)
    assert catch_up_due("0 6 * * *", "UTC", NOW - timedelta(days=1, minutes=1), NOW)
    assert not catch_up_due("0 6 * * *", "UTC", NOW - timedelta(hours=4), NOW)
    assert not catch_up_due("0 9 * * mon", "UTC", NOW - timedelta(days=2), NOW)


def test_catch_up_when_a_fire_time_passed_less_than_a_period_after_the_last_success() -> None:
    """Regression (missed daily run, 48 h gap): a daily 06:00 job last successful at 06:40
    yesterday, with the daemon down over today's 06:00 and back at 06:30, is caught up."""
    london = ZoneInfo("Europe/London")
    last = datetime(2026, 3, 9, 6, 40, tzinfo=london)
    restart = datetime(2026, 3, 10, 6, 30, tzinfo=london)
    assert catch_up_due("0 6 * * *", "Europe/London", last, restart)
    # Stamps are stored in UTC: the comparison is across zones.
    assert catch_up_due("0 6 * * *", "Europe/London", last.astimezone(UTC), restart)
    # Before today's fire time nothing was missed; a success at the fire time itself counts.
    assert not catch_up_due("0 6 * * *", "Europe/London", last, restart.replace(hour=5, minute=59))
    assert not catch_up_due("0 6 * * *", "Europe/London", restart.replace(hour=6, minute=0), restart)


def test_start_catches_up_stale_queries_only_in_config_order() -> None:
    """On start, the queries whose last success is older than their period run at once, in order."""
    settings = make_settings(pubmed("never"), pubmed("fresh"), pubmed("stale"))
    last = {"fresh": NOW - timedelta(hours=3), "stale": NOW - timedelta(days=3)}
    recorder = Recorder()
    sched = Scheduler(
        settings, run_query=recorder, run_digest=None, last_success=last.get, clock=lambda: NOW
    )
    try:
        due = sched.start()
        assert due == ["never", "stale"]
        assert wait_for(lambda: len(recorder.ran) == 2)
        time.sleep(0.1)
        assert recorder.ran == ["never", "stale"]
        # After catching up, each job follows its crontab again.
        next_run = sched.next_run("never")
        assert next_run is not None and next_run > datetime.now(UTC)
        assert (next_run.hour, next_run.minute) == (6, 0)
    finally:
        assert sched.stop(timeout=5)


def test_start_without_catch_up_runs_nothing_now() -> None:
    """With catch-up off, nothing runs until a fire time."""
    recorder = Recorder()
    sched = never_run(make_settings(pubmed("a")), recorder)
    try:
        assert sched.start(catch_up=False) == []
        time.sleep(0.3)
        assert recorder.ran == []
    finally:
        sched.stop()


def test_stop_waits_for_the_running_job() -> None:
    """stop() lets the running job finish when it ends within the timeout."""
    recorder = Recorder(hold=0.5)
    sched = never_run(make_settings(pubmed("slow")), recorder)
    sched.start()
    assert recorder.started.wait(5)
    assert sched.running == ["query:slow"]
    assert sched.stop(timeout=5) is True
    assert recorder.ran == ["slow"]


def test_stop_gives_up_on_a_job_past_the_timeout_and_starts_no_queued_one() -> None:
    """A job past the timeout is abandoned (stop returns False); queued jobs never start."""
    release = threading.Event()
    ran: list[str] = []

    def job(query: SavedQuery) -> None:
        ran.append(query.name)
        release.wait(10)

    sched = never_run(make_settings(pubmed("first"), pubmed("second")), job)
    sched.start()
    assert wait_for(lambda: ran == ["first"])
    assert sched.stop(timeout=0.2) is False
    release.set()
    time.sleep(0.3)
    assert ran == ["first"]


def test_a_failing_job_is_recorded_and_the_next_still_runs() -> None:
    """An exception in one query's job is recorded and does not stop the others."""
    ran: list[str] = []

    def job(query: SavedQuery) -> None:
        ran.append(query.name)
        if query.name == "broken":
            raise RuntimeError("boom")

    sched = never_run(make_settings(pubmed("broken"), pubmed("fine")), job)
    try:
        sched.start()
        assert wait_for(lambda: ran == ["broken", "fine"])
        assert wait_for(lambda: bool(sched.failures))
        assert sched.failures[0][0] == "query:broken" and "boom" in sched.failures[0][1]
    finally:
        sched.stop()


@pytest.mark.parametrize("crontab", ["0 6 * * 1", "0 6 * * 0-4"])
def test_numeric_weekdays_never_reach_the_scheduler(crontab: str) -> None:
    """Numeric weekdays are rejected by the config, so 0 can never silently mean Monday."""
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="day names"):
        make_settings(pubmed("a", crontab))
