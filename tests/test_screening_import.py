"""`litwatch decide --from FILE`: decisions from Rayyan, Covidence and plain CSV exports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Environment
from bot.decisions import Reviewer
from bot.errors import LitwatchError
from bot.screening import read_decisions_csv
from bot.store import Store
from tests.conftest import LOCAL_FIXTURES
from tests.factories import pubmed_item, trial_item, write_config

FILES = LOCAL_FIXTURES / "screening"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
STORED = {"pmid:30000001", "pmid:30000002", "pmid:30000003", "pmid:30000004", "nct:NCT01234567"}
DOIS = {"10.1000/test.1": "pmid:30000001", "10.1000/test.2": "pmid:30000002", "10.1000/test.3": "pmid:30000003"}


def resolve(kind: str, value: str) -> str | None:
    if kind == "doi":
        return DOIS.get(value.lower())
    uid = {"pmid": f"pmid:{value}", "nct": f"nct:{value}"}.get(kind, value)
    return uid if uid in STORED else None


def calls(plan: object) -> dict[str, tuple[str, str | None, str]]:
    return {d.uid: (d.decision, d.reason, d.by.name) for d in plan.decisions}  # type: ignore[attr-defined]


def test_rayyan_export_agreed_votes_conflicts_reasons_and_unscreened() -> None:
    """Rayyan notes: agreement gives the decision, disagreement maybe, reasons kept, unscreened skipped."""
    plan = read_decisions_csv(FILES / "rayyan_articles.csv", resolve=resolve, now=NOW)
    assert plan.errors == []
    assert calls(plan) == {
        "pmid:30000001": ("include", None, "Alice, Bob"),
        "pmid:30000002": ("exclude", "wrong population,not human", "Alice"),
        "pmid:30000003": ("maybe", "Rayyan conflict: Alice Excluded, Bob Included", "Alice, Bob"),
    }
    assert plan.not_stored == ["pmid 29999999"]
    assert [(e.key, e.decision, e.title) for e in plan.examples] == [
        ("pmid 29999999", "include", "An older study litwatch never saw")]
    assert {d.where for d in plan.decisions} == {"import:rayyan_articles.csv"}


def test_covidence_list_takes_the_decision_given_and_its_exclusion_reason() -> None:
    """A Covidence export has no decision column: the command says which list it is."""
    included = read_decisions_csv(FILES / "covidence_included.csv", resolve=resolve, now=NOW, default="include")
    assert calls(included) == {"pmid:30000001": ("include", None, "covidence_included.csv"),
                               "pmid:30000002": ("include", None, "covidence_included.csv")}
    excluded = read_decisions_csv(FILES / "covidence_excluded.csv", resolve=resolve, now=NOW,
                                  default="exclude", by=Reviewer("cli:dana", "Dana"))
    assert calls(excluded) == {"pmid:30000003": ("exclude", "Wrong study design", "Dana")}


def test_semicolons_a_bom_and_reviewer_and_reason_columns() -> None:
    """Excel's European CSV (;, BOM) with PMID, Decision, Reason and Reviewer columns."""
    plan = read_decisions_csv(FILES / "decisions_semicolon.csv", resolve=resolve, now=NOW)
    assert calls(plan) == {"pmid:30000001": ("include", None, "Carol"),
                           "pmid:30000002": ("exclude", "Wrong outcome", "Carol"),
                           "pmid:30000003": ("maybe", None, "Carol")}


def test_uid_and_doi_columns_resolve_case_blind() -> None:
    """A uid column and a DOI (any case, with or without https://doi.org/ or doi:) find their record."""
    plan = read_decisions_csv(FILES / "decisions_uid_doi.csv", resolve=resolve, now=NOW)
    assert calls(plan) == {"nct:NCT01234567": ("exclude", None, "decisions_uid_doi.csv"),
                           "pmid:30000002": ("include", None, "decisions_uid_doi.csv"),
                           "pmid:30000003": ("maybe", None, "decisions_uid_doi.csv")}


def test_every_bad_row_is_named_with_its_line() -> None:
    """A bad PMID, a misspelt decision and a row without identifier are each one line."""
    plan = read_decisions_csv(FILES / "decisions_bad.csv", resolve=resolve, now=NOW)
    assert plan.errors == [
        "decisions_bad.csv: line 3: PMID 'abc' is not a number",
        "decisions_bad.csv: line 4: decision 'inclde' is not include, exclude or maybe",
        "decisions_bad.csv: line 5: no identifier (fill one of: pmid)",
    ]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (b"title,decision\nA study,include\n", "no pmid, doi or uid column (columns: title, decision)"),
    (b"pmid,title\n30000001,A study\n", "no decision column (nor Rayyan's RAYYAN-INCLUSION notes)"),
    (b"pmid,decision\n", "no records below the header"),
    (b"pmid,decision\n3000\xff0001,include\n", "not UTF-8 text; save the export as CSV (UTF-8)"),
])  # fmt: skip
def test_files_that_cannot_be_imported_say_why(tmp_path: Path, content: bytes, message: str) -> None:
    """Empty, headless, decisionless or non-UTF-8 files are one error naming the file."""
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    with pytest.raises(LitwatchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_decisions_csv(path, resolve=resolve, now=NOW)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist says so."""
    with pytest.raises(LitwatchError, match="file not found"):
        read_decisions_csv(tmp_path / "nope.csv", resolve=resolve, now=NOW)


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    data = Environment.from_env().data_dir
    with Store.open(data) as store:
        store.commit("pm", store.diff([pubmed_item(n) for n in range(1, 5)], "pm"))
        store.commit("ct", store.diff([trial_item("NCT01234567")], "ct"))
    return data


def test_import_through_the_cli_records_and_reports(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The Rayyan file: 3 decisions recorded; the unstored record named on stderr and kept as an example."""
    assert main(["decide", "--from", str(FILES / "rayyan_articles.csv")]) == 0
    out, err = capsys.readouterr()
    assert "rayyan_articles.csv: 3 decision(s) recorded from 5 row(s)" in out
    assert "1 row(s) name records litwatch has not stored, so they were not imported as decisions: pmid 29999999" in err
    assert "1 of them (with a title, included or excluded) teach the ranker as examples (1 new)" in err
    with Store.open(store_dir, readonly=True) as store:
        assert set(store.current_decisions()) == {"pmid:30000001", "pmid:30000002", "pmid:30000003"}
        example = store.examples()["pmid 29999999"]
    assert (example.decision, example.title, example.abstract) == ("include", "An older study litwatch never saw",
                                                                   "Invented.")


def test_importing_the_same_file_twice_adds_nothing(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second import of the same decisions is a no-op: the history stays as it was."""
    assert main(["decide", "include", "--from", str(FILES / "covidence_included.csv")]) == 0
    assert main(["decide", "include", "--from", str(FILES / "covidence_included.csv")]) == 0
    assert "0 decision(s) recorded from 2 row(s), 2 already so" in capsys.readouterr().out
    with Store.open(store_dir, readonly=True) as store:
        assert len(store.decision_history()) == 2


def test_a_file_with_bad_rows_imports_nothing(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Good rows beside bad ones are not half-imported: exit 1, each problem, then nothing recorded."""
    assert main(["decide", "--from", str(FILES / "decisions_bad.csv")]) == 1
    err = capsys.readouterr().err
    assert "error: decisions_bad.csv: line 3: PMID 'abc' is not a number" in err
    assert "nothing imported: fix the 3 problem(s) above and run again" in err
    with Store.open(store_dir, readonly=True) as store:
        assert store.decision_history() == []


def test_covidence_without_a_decision_asks_for_one(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Covidence list without the decision argument: exit 1 and the command to type."""
    path = FILES / "covidence_included.csv"
    assert main(["decide", "--from", str(path)]) == 1
    assert f"litwatch decide include --from {path}" in capsys.readouterr().err


def test_litwatch_ris_notes_read_back(store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV whose notes carry litwatch's own LITWATCH-INCLUSION (as its RIS export writes them) imports."""
    path = tmp_path / "roundtrip.csv"
    path.write_text('pmid,notes\n30000004,"LITWATCH-INCLUSION: {""Eve""=>""Excluded""} | '
                    'LITWATCH-EXCLUSION-REASONS: duplicate"\n', encoding="utf-8")
    assert main(["decide", "--from", str(path)]) == 0
    with Store.open(store_dir, readonly=True) as store:
        got = store.current_decisions()["pmid:30000004"]
    assert (got.decision, got.reason, got.by.name) == ("exclude", "duplicate", "Eve")
