"""Issue 12's smaller points: counts that read right, both --since forms, --config on every
command, RIS citation fields."""

from __future__ import annotations

import argparse
import json
import re
from datetime import date
from pathlib import Path

import pytest
import rispy

from bot.cli import build_parser, main
from bot.console import render_text
from bot.demo.records import day_one
from bot.export import page_range, ris_entry, to_ris
from bot.models import Classification
from bot.notify import Notification, Summary
from bot.sources.pubmed_xml import parse_efetch
from bot.store import Store
from tests.factories import MINIMAL_CONFIG, pubmed_item, trial_item, write_config

ONE_QUERY = MINIMAL_CONFIG.split("[[queries]]")[0] + '[[queries]]\nname = "pm"\nsource = "pubmed"\nterm = "x"\n'


def test_check_counts_one_query_in_the_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`litwatch check` on a one-query config says "ok: 1 query"."""
    assert main(["check", "--config", str(write_config(tmp_path, ONE_QUERY))]) == 0
    assert capsys.readouterr().out == "ok: 1 query\n"


def test_status_of_a_query_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A query that has not run yet says so, not "up to never"."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    with Store.open(tmp_path / "data") as store:
        store.subscribe("#review")
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "no successful run yet" in out and "up to never" not in out


def test_baseline_with_one_flagged_record_reads_singular() -> None:
    """A baseline with one flagged record says "1 carries a safety or integrity flag"."""
    item = pubmed_item(1)
    item.classification = Classification("case_report", safety=True, reasons=("MeSH: x / adverse effects",))
    doc = {**item.to_dict(), "uid": item.uid, "queries": ["pm"], "changes": [],
           "first_seen": "2026-03-10T06:00:00+00:00", "last_changed": "2026-03-10T06:00:00+00:00"}
    note = Notification("baseline", "console", "pm", (item.uid,), Summary(count=1, flagged=1),
                        created="2026-03-10T06:00:00+00:00")  # fmt: skip
    assert "1 carries a safety or integrity flag" in render_text(note, [doc])


@pytest.mark.parametrize("command", [["search", "exosome"], ["export"]])
@pytest.mark.parametrize(("value", "day"), [("2024", date(2024, 1, 1)), ("2024-05-17", date(2024, 5, 17))])
def test_since_takes_a_year_or_a_day(command: list[str], value: str, day: date) -> None:
    """search --since and export --since both take YYYY (its first day) and YYYY-MM-DD."""
    assert build_parser().parse_args([*command, "--since", value]).since == day


@pytest.mark.parametrize("command", [["search", "exosome"], ["export"]])
def test_since_in_the_future_says_so(command: list[str], monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A --since after today is a usage error (exit 2) saying it is in the future."""
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-10T06:00:00+00:00")
    with pytest.raises(SystemExit) as exited:
        main([*command, "--since", "2030"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "'2030' is in the future (today is 2026-03-10)" in err and "is not a year" not in err


@pytest.mark.parametrize("command", [["search", "exosome"], ["export"]])
def test_bad_since_is_a_usage_error(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A --since that is no date exits 2 like every other usage error, naming both forms."""
    with pytest.raises(SystemExit) as exited:
        main([*command, "--since", "last-week"])
    assert exited.value.code == 2
    assert "'last-week' is not a year or a date (YYYY or YYYY-MM-DD)" in capsys.readouterr().err


def test_export_since_a_year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """export --since YYYY keeps what arrived from January 1st of that year on."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    for stamp, item in (("2025-12-31T06:00:00+00:00", pubmed_item(1)), ("2026-01-01T06:00:00+00:00", pubmed_item(2))):
        monkeypatch.setenv("LITWATCH_NOW", stamp)
        with Store.open(tmp_path / "data") as store:
            store.commit("pm", store.diff([item], "pm"))
    assert main(["export", "--since", "2026"]) == 0
    assert [r["uid"] for r in json.loads(capsys.readouterr().out)] == ["pmid:30000002"]


def _command_lines() -> list[list[str]]:
    """Every command as typed, nested ones (`outbox drop`) included, with its required arguments."""
    required = {"search": ["x"], "subscribe": ["#r"], "unsubscribe": ["#r"], "labels": ["export"]}

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
        lines = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, command in action.choices.items():
                    line = [*prefix, name]
                    lines += [line + required.get(name, []), *walk(command, line)]
        return lines

    return walk(build_parser(), [])


@pytest.mark.parametrize("command", _command_lines(), ids=" ".join)
def test_every_command_takes_config(command: list[str]) -> None:
    """--config FILE works after every command name, nested ones included, as well as before it."""
    assert build_parser().parse_args([*command, "--config", "mine.toml"]).config == "mine.toml"
    assert build_parser().parse_args(["--config", "mine.toml", *command]).config == "mine.toml"


def test_config_flag_beats_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """--config FILE is read instead of LITWATCH_CONFIG; a missing one is named with the flag."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(tmp_path / "absent.toml"))
    assert main(["status", "--config", str(write_config(tmp_path, ONE_QUERY))]) == 0
    assert "no store yet" in capsys.readouterr().out
    assert main(["check", "--config", str(tmp_path / "other.toml")]) == 2
    err = capsys.readouterr().err
    assert "other.toml: file not found" in err and "--config FILE" in err


def test_pubmed_citation_fields_reach_ris() -> None:
    """A PubMed record's volume, issue, pages and ISSN become RIS VL, IS, SP/EP and SN."""
    paper = day_one(date(2026, 3, 9)).papers["99000101"]
    item = parse_efetch(f"<PubmedArticleSet>{paper.xml()}</PubmedArticleSet>".encode())[0]
    assert (item.volume, item.issue, item.pages, item.issn) == ("14", "3", "201-9", "2999-0011")
    [entry] = rispy.loads(to_ris([{**item.to_dict(), "uid": item.uid}]))
    assert (entry["volume"], entry["number"], entry["start_page"], entry["end_page"], entry["issn"]) == (
        "14", "3", "201", "209", "2999-0011")
    assert re.search(r"^SP  - 201$", to_ris([item.to_dict()]), re.M)


def test_ris_leaves_out_citation_fields_a_record_lacks() -> None:
    """A trial has no volume or pages: its RIS record carries no empty VL, IS, SP, EP or SN."""
    entry = ris_entry({**trial_item("NCT06539273").to_dict(), "uid": "nct:NCT06539273"})
    assert not {"volume", "number", "start_page", "end_page", "issn"} & set(entry)


@pytest.mark.parametrize(("pages", "expected"), [
    ("409-15", ("409", "415")), ("1187-93", ("1187", "1193")), ("88-101", ("88", "101")),
    ("e1187", ("e1187", "")), ("12-5, 20", ("12", "15")), ("S1-S4", ("S1", "S4")), ("", ("", "")),
])  # fmt: skip
def test_page_range_expands_medline_abbreviations(pages: str, expected: tuple[str, str]) -> None:
    """MEDLINE's shortened end pages are written out in full for RIS."""
    assert page_range(pages) == expected
