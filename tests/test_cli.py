"""The litwatch command: export formats that parse back, status, and clear errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import rispy

from bot.cli import main
from bot.config import Environment
from bot.export import CSV_COLUMNS
from bot.models import Classification
from bot.store import QueryState, Store
from tests.factories import notification, pubmed_item, trial_item, write_config


@pytest.fixture
def filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with a classified paper (with awkward characters) and a trial."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-10T06:00:00+00:00")
    data = Environment.from_env().data_dir
    paper = pubmed_item(1, title='Exosomes, "secretome" & <hair>; a trial', keywords=("alopecia",))
    paper.classification = Classification("clinical", safety=True, reasons=("abstract: 'two granulomas'",))
    trial = trial_item("NCT06539273")
    trial.classification = Classification("clinical", reasons=("registry: interventional study",))
    with Store.open(data) as store:
        store.commit("pm", store.diff([paper], "pm"))
        store.commit("ct", store.diff([trial], "ct"))
    return data


def test_export_json_carries_labels_and_provenance(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON export has uid, source, id, title, url, kind, safety, integrity, reasons, queries, dates."""
    assert main(["export", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    paper = next(r for r in records if r["uid"] == "pmid:30000001")
    for key in ("uid", "source", "id", "title", "url", "kind", "safety", "integrity", "reasons",
                "queries", "first_seen", "last_changed"):
        assert key in paper
    assert (paper["kind"], paper["safety"], paper["queries"]) == ("clinical", True, ["pm"])
    assert paper["first_seen"] == "2026-03-10T06:00:00+00:00"


def test_export_csv_parses_back(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CSV export is one row per item, quoting commas and quotes correctly."""
    assert main(["export", "--format", "csv", "--query", "pm"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["title"] for r in rows] == ['Exosomes, "secretome" & <hair>; a trial']
    assert rows[0]["kind"] == "clinical" and rows[0]["safety"] == "True"


def test_export_ris_parses_back_with_classification_keywords(filled: Path, tmp_path: Path) -> None:
    """RIS export reads back with rispy: TY/TI/AU/PY/JO/AB/DO/UR/AN and litwatch keywords."""
    out = tmp_path / "out.ris"
    assert main(["export", "--format", "ris", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("TY  - ")
    entries = {e["accession_number"]: e for e in rispy.loads(text)}
    paper = entries["30000001"]
    assert paper["type_of_reference"] == "JOUR" and paper["authors"] == ["Smith J", "Doe A"]
    assert paper["year"] == "2025" and paper["journal_name"] == "Dermatol Surg"
    assert paper["doi"] == "10.1000/test.1" and paper["urls"] == ["https://pubmed.ncbi.nlm.nih.gov/30000001/"]
    assert {"alopecia", "litwatch:clinical", "litwatch:safety"} <= set(paper["keywords"])
    assert entries["NCT06539273"]["type_of_reference"] == "GEN"


def test_export_since_filters_by_first_seen_or_change(filled: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """--since keeps only items new or changed on or after that date; a bad date is a usage error."""
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-12T06:00:00+00:00")
    assert main(["export", "--since", "2026-03-11"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    with pytest.raises(SystemExit) as exited:
        main(["export", "--since", "last week"])
    assert exited.value.code == 2
    assert "--since: 'last week' is not a year or a date (YYYY or YYYY-MM-DD)" in capsys.readouterr().err


def test_export_works_while_a_writer_holds_the_store(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Export is read-only, so it runs beside a daemon holding the data directory."""
    with Store.open(filled):
        assert main(["export", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_once_refuses_while_another_writer_holds_the_store(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second writer gets an error naming the PID of the holder and exits 1."""
    import os

    with Store.open(filled):
        assert main(["once"]) == 1
    assert f"(PID {os.getpid()})" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["json", "csv", "ris"])
def test_export_without_a_store_is_an_empty_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """Exporting before any run writes an empty record set (exit 0) and says why it is empty."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    assert main(["export", "--format", fmt]) == 0
    out, err = capsys.readouterr()
    if fmt == "json":
        assert json.loads(out) == []
    elif fmt == "csv":
        assert out.splitlines() == [",".join(CSV_COLUMNS)]
    else:
        assert rispy.loads(out) == []
    assert "no store yet" in err and "litwatch once" in err
    assert not (tmp_path / "data").exists()  # a read creates nothing


def test_status_shows_failures_and_pending(filled: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """status lists each query's watermark and last error, and pending notifications with their error."""
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-10T07:00:00+00:00")
    with Store.open(filled) as store:
        store.commit("ct", state=QueryState(last_error="HTTP 503 after 5 attempts"))
        store.add_notifications([notification("safety", "slack:C999")])
        store.record_failure(store.pending()[0].id, "channel_not_found")
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert "ct (ClinicalTrials.gov): schedule 0 6 * * * · last success never · next run 2026-03-11 06:00" in out
    assert "no successful run yet\n      LAST RUN FAILED: HTTP 503 after 5 attempts" in out
    assert "safety -> slack:C999: channel_not_found (1 attempt)" in out


def test_status_shows_schedules_last_success_next_run_and_subscriptions(
        filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: status gives each query's schedule, last success and next run, and the subscriptions."""
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-10T07:00:00+00:00")
    with Store.open(filled) as store:
        store.commit("pm", state=QueryState(watermark=date(2026, 3, 9), last_success="2026-03-09T06:00:04+00:00"))
        store.subscribe("slack:C0TEAM001", "daily", now=datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "queries (times in UTC):" in out
    assert ("pm (PubMed): schedule 0 6 * * * · last success 2026-03-09 06:00 · next run 2026-03-11 06:00"
            " · covered up to 2026-03-09") in out
    assert "digest subscriptions: 1:\n  slack:C0TEAM001: daily, last digest 2026-03-09 09:00" in out


def test_unknown_query_name_is_an_error(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`once --query` with a name not in the config lists the known names."""
    assert main(["once", "--query", "nope"]) == 1
    assert "no saved query named 'nope' (known: pm, ct)" in capsys.readouterr().err


def test_subscribe_refuses_an_invalid_config_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Like every command, subscribe stops at an invalid config (exit 2) before touching the store."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, "[slack\n")))
    assert main(["subscribe", "C0123456789"]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert not Environment.from_env().data_dir.exists()


@pytest.mark.parametrize("target", ["exo-review", "#Team Channel", "C12", "hello@example.org"])
def test_subscribe_names_what_a_target_must_look_like(filled: Path, target: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A target that is neither #name nor a channel/user ID is refused with the forms it could take."""
    assert main(["subscribe", target]) == 1
    assert "is not a destination: use a Slack channel (#name, or an ID such as C0123456789) or a Slack user ID (U…); IDs are under the channel's or person's name > View details; or mailto:someone@example.org" in capsys.readouterr().err


def test_export_unknown_query_and_unwritable_output_are_errors(filled: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelled --query lists the known names instead of exporting nothing; a bad -o path is one line."""
    assert main(["export", "--query", "nope"]) == 1
    assert "no saved query named 'nope' (known: pm, ct)" in capsys.readouterr().err
    assert main(["export", "--format", "ris", "-o", str(tmp_path / "missing" / "x.ris")]) == 1
    assert "cannot write " in capsys.readouterr().err


def test_csv_export_carries_the_abstract(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Screeners in Covidence or Rayyan need the abstract in the CSV, not only in RIS."""
    assert main(["export", "--format", "csv", "--query", "pm"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["abstract"].startswith("BACKGROUND: Extracellular vesicles")


def test_status_exits_1_when_a_notification_fails_to_deliver(filled: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (status exits 0 while delivery fails): a pending notification with a delivery error
    makes `status` exit 1 even though every query is healthy."""
    assert main(["status"]) == 0
    with Store.open(filled) as store:
        store.add_notifications([notification("safety", "slack:C999")])
        assert main(["status"]) == 0  # pending, not failing: the next run sends it
        store.record_failure(store.pending()[0].id, "URLError: <urlopen error [Errno 111] Connection refused>")
    capsys.readouterr()
    assert main(["status"]) == 1
    assert "safety -> slack:C999: URLError" in capsys.readouterr().out


def test_export_flagged_keeps_only_safety_and_integrity_records(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12: `export --flagged` is the baseline's flagged records, reachable from the CLI."""
    assert main(["export", "--flagged"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["uid"] for r in records] == ["pmid:30000001"]
    assert main(["export", "--flagged", "--query", "ct"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_cli_subscribe_asks_slack_first_and_refuses_a_channel_without_the_bot(
        filled: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Regression (issue 14, finding 6): with a bot token, `subscribe` stores a channel only if
    Slack says the bot is in it; otherwise one line says why and nothing is stored."""
    from tests.fakes.slack import BOT_TOKEN, FakeSlack

    with FakeSlack(not_member={"C0NOBOT01"}) as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        monkeypatch.setenv("SLACK_API_URL", slack.api_url)
        assert main(["subscribe", "C0NOBOT01"]) == 1
        assert "C0NOBOT01: not subscribed: the bot is not a member of that channel" in capsys.readouterr().err
        assert main(["subscribe", "C0TEAM001"]) == 0
    with Store.open(filled, readonly=True) as store:
        assert [s["target"] for s in store.subscriptions()] == ["slack:C0TEAM001"]


def test_outbox_lists_drops_retries_and_goes_back_to_the_terminal(filled: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12 item 5: `litwatch outbox` shows id, kind, age, attempts, target and last error; `drop` (by
    id or --target) and `retry` act on it, and --to-terminal makes a store that delivered to Slack print
    and consume its alerts again."""
    with Store.open(filled) as store:
        store.add_notifications([notification("safety", "slack:C999"), notification("items", "slack:C111"),
                                 notification("error", "mailto:gone@example.org", message="x")])
        first, second, _ = store.pending()
        store.record_failure(second.id, "channel_not_found")
        store.remember_destination("slack")
    capsys.readouterr()
    assert main(["outbox"]) == 0
    out = capsys.readouterr().out
    assert "outbox: 3 notifications pending (delivers to: slack)" in out
    assert f"  {second.id:<32}  {'items':<16} {'0s':>6}  {1:>8}  slack:C111\n      last error: channel_not_found" in out
    assert "      target from [slack] channel; `litwatch outbox drop --target slack:C111` drops what is queued" in out
    assert main(["outbox", "drop", first.id, "--target", "mailto:gone@example.org"]) == 0
    out = capsys.readouterr().out
    assert "dropped 1 pending notification\nmailto:gone@example.org: dropped 1 pending notification\n" in out
    assert main(["outbox", "retry"]) == 0
    assert "1 notification cleared for the next run" in capsys.readouterr().out
    assert main(["outbox", "--to-terminal"]) == 0
    out = capsys.readouterr().out
    assert "slack: without its channel, this terminal now takes its notifications" in out
    assert "outbox: 1 notification pending (delivers to: terminal only)" in out and "last error:" not in out
    assert main(["outbox", "drop", "nope"]) == 1
    assert "no pending notification 'nope'" in capsys.readouterr().err
    assert main(["outbox", "drop"]) == 2


def test_outbox_names_a_subscription_as_where_an_undeliverable_target_came_from(
        filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 12 item 5: a channel_not_found for a subscribed target points at the subscription, not the config."""
    with Store.open(filled) as store:
        store.subscribe("slack:C0GONE001", "weekly")
        store.add_notifications([notification("digest", "slack:C0GONE001")])
        store.record_failure(store.pending()[0].id, "channel_not_found")
    capsys.readouterr()
    assert main(["outbox"]) == 0
    assert ("target from a digest subscription (`litwatch unsubscribe slack:C0GONE001`); "
            "`litwatch outbox drop --target slack:C0GONE001` drops what is queued") in capsys.readouterr().out


def test_status_and_outbox_show_a_set_aside_notification(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14 item 1: a notification set aside after two refusals is named in status (exit 1) and outbox."""
    with Store.open(filled) as store:
        store.add_notifications([notification("safety", "slack:C999")])
        refused = store.pending()[0]
        store.record_failure(refused.id, "invalid_blocks")
        store.record_failure(refused.id, "invalid_blocks")
        store.set_aside(refused.id)
    capsys.readouterr()
    assert main(["status"]) == 1
    assert "safety -> slack:C999: invalid_blocks (SET ASIDE, 2 attempts)" in capsys.readouterr().out
    assert main(["outbox"]) == 0
    out = capsys.readouterr().out
    assert "last error: invalid_blocks" in out
    assert f"SET ASIDE: `litwatch outbox retry {refused.id}` sends it again" in out
