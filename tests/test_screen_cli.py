"""`litwatch screen`, `decide`, `prisma` and decisions in exports and status."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import rispy

from bot.cli import main
from bot.config import Environment
from bot.models import Classification
from bot.store import Store
from tests.factories import MINIMAL_CONFIG, pubmed_item, trial_item, write_config


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four papers (one safety signal, one case report) and a trial, none decided."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, MINIMAL_CONFIG + """
[screening]
reviewers = ["U0ALICE01"]
""")))
    monkeypatch.setenv("LITWATCH_NOW", "2026-11-30T08:00:00+00:00")
    data = Environment.from_env().data_dir
    papers = [pubmed_item(n) for n in range(1, 5)]
    papers[0].classification = Classification("other")
    papers[1].classification = Classification("clinical", safety=True)
    papers[2].classification = Classification("case_report")
    papers[3].classification = Classification("clinical")
    trial = trial_item("NCT01234567")
    trial.classification = Classification("clinical")
    with Store.open(data) as store:
        store.commit("pm", store.diff(papers, "pm"), now=datetime(2026, 10, 5, tzinfo=UTC))
        store.commit("ct", store.diff([trial], "ct"), now=datetime(2026, 11, 20, tzinfo=UTC))
    return data


def screen_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["screen", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_screen_json_lists_undecided_best_first(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json: uid, title and score for each undecided record; the safety signal leads before decisions."""
    queue = screen_json(capsys, "--next", "3")
    assert [q["uid"] for q in queue][:1] == ["pmid:30000002"]
    assert len(queue) == 3
    assert {"uid", "title", "score"} <= set(queue[0])
    assert queue[0]["basis"] == "classifier"


def test_decided_records_leave_the_queue_and_the_model_takes_over(
        store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """After an include and an exclude, the queue holds only the rest, ranked by the model."""
    assert main(["decide", "include", "pmid:30000004", "--by", "Alice"]) == 0
    assert main(["decide", "exclude", "nct:NCT01234567", "--reason", "wrong study design"]) == 0
    out = capsys.readouterr().out
    assert "pmid:30000004: ✓ Included by Alice" in out
    assert "nct:NCT01234567: ✗ Excluded by command line (wrong study design)" in out
    queue = screen_json(capsys)
    assert {q["uid"] for q in queue} == {"pmid:30000001", "pmid:30000002", "pmid:30000003"}
    assert {q["basis"] for q in queue} == {"model"}


def test_screen_text_and_query_filter(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--query ct lists only the trial, with its score, uid, labels and title on one line."""
    assert main(["screen", "--query", "ct"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("5 record(s) await screening; ranked by the classifier")
    assert out.splitlines()[1] == "0.400  nct:NCT01234567  [clinical]  Exosomes for alopecia (NCT01234567)"


def test_screen_unknown_query_is_an_error(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A saved query that does not exist: exit 1 naming the known ones."""
    assert main(["screen", "--query", "nope"]) == 1
    assert "no saved query named 'nope' (known: pm, ct)" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["decide", "include", "pmid:1"], "error: no stored record pmid:1; nothing was recorded"),
    (["decide", "exclude", "pmid:30000001", "--reason", "too long"],
     "error: --reason 'too long' is not one of [screening] exclusion_reasons: wrong population; "),
    (["decide", "include", "pmid:30000001", "--reason", "duplicate"],
     "error: --reason goes with `decide exclude UID...`"),
    (["decide", "include", "pmid:30000001", "--by", "U0MALLORY"],
     "error: U0MALLORY is not among [screening] reviewers: only reviewers can screen"),
    (["decide", "include"], "error: say what and which: litwatch decide include|exclude|maybe UID..."),
    (["decide", "include", "pmid:30000001", "--from", "x.csv"], "error: give either UIDs or --from FILE"),
])  # fmt: skip
def test_bad_decisions_are_one_line_errors_and_record_nothing(
        store_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:  # fmt: skip
    """Unknown uid, a reason not configured or on an include, a non-reviewer, missing parts: exit 1."""
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with Store.open(store_dir, readonly=True) as store:
        assert store.decision_history() == []


def test_decide_refuses_while_a_daemon_holds_the_store(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The daemon is the single writer: a CLI decision meanwhile fails on the lock, recording nothing."""
    with Store.open(store_dir):
        assert main(["decide", "include", "pmid:30000001"]) == 1
    assert "is in use by another litwatch process" in capsys.readouterr().err


def test_a_reviewer_id_and_a_repeat(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A listed Slack ID may decide; deciding the same again says nothing was recorded."""
    assert main(["decide", "maybe", "pmid:30000001", "--by", "U0ALICE01"]) == 0
    assert main(["decide", "maybe", "pmid:30000001", "--by", "U0ALICE01"]) == 0
    assert "pmid:30000001: ? Maybe by U0ALICE01 (already so: nothing recorded)" in capsys.readouterr().out


def test_exports_carry_the_decision(store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON: screening object or null; CSV: screening_* columns; RIS: a LITWATCH-INCLUSION note and keyword."""
    assert main(["decide", "exclude", "pmid:30000001", "--reason", "Not Human", "--by", "Bob"]) == 0
    capsys.readouterr()
    assert main(["export", "--format", "json"]) == 0
    records = {r["uid"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["pmid:30000001"]["screening"] == {
        "decision": "exclude", "by": "Bob", "at": "2026-11-30T08:00:00+00:00", "reason": "not human"}
    assert records["pmid:30000002"]["screening"] is None

    assert main(["export", "--format", "csv"]) == 0
    rows = {r["uid"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert (rows["pmid:30000001"]["screening_decision"], rows["pmid:30000001"]["screening_reason"]) == (
        "exclude", "not human")
    assert rows["pmid:30000002"]["screening_decision"] == ""

    out = tmp_path / "out.ris"
    assert main(["export", "--format", "ris", "-o", str(out)]) == 0
    entries = {e["accession_number"]: e for e in rispy.loads(out.read_text())}
    excluded = entries["30000001"]
    assert 'LITWATCH-INCLUSION: {"Bob"=>"Excluded"} | LITWATCH-EXCLUSION-REASONS: not human' in excluded["notes"]
    assert "litwatch:excluded" in excluded["keywords"]
    assert not any(k.startswith("litwatch:incl") or k == "litwatch:excluded" for k in entries["30000002"]["keywords"])


def test_status_counts_what_awaits_screening(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """status: 5 stored, 1 decided, so 4 await screening."""
    assert main(["decide", "include", "pmid:30000003"]) == 0
    capsys.readouterr()
    main(["status"])
    assert "screening: 4 record(s) await screening, 1 decided" in capsys.readouterr().out


def test_prisma_json_splits_the_update_from_the_previous(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--since between the two runs: the trial is this update, the papers the previous one."""
    assert main(["decide", "include", "pmid:30000004", "pmid:30000002"]) == 0
    assert main(["decide", "exclude", "nct:NCT01234567", "--reason", "wrong outcome"]) == 0
    capsys.readouterr()
    assert main(["prisma", "--since", "2026-11-01"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["identified"], counts["identified_by_source"]) == (1, {"ClinicalTrials.gov: ct": 1})
    assert (counts["screened"], counts["excluded"], counts["excluded_by_reason"]) == (1, 1, {"wrong outcome": 1})
    assert (counts["previous"]["identified"], counts["previous"]["included"]) == (4, 2)
    assert counts["previous"]["awaiting"] == 2 and counts["total_included"] == 2


def test_prisma_pictures_are_written(store_dir: Path, tmp_path: Path) -> None:
    """-o with --format png / svg writes a PNG and an SVG file."""
    png, svg = tmp_path / "flow.png", tmp_path / "flow.svg"
    assert main(["prisma", "--format", "png", "-o", str(png)]) == 0
    assert main(["prisma", "--format", "svg", "-o", str(svg)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Records identified (n = 5)" in svg.read_text(encoding="utf-8")


def test_prisma_bad_since(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--since that is not a date: a usage error (exit 2) with the expected forms."""
    with pytest.raises(SystemExit) as exited:
        main(["prisma", "--since", "last week"])
    assert exited.value.code == 2
    assert "--since: 'last week' is not a year or a date (YYYY or YYYY-MM-DD)" in capsys.readouterr().err
