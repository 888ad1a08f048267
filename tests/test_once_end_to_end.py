"""`litwatch once` as a user runs it: real sources over HTTP to local fakes, the real store,
the real classifier, and the terminal sink."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Environment
from bot.store import Store
from tests.corpus import PubMedCorpus, Registry
from tests.factories import MINIMAL_CONFIG
from tests.fakes.ctgov import FakeClinicalTrials
from tests.fakes.eutils import FakeEutils, FakeRecord, renumbered
from tests.fakes.feeds import FakeFeeds
from tests.fakes.slack import BOT_TOKEN, FakeSlack

# The factories' two queries (pm, ct) plus a preprint feed on the fake feed host.
CONFIG = MINIMAL_CONFIG + """
[[queries]]
name = "preprints"
source = "feed"
url = "{feeds}/biorxiv.xml"
"""


@pytest.fixture
def upstreams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pubmed_corpus: PubMedCorpus,
              registry: Registry) -> Iterator[tuple[FakeEutils, FakeClinicalTrials, FakeFeeds]]:
    articles = pubmed_corpus.articles
    with FakeEutils() as eutils, FakeClinicalTrials(registry.studies) as ctgov, FakeFeeds() as feeds:
        eutils.add(FakeRecord(str(41_000_000 + n), renumbered(articles[n], str(41_000_000 + n)),
                              date(2026, 2, 1)) for n in range(12))
        feeds.publish("/biorxiv.xml", registry.feed)
        config = tmp_path / "litwatch.toml"
        config.write_text(CONFIG.format(feeds=feeds.url))
        monkeypatch.setenv("LITWATCH_CONFIG", str(config))
        monkeypatch.setenv("NCBI_EUTILS_URL", eutils.url)
        monkeypatch.setenv("CTGOV_API_URL", ctgov.url)
        monkeypatch.setenv("NCBI_EMAIL", "review-team@example.org")
        yield eutils, ctgov, feeds


def test_once_baselines_then_reports_only_changes(upstreams: tuple[FakeEutils, FakeClinicalTrials, FakeFeeds],
                                                  registry: Registry, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """First `once` stores a baseline per query; the next reports a terminated trial and nothing else."""
    _, ctgov, feeds = upstreams
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
    assert main(["once"]) == 0
    out = capsys.readouterr().out
    assert "pm: fetched 12, baseline" in out
    assert f"ct: fetched {len(registry.records)}, baseline" in out
    assert "preprints: fetched 1, baseline" in out
    assert out.count("baseline") >= 6  # three run lines and three one-message summaries

    monkeypatch.setenv("LITWATCH_NOW", "2026-03-02T06:00:00+00:00")
    ctgov.change(registry.ongoing, updated="2026-03-02", status="TERMINATED", why_stopped="safety concerns")
    feed_requests = len(feeds.requests)
    assert main(["once"]) == 0
    out = capsys.readouterr().out
    assert "pm: fetched 0, new 0, changed 0" in out
    assert "ct: fetched 1, new 0, changed 1" in out
    assert "preprints: not modified since the last run" in out
    assert f"Status {registry.ongoing_status} -> TERMINATED" in out and "why stopped: 'safety concerns'" in out
    assert feeds.requests[feed_requests].headers.get("if-none-match")  # a conditional GET

    assert main(["export", "--format", "json"]) == 0
    exported = capsys.readouterr().out
    assert f'"uid": "nct:{registry.ongoing}"' in exported and '"kind": "clinical"' in exported


def test_once_exits_1_when_a_query_fails_and_the_others_still_run(
        upstreams: tuple[FakeEutils, FakeClinicalTrials, FakeFeeds], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """A registry answering 400 fails its query (named, with its status; the API's text goes to the
    log, issue 14 finding 3); PubMed and feeds still run."""
    from tests.fakes.http import Response

    _, ctgov, _ = upstreams
    ctgov.fail_next.append(Response(400, "query.term: unbalanced quotes", {"Content-Type": "text/plain"}))
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
    assert main(["once"]) == 1
    captured = capsys.readouterr()
    assert "ct: FAILED: ClinicalTrials.gov answered HTTP 400 Bad Request" in captured.err
    assert "unbalanced quotes" not in captured.err and "unbalanced quotes" in caplog.text
    assert "pm: fetched 12, baseline" in captured.out and "preprints: fetched 1, baseline" in captured.out
    assert main(["status"]) == 1
    assert "LAST RUN FAILED" in capsys.readouterr().out


def test_search_prints_classified_results_from_both_sources_and_stores_nothing(
        upstreams: tuple[FakeEutils, FakeClinicalTrials, FakeFeeds], capsys: pytest.CaptureFixture[str]) -> None:
    """`litwatch search --source all` lists PubMed and registry hits with their labels, and writes no store."""
    from bot.config import Environment

    eutils, ctgov, _ = upstreams
    assert main(["search", "exosome", "alopecia", "--source", "all", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("pmid:") == 3 and "nct:NCT" in out
    assert "[clinical" in out or "[other" in out
    assert any(r.path.endswith("esearch.fcgi") and r.param("term", "").startswith("exosome alopecia")
               for r in eutils.requests)
    assert any(r.param("query.term") == "exosome alopecia" for r in ctgov.requests)
    assert not Environment.from_env().data_dir.exists()
    assert main(["search", "exosome", "--json", "--limit", "2"]) == 0
    import json

    records = json.loads(capsys.readouterr().out)
    assert len(records) == 2 and {"uid", "kind", "safety", "integrity", "reasons"} <= set(records[0])


@pytest.mark.parametrize(("argv", "message"), [
    (["search", "x", "--limit", "0"], "argument --limit: '0' is not a number from 1 to 100"),
    (["search", "x", "--since", "99999"], "argument --since: '99999' is not a year or a date (YYYY or YYYY-MM-DD)"),
    (["search", "x", "--source", "embase"], "argument --source: invalid choice: 'embase'"),
])
def test_search_arguments_are_checked(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad search arguments exit 2 with argparse's message naming the argument."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_search_all_shows_trials_when_pubmed_fails(upstreams: tuple[FakeEutils, FakeClinicalTrials, FakeFeeds],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """One source failing does not hide the other's results; the failure is named and the exit is 1."""
    eutils, _, _ = upstreams
    eutils.fail(400, times=5)
    assert main(["search", "exosome", "--source", "all", "--limit", "2"]) == 1
    captured = capsys.readouterr()
    assert "nct:NCT" in captured.out and "pmid:" not in captured.out
    assert captured.err.startswith("error: PubMed: ") and "HTTP 400" in captured.err


def test_once_without_a_token_on_a_slack_store_prints_alerts_and_keeps_them_for_slack(
        upstreams: tuple[FakeEutils, FakeClinicalTrials, FakeFeeds], registry: Registry, fake_slack: FakeSlack,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression (alerts consumed by the terminal): `once` without SLACK_BOT_TOKEN on a store that
    delivers to Slack prints the safety alert, says so on stderr, and Slack still gets it later."""
    _, ctgov, _ = upstreams
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
    assert main(["once"]) == 0  # the baselines go to Slack: this store now delivers there
    baselines = len(fake_slack.messages)

    monkeypatch.delenv("SLACK_BOT_TOKEN")
    monkeypatch.setenv("LITWATCH_NOW", "2026-03-02T06:00:00+00:00")
    ctgov.change(registry.ongoing, updated="2026-03-02", status="TERMINATED", why_stopped="safety concerns")
    capsys.readouterr()
    assert main(["once"]) == 0
    captured = capsys.readouterr()
    assert "Safety signal" in captured.out and "why stopped: 'safety concerns'" in captured.out
    assert ("SLACK_BOT_TOKEN is not set, but this store delivers to Slack: 1 notification "
            "printed here and kept for Slack") in captured.err
    with Store.open(Environment.from_env().data_dir, readonly=True) as store:
        assert [n.kind for n in store.pending()] == ["safety"]
    assert len(fake_slack.messages) == baselines

    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    assert main(["once"]) == 0
    alerts = [m for m in fake_slack.messages[baselines:] if m.requested == "C999"]
    assert len(alerts) == 1 and "Safety signal" in alerts[0].text
