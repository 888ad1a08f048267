"""The digest's two pictures: a trend chart and the period's PRISMA diagram, drawn when it is
queued, uploaded beside the RIS in Slack, written to files (and named) on the console."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Settings, load_settings
from bot.decisions import Decision, Reviewer
from bot.digest import run_digests
from bot.store import Store
from tests.factories import channels, write_config
from tests.fakes.slack import FakeSlack
from tests.test_digest import MONDAY, labelled, stored
from tests.test_slack_deliver import sink_for

PNG = b"\x89PNG\r\n\x1a\n"


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
