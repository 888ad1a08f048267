"""The daemon's clock: one APScheduler cron job per enabled saved query, plus the digest job.

APScheduler 3.x, a `BackgroundScheduler` with an explicit time zone (the config's
`digest.timezone`) and one worker thread: runs are serialised (one fetch at a time is polite
to NCBI, and each commit is one store write anyway). Every job has `coalesce=True` (after a
stall, one run, not a burst), `max_instances=1` and a misfire grace of half its period, so a
daily run delayed behind a slow neighbour still happens the same day instead of being
dropped after APScheduler's default of one second.

The job functions are injected (the daemon passes its runner around `pipeline.run_query`),
so tests drive real schedules with fakes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.config import SavedQuery, Settings, now
from bot.inflight import InFlight

log = logging.getLogger(__name__)

DIGEST_JOB = "digest"
QUERY_JOB_PREFIX = "query:"
MIN_GRACE = 60  # seconds: a job late by less than a minute always runs
# How far back to look for the two previous fire times: short spans first, so a
# minutely crontab costs a few dozen trigger steps and a monthly one a few hundred.
_LOOKBACK = (
    timedelta(hours=2),
    timedelta(days=2),
    timedelta(days=16),
    timedelta(days=64),
    timedelta(days=400),
)

QueryJob = Callable[[SavedQuery], object]
DigestJob = Callable[[], object]
LastSuccess = Callable[[str], datetime | None]


def trigger_for(crontab: str, timezone: str) -> CronTrigger:
    """The cron trigger for a validated crontab (day names only: see config.crontab_problem)."""
    return CronTrigger.from_crontab(crontab, timezone=ZoneInfo(timezone))


def previous_fire_times(trigger: CronTrigger, moment: datetime, count: int = 2) -> list[datetime]:
    """The last `count` fire times at or before `moment`, oldest first (fewer if none exist)."""
    for span in _LOOKBACK:
        fired: list[datetime] = []
        fire = trigger.get_next_fire_time(None, moment - span)
        while fire is not None and fire <= moment:
            fired.append(fire)
            fire = trigger.get_next_fire_time(fire, fire)
        if len(fired) >= count:
            return fired[-count:]
    return fired[-count:]


def next_fire_time(crontab: str, timezone: str, moment: datetime | None = None) -> datetime | None:
    """When a crontab fires next after `moment` (now), in its timezone."""
    return trigger_for(crontab, timezone).get_next_fire_time(None, moment or now())


def schedule_period(crontab: str, timezone: str, moment: datetime | None = None) -> timedelta:
    """How often a crontab fires, measured between its two previous fire times."""
    moment = moment or now()
    fired = previous_fire_times(trigger_for(crontab, timezone), moment)
    if len(fired) < 2:
        return _LOOKBACK[-1]  # fires less than once a year: treat as yearly
    return fired[-1] - fired[-2]


def misfire_grace(period: timedelta) -> int:
    """Seconds a run may start late: half a period (a daily job: 12 h), at least a minute."""
    return max(MIN_GRACE, int(period.total_seconds() // 2))


def catch_up_due(
    crontab: str, timezone: str, last_success: datetime | None, moment: datetime | None = None
) -> bool:
    """Whether a query must run at start: never succeeded, or a fire time passed since its
    last success (the most recent fire at or before `moment` is later than that success).

    Comparing with the fire time, not with one schedule period, also catches a fire missed
    less than a period after the last success: a daily 06:00 job that last succeeded at
    06:40 yesterday (a `/litwatch run`, or queued behind other jobs) and a daemon down over
    today's 06:00 that restarts at 06:30.
    """
    if last_success is None:
        return True
    moment = moment or now()
    fired = previous_fire_times(trigger_for(crontab, timezone), moment, 1)
    return bool(fired) and fired[-1] > last_success


def is_job(name: str) -> bool:
    """Whether a work name is a scheduler job's id (`query:<name>` or `digest`)."""
    return name == DIGEST_JOB or name.startswith(QUERY_JOB_PREFIX)


class Scheduler:
    """The query and digest jobs of one daemon. `start()` catches up, `stop()` drains.

    Each job runs counted in `work` under its job id; the daemon passes its runner's
    `InFlight`, so one tracker holds the scheduled runs alongside chat runs and deliveries.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        run_query: QueryJob,
        run_digest: DigestJob | None,
        last_success: LastSuccess,
        clock: Callable[[], datetime] = now,
        work: InFlight | None = None,
    ):
        self.settings = settings
        self.timezone = settings.digest.timezone
        self._run_query = run_query
        self._run_digest = run_digest
        self._last_success = last_success
        self._clock = clock
        self.work = work if work is not None else InFlight()
        self.failures: list[tuple[str, str]] = []  # (job id, error) of jobs that raised
        self._scheduler = BackgroundScheduler(
            timezone=ZoneInfo(self.timezone),
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        moment = clock()
        for query in settings.enabled_queries:
            self._add(
                QUERY_JOB_PREFIX + query.name,
                query.schedule,
                moment,
                self._guarded,
                (QUERY_JOB_PREFIX + query.name, self._run_query, query),
            )
        if run_digest is not None:
            self._add(
                DIGEST_JOB,
                settings.digest.schedule,
                moment,
                self._guarded,
                (DIGEST_JOB, run_digest),
            )

    def _add(
        self,
        job_id: str,
        crontab: str,
        moment: datetime,
        func: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        period = schedule_period(crontab, self.timezone, moment)
        self._scheduler.add_job(
            func,
            trigger_for(crontab, self.timezone),
            args=args,
            id=job_id,
            name=job_id,
            misfire_grace_time=misfire_grace(period),
        )

    # -- running

    def _guarded(self, job_id: str, func: Callable[..., object], *args: Any) -> None:
        with self.work.track(job_id) as admitted:
            # Jobs already queued in the worker pool when `work` closed must not start.
            if admitted:
                func(*args)

    def _on_error(self, event: JobExecutionEvent) -> None:
        self.failures.append((event.job_id, repr(event.exception)))
        log.error("job %s failed: %r", event.job_id, event.exception)

    def catch_up(self) -> list[str]:
        """Queue, in config order, every query that missed a fire time since its last success.

        They run through their own jobs (same worker, same `max_instances=1`), so a catch-up
        run and a scheduled run of one query can never overlap.
        """
        moment = self._clock()
        due: list[str] = []
        for query in self.settings.enabled_queries:
            if catch_up_due(query.schedule, self.timezone, self._last_success(query.name), moment):
                due.append(query.name)
        # Stagger by a millisecond each so the worker takes them in config order.
        start = datetime.now(ZoneInfo(self.timezone))
        for offset, name in enumerate(due):
            self._scheduler.modify_job(
                QUERY_JOB_PREFIX + name, next_run_time=start + timedelta(milliseconds=offset)
            )
        return due

    def start(self, *, catch_up: bool = True) -> list[str]:
        """Start the clock; return the names of the queries queued for catch-up."""
        self._scheduler.start(paused=True)
        due = self.catch_up() if catch_up else []
        self._scheduler.resume()
        return due

    # -- inspecting

    def next_run(self, query_name: str) -> datetime | None:
        job = self._scheduler.get_job(QUERY_JOB_PREFIX + query_name)
        return job.next_run_time if job is not None else None

    @property
    def running(self) -> list[str]:
        """Job ids running right now (`query:<name>` or `digest`)."""
        return [name for name in self.work.running if is_job(name)]

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs())

    # -- stopping

    def stop(self, timeout: float = 7.0) -> bool:
        """Close `work`, wait up to `timeout` s for the running jobs; True if none is left.

        A job still running after that is abandoned, not killed: the pipeline commits a run
        in one write at its end, so a run cut off by process exit never moves its watermark.
        """
        self.work.close()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        return self.work.wait(timeout, which=is_job)
