"""The digest's two pictures: a trend chart and the period's PRISMA diagram, drawn when it is
queued, uploaded beside the RIS in Slack, written to files (and named) on the console."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import Settings, load_settings
from bot.decisions import Decision, Reviewer
from bot.digest import queue_digests, run_digests
from bot.outbox import flush
from bot.store import Store
from tests.factories import channels, write_config
from tests.fakes.slack import BOT_TOKEN, ApiCall, FakeSlack
from tests.test_digest import MONDAY, labelled, stored
from tests.test_slack_deliver import sink_for

PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parent.parent


def filled(tmp_path: Path) -> tuple[Store, Settings]:
    settings = load_settings(write_config(tmp_path))
    store = Store.open(tmp_path / "data")
    store.subscribe("slack:#team", "weekly", now=MONDAY)
    stored(store, [labelled(1), labelled(2, safety=True), labelled(3, kind="case_report")], MONDAY + timedelta(days=1))
    store.record_decisions([Decision("pmid:30000001", "include", Reviewer("U0ALICE01", "alice"),
                                     datetime(2026, 3, 4, tzinfo=UTC), "cli")])  # fmt: skip
    return store, settings


def test_slack_digest_uploads_the_trend_chart_and_prisma_diagram_beside_its_ris(tmp_path: Path,
                                                                                fake_slack: FakeSlack) -> None:
    """A Slack digest shares its RIS, then the trend chart and the PRISMA diagram as PNGs, in its channel."""
    store, settings = filled(tmp_path)
    with store:
        _, report = run_digests(store, settings, channels(sink_for(fake_slack)),
                                moment=MONDAY + timedelta(days=7))  # fmt: skip
    assert report.delivered == 1
    names = [f.filename for f in fake_slack.files]
    assert names == ["litwatch-digest-2026-03-09.ris", "digest-2026-03-09-from-2026-03-02-trend.png",
                     "digest-2026-03-09-from-2026-03-02-prisma.png"]  # fmt: skip
    assert all(f.content.startswith(PNG) for f in fake_slack.files[1:])
    channel = fake_slack.messages_in("#team")[0].channel
    assert {f.channel for f in fake_slack.files} == {channel} and fake_slack.rejected == []


def test_console_digest_writes_the_pictures_and_prints_their_paths(tmp_path: Path) -> None:
    """Without Slack the digest's pictures are PNG files beside the store, and the console names them."""
    store, settings = filled(tmp_path)
    out = io.StringIO()
    with store:
        run_digests(store, settings, channels(console=out), moment=MONDAY + timedelta(days=7))
    printed = [line.removeprefix("picture: ") for line in out.getvalue().splitlines() if line.startswith("picture: ")]
    assert [Path(p).name for p in printed] == ["digest-2026-03-09-from-2026-03-02-trend.png",
                                               "digest-2026-03-09-from-2026-03-02-prisma.png"]  # fmt: skip
    assert all(Path(p).parent == tmp_path / "data" / "figures" and Path(p).read_bytes().startswith(PNG)
               for p in printed)  # fmt: skip


def test_a_kill_during_the_last_picture_shares_only_that_file_again(tmp_path: Path, fake_slack: FakeSlack) -> None:
    """Regression (faults bench, "at most 2 after any one kill"): `litwatch digest` SIGKILLed while
    Slack takes its PRISMA diagram re-shares only that file on resume, not the RIS file and
    trend chart Slack had already confirmed: a kill repeats at most the one post in flight."""
    store, _ = filled(tmp_path)
    store.close()
    reached, release = threading.Event(), threading.Event()
    complete, shared = fake_slack._routes["files.completeUploadExternal"], []

    def slow_third_file(call: ApiCall) -> Any:
        shared.append(call)
        if len(shared) == 3:  # the RIS file and the trend chart are confirmed; the PRISMA diagram is in flight
            reached.set()
            release.wait(30)
        return complete(call)

    fake_slack.route("files.completeUploadExternal", slow_third_file)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITWATCH_CONFIG": str(tmp_path / "litwatch.toml"),
           "LITWATCH_DATA": str(tmp_path / "data"), "LITWATCH_NOW": (MONDAY + timedelta(days=7)).isoformat(),
           "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": fake_slack.api_url}  # fmt: skip
    child = subprocess.Popen([sys.executable, "-m", "bot", "digest", "--period", "weekly"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert reached.wait(60), "the digest never reached its third file"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
        release.set()  # the post in flight at the kill goes through, as Slack's would
    with Store.open(tmp_path / "data") as store:
        report = flush(store, channels(sink_for(fake_slack)))
        assert report.delivered == 1 and store.pending() == []
    stem = "digest-2026-03-09-from-2026-03-02"
    assert Counter(f.filename for f in fake_slack.files) == {
        "litwatch-digest-2026-03-09.ris": 1, f"{stem}-trend.png": 1, f"{stem}-prisma.png": 2}
    assert [m.text for m in fake_slack.messages_in("#team")][1:] == ["RIS file of the last digest follows."]


def test_a_second_digest_the_same_day_never_draws_over_the_pictures_of_one_still_pending(tmp_path: Path) -> None:
    """Regression (faults bench, pictures "shared twice"): a digest keeps only its pictures' paths,
    so a second digest of the same day and period start gets files of its own, and the first,
    delivered later (after a crash or an outage), shares its own pictures, not the second's."""
    store, settings = filled(tmp_path)
    moment = MONDAY + timedelta(days=7)
    with store:
        queue_digests(store, settings, period="weekly", moment=moment)  # from here, digests start on 03-09
        stored(store, [labelled(4, safety=True)], moment + timedelta(minutes=30))
        first = queue_digests(store, settings, period="weekly", moment=moment + timedelta(hours=1))[0].summary.pictures
        drawn = [Path(p).read_bytes() for p in first]
        stored(store, [labelled(5), labelled(6, kind="case_report")], moment + timedelta(minutes=90))
        second = queue_digests(store, settings, period="weekly", moment=moment + timedelta(hours=2))[0].summary.pictures
    assert [Path(p).read_bytes() for p in first] == drawn, "the second digest drew over the first one's pictures"
    assert [Path(p).name for p in first] == ["digest-2026-03-09-from-2026-03-09-trend.png",
                                             "digest-2026-03-09-from-2026-03-09-prisma.png"]  # fmt: skip
    assert [Path(p).name for p in second] == ["digest-2026-03-09-from-2026-03-09-2-trend.png",
                                              "digest-2026-03-09-from-2026-03-09-2-prisma.png"]  # fmt: skip


def test_a_digest_preview_leaves_no_picture_behind(tmp_path: Path, fake_slack: FakeSlack) -> None:
    """A preview (a Slack store's digest printed here without a token) writes no PNG; queued later, it draws them."""
    store, settings = filled(tmp_path)
    figures = tmp_path / "data" / "figures"
    out = io.StringIO()
    with store:
        store.remember_destination("slack")
        run, _ = run_digests(store, settings, channels(console=out), moment=MONDAY + timedelta(days=7))
        assert len(run.previewed) == 1 and "== Weekly digest" in out.getvalue()
        assert "picture: " not in out.getvalue() and not figures.exists()
        run, report = run_digests(store, settings, channels(sink_for(fake_slack)), moment=MONDAY + timedelta(days=7))
    assert len(run.queued) == 1 and report.delivered == 1
    assert sorted(p.name for p in figures.iterdir()) == ["digest-2026-03-09-from-2026-03-02-prisma.png",
                                                         "digest-2026-03-09-from-2026-03-02-trend.png"]  # fmt: skip
