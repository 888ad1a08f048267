"""`litwatch demo`: the whole cycle offline, through the real commands, on invented records."""

from __future__ import annotations

import contextlib
import io
import re
from datetime import date
from pathlib import Path

import pytest
import rispy

from bot.cli import main
from bot.demo.records import arrive, day_one
from bot.demo.servers import StandIns


def _blocks(output: str) -> dict[str, str]:
    """The demo's numbered steps, by title ("== 2. Day 1, 06:00: …" -> its text)."""
    parts = re.split(r"^== \d+\. ", output, flags=re.M)[1:]
    return {part.splitlines()[0]: part for part in parts}


def one_line(text: str) -> str:
    assert "Traceback" not in text and text.strip() and "\n" not in text.strip(), text
    return text.strip()


def _block(output: str, words: str) -> str:
    """The one step whose title contains `words`."""
    return next(text for title, text in _blocks(output).items() if words in title)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """One run of the demo (it starts real processes, so the tests share it)."""
    directory = tmp_path_factory.mktemp("demo") / "tour"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLACK_BOT_TOKEN", "xoxb-never-used-by-the-demo")
        mp.setenv("SMTP_URL", "smtp://mail.invalid:25")
        mp.setenv("NCBI_EUTILS_URL", "http://eutils.invalid")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["demo", "--dir", str(directory)])
    return code, out.getvalue(), directory


def test_demo_narrates_every_step(demo: tuple[int, str, Path]) -> None:
    """The demo exits 0 and shows stand-ins, baseline, subscription, next run, digest, export, status."""
    code, output, _ = demo
    assert code == 0, output
    titles = list(_blocks(output))
    for expected in ("Stand-ins", "baseline", "subscribes", "next scheduled run", "digest",
                     "export", "status", "Done"):
        assert any(expected in title for title in titles), (expected, titles)
    assert "$ litwatch once" in output and "$ litwatch digest" in output


def test_demo_baseline_posts_summaries_not_items(demo: tuple[int, str, Path]) -> None:
    """Day 1 stores every record as a baseline: no per-item alerts, the flagged record listed once."""
    block = _block(demo[1], "baseline")
    assert len(re.findall(r"fetched \d+, baseline \(", block)) == 3  # pubmed, trials, feed
    assert "Topical exosome serum" not in block  # unflagged records are counted, not listed
    assert block.count("Scalp abscesses after microneedling") == 1 and "#hair-loss-safety" in block


def test_demo_second_run_alerts_safety_and_retraction(demo: tuple[int, str, Path]) -> None:
    """Day 2 alerts the case report and the stopped trial as safety signals and the retraction."""
    block = _block(demo[1], "next scheduled run")
    lowered = block.lower()
    assert "safety signal" in lowered and "integrity" in lowered
    assert "Granulomatous reaction after scalp injections" in block
    assert "Exosome Injections for Patchy Alopecia Areata" in block and "TERMINATED" in block
    assert "Retraction: Adipose-derived exosomes" in block
    assert "#hair-loss-safety" in block  # flagged items go to the safety channel
    assert "Split-scalp comparison" in block  # the clinical study, as a per-run alert


def test_demo_digest_and_exports(demo: tuple[int, str, Path]) -> None:
    """The digest lists day 2's arrivals and the RIS and CSV exports exist where it says."""
    _, output, directory = demo
    digest = _block(output, "Day 2, 09:00")
    assert "#journal-club" in digest and "Split-scalp comparison" in digest
    ris = directory / "exports" / "litwatch.ris"
    assert str(ris) in output and (directory / "exports" / "litwatch.csv").exists()
    entries = rispy.loads(ris.read_text(encoding="utf-8"))
    assert {e["accession_number"] for e in entries} >= {"99000105", "99000106", "NCT09900011"}
    assert str(directory) in output.split("== ")[-1]  # the last step names where everything is


def test_demo_refuses_a_directory_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Pointed at a non-empty directory, the demo says so in one line and touches nothing."""
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    assert main(["demo", "--dir", str(tmp_path)]) == 1
    assert "not empty" in one_line(capsys.readouterr().err)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_stand_ins_listen_on_loopback_only() -> None:
    """The stand-in upstreams bind 127.0.0.1, on a port the system picked."""
    with StandIns(day_one(date(2026, 3, 9))) as stand_ins:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", stand_ins.base)
        assert not stand_ins.base.endswith(":0")


def test_arrival_retracts_a_stored_paper() -> None:
    """Day 2 adds the notice and marks the day-1 paper retracted, with links both ways."""
    upstream = day_one(date(2026, 3, 9))
    assert not upstream.papers["99000103"].integrity
    arrive(upstream, date(2026, 3, 10))
    assert upstream.papers["99000103"].integrity
    assert ("RetractionOf", "99000103") in upstream.papers["99000106"].links


def test_demo_directory_that_cannot_be_made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --dir inside a file is one line naming it, before any server starts."""
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert main(["demo", "--dir", str(blocker / "tour")]) == 1
    out, err = capsys.readouterr()
    assert f"cannot create {blocker / 'tour'}" in one_line(err) and out == ""
