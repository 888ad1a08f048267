"""Digests per subscriber with a RIS attachment, and the digest/subscribe/unsubscribe commands."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rispy

from bot.cli import main
from bot.config import Environment, Settings, load_settings
from bot.digest import build_digests, due, queue_digests, run_digests
from bot.models import Classification, Item
from bot.outbox import flush
from bot.store import Diff, Store
from tests.factories import channels, notification, pubmed_item, retracted, write_config
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.test_slack_deliver import sink_for

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path))


def labelled(n: int, kind: str = "clinical", safety: bool = False) -> Item:
    item = pubmed_item(n)
    item.classification = Classification(kind, safety, False, ("test rule",))  # type: ignore[arg-type]
    return item


def stored(store: Store, items: list[Item], when: datetime) -> None:
    store.commit("pm", Diff(new=items), now=when)


def test_each_subscriber_gets_what_arrived_since_its_last_digest(fake_slack: FakeSlack, settings: Settings) -> None:
    """A channel and a DM subscriber each get their own digest and a RIS file of its items."""
    store = Store.memory()
    stored(store, [labelled(0)], MONDAY - timedelta(days=1))  # before anyone subscribed
    store.subscribe("slack:#team", "weekly", now=MONDAY)
    stored(store, [labelled(n) for n in range(1, 4)], MONDAY + timedelta(days=1))
    store.subscribe("slack:U0ALICE", "daily", now=MONDAY + timedelta(days=4))  # in the order it happens
    stored(store, [labelled(4, safety=True), labelled(5, kind="case_report")], MONDAY + timedelta(days=5))
    digests, report = run_digests(store, settings, channels(sink_for(fake_slack)), moment=MONDAY + timedelta(days=7))
    assert report.delivered == 2 and store.pending() == []
    by_target = {n.route: list(n.uids) for n in digests.queued}
    assert by_target == {"slack:#team": [f"pmid:3000000{n}" for n in range(1, 6)],
                         "slack:U0ALICE": ["pmid:30000004", "pmid:30000005"]}  # fmt: skip
    team, alice = fake_slack.messages_in("#team"), fake_slack.messages_in("U0ALICE")
    assert team[0].blocks[0]["text"]["text"] == "Weekly digest — 5 new items"
    assert alice[0].blocks[0]["text"]["text"] == "Daily digest — 2 new items"
    files = {f.channel: f for f in fake_slack.files}
    assert set(files) == {team[0].channel, alice[0].channel}  # conversation IDs, as upload v2 requires
    records = rispy.loads(files[team[0].channel].content.decode())
    assert [r["accession_number"] for r in records] == [str(30000000 + n) for n in range(1, 6)]
    assert files[alice[0].channel].filename == "litwatch-digest-2026-03-09.ris"
    assert fake_slack.rejected == []
    subs = {s["target"]: s["last_digest"] for s in store.subscriptions()}
    assert subs == {"slack:#team": "2026-03-09T09:00:00+00:00", "slack:U0ALICE": "2026-03-09T09:00:00+00:00"}


def test_a_digest_is_not_due_again_before_its_period(settings: Settings) -> None:
    """Right after a digest nobody is due; a week later the weekly subscriber is."""
    store = Store.memory()
    store.subscribe("slack:#team", "weekly", now=MONDAY)
    assert build_digests(store, settings, moment=MONDAY + timedelta(days=3)) == []
    assert len(build_digests(store, settings, moment=MONDAY + timedelta(days=7))) == 1
    assert len(build_digests(store, settings, period="weekly", moment=MONDAY + timedelta(days=3))) == 1


def test_due_allows_a_digest_running_slightly_early() -> None:
    """A weekly job that fires a few minutes before the full week still counts as due."""
    sub = {"period": "weekly", "last_digest": MONDAY.isoformat()}
    assert due(sub, MONDAY + timedelta(days=7) - timedelta(minutes=5))
    assert not due(sub, MONDAY + timedelta(days=6))
    assert due({"period": "daily", "last_digest": None}, MONDAY)


def test_failed_upload_resumes_with_the_file_only(fake_slack: FakeSlack, settings: Settings) -> None:
    """If the RIS upload fails, the next flush uploads it without re-posting the digest."""
    store = Store.memory()
    store.subscribe("slack:#team", "weekly", now=MONDAY)
    stored(store, [labelled(1), labelled(2)], MONDAY + timedelta(days=1))
    queue_digests(store, settings, moment=MONDAY + timedelta(days=7))
    fake_slack.fail("files.completeUploadExternal", error="internal_error")
    first = flush(store, channels(sink_for(fake_slack)))
    assert first.failed and store.pending()[0].sent_parts == 1
    flush(store, channels(sink_for(fake_slack)))  # a new sink: as after a restart, the channel ID is unknown
    texts = [m.text for m in fake_slack.messages_in("#team")]
    assert texts == ["litwatch weekly digest: 2 new items", "RIS file of the last digest follows."]
    assert len(fake_slack.files) == 1 and store.pending() == []


def test_digest_without_a_token_prints_to_the_console(settings: Settings) -> None:
    """On the console the digest prints as text and says the RIS file comes with Slack."""
    store = Store.memory()
    store.subscribe("slack:#team", "weekly", now=MONDAY)
    stored(store, [labelled(1)], MONDAY + timedelta(days=1))
    out = io.StringIO()
    run_digests(store, settings, channels(console=out), moment=MONDAY + timedelta(days=7))
    text = out.getvalue()
    assert "--- to slack:#team\n== Weekly digest — 1 new item ==" in text
    assert "• Exosome therapy for hair loss, study 1 <https://pubmed.ncbi.nlm.nih.gov/30000001/>" in text
    assert "(by Slack or e-mail, the 1 items also arrive as a RIS file)" in text


def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))


def test_subscribe_and_unsubscribe_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """`subscribe` adds or re-periods a subscriber, `unsubscribe` removes it (exit 1 if absent)."""
    cli_env(monkeypatch, tmp_path)
    assert main(["subscribe", "#team"]) == 0
    assert main(["subscribe", "#team", "--period", "daily"]) == 0
    assert main(["subscribe", "U0ALICE"]) == 0
    with Store.open(Environment.from_env().data_dir) as store:
        assert [(s["target"], s["period"]) for s in store.subscriptions()] == [("slack:#team", "daily"),
                                                                               ("slack:U0ALICE", "weekly")]  # fmt: skip
    assert main(["unsubscribe", "#team"]) == 0
    assert main(["unsubscribe", "#team"]) == 1
    assert main(["subscribe", "not a target"]) == 1
    out = capsys.readouterr()
    assert "slack:#team: subscribed to the weekly digest" in out.out and "slack:#team was not subscribed" in out.out
    assert "is not a destination: use a Slack channel" in out.err and "or mailto:someone@example.org" in out.err


def test_digest_command_posts_to_slack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_slack: FakeSlack,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """`litwatch digest --period weekly` posts each weekly digest and its RIS file via Slack."""
    cli_env(monkeypatch, tmp_path)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    assert main(["digest"]) == 0
    assert "no subscribers" in capsys.readouterr().out
    monkeypatch.setenv("LITWATCH_NOW", (MONDAY + timedelta(days=2)).isoformat())
    with Store.open(Environment.from_env().data_dir) as store:
        store.subscribe("slack:#team", "weekly", now=MONDAY)
        stored(store, [labelled(1)], MONDAY + timedelta(days=1))
    assert main(["digest"]) == 0
    assert "no digest due" in capsys.readouterr().out
    assert main(["digest", "--period", "weekly"]) == 0
    assert "digest for slack:#team: 1 items since 2026-03-02T09:00:00+00:00" in capsys.readouterr().out
    assert len(fake_slack.messages_in("#team")) == 1
    assert [f.filename.rsplit(".", 1)[1] for f in fake_slack.files] == ["ris", "png", "png"]  # + trend, PRISMA


def test_an_item_stamped_at_the_digest_moment_is_in_exactly_one_digest(settings: Settings) -> None:
    """Regression (review finding 7): digest windows are half-open, so consecutive digests never share an item."""
    store = Store.memory()
    store.subscribe("slack:#team", "daily", now=MONDAY)
    moment = MONDAY + timedelta(days=1)
    stored(store, [labelled(1)], moment)  # committed at the very second the digest is taken
    first = queue_digests(store, settings, moment=moment)
    second = queue_digests(store, settings, moment=moment + timedelta(days=1))
    assert [list(n.uids) for n in first] == [["pmid:30000001"]]
    assert [list(n.uids) for n in second] == [[]]
    assert store.subscriptions()[0]["last_digest"] == (moment + timedelta(days=1)).isoformat(timespec="seconds")


def test_digest_without_a_token_on_a_slack_store_is_a_preview(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              fake_slack: FakeSlack,
                                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Regression (alerts consumed by the terminal): without SLACK_BOT_TOKEN on a Slack store, `digest`
    prints the digest but queues nothing and keeps `last_digest`; Slack gets it once the token is back."""
    cli_env(monkeypatch, tmp_path)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("LITWATCH_NOW", (MONDAY + timedelta(days=7)).isoformat())
    data = Environment.from_env().data_dir
    with Store.open(data) as store:
        store.subscribe("slack:#team", "weekly", now=MONDAY)
        stored(store, [labelled(1)], MONDAY + timedelta(days=1))
        store.add_notifications([notification("error", message="x")])
        flush(store, channels(sink_for(fake_slack)))  # an earlier run delivered through Slack
    assert main(["digest"]) == 0
    captured = capsys.readouterr()
    assert "== Weekly digest — 1 new item ==" in captured.out and "(printed only, not queued)" in captured.out
    assert "SLACK_BOT_TOKEN is not set, but this store delivers to Slack: 1 digest printed here and not queued" in captured.err
    with Store.open(data, readonly=True) as store:
        assert store.pending() == []
        assert store.subscriptions()[0]["last_digest"] == MONDAY.isoformat(timespec="seconds")

    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    assert main(["digest"]) == 0
    assert len(fake_slack.messages_in("#team")) == 1
    assert [f.filename.rsplit(".", 1)[1] for f in fake_slack.files] == ["ris", "png", "png"]  # + trend, PRISMA


def test_pending_digest_stays_pending_when_flushed_to_the_console_of_a_slack_store(settings: Settings,
                                                                                  fake_slack: FakeSlack) -> None:  # fmt: skip
    """Regression (alerts consumed by the terminal): a digest already queued for Slack is printed by a
    console flush and left pending, and its subscriber's digest mark does not move again."""
    store = Store.memory()
    store.remember_destination("slack")
    store.subscribe("slack:#team", "weekly", now=MONDAY)
    stored(store, [labelled(1)], MONDAY + timedelta(days=1))
    queue_digests(store, settings, moment=MONDAY + timedelta(days=7))
    mark = store.subscriptions()[0]["last_digest"]
    out = io.StringIO()
    digests, report = run_digests(store, settings, channels(console=out), moment=MONDAY + timedelta(days=14))
    assert report.held == {"slack": 1} and [n.kind for n in store.pending()] == ["digest"]
    assert store.subscriptions()[0]["last_digest"] == mark and digests.queued == [] and len(digests.previewed) == 1
    assert out.getvalue().count("== Weekly digest") == 2  # the pending one and the preview
    assert flush(store, channels(sink_for(fake_slack))).delivered == 1 and store.pending() == []


def test_a_digest_leaves_out_baseline_records_but_not_their_later_changes(settings: Settings) -> None:
    """Issue 12: a subscriber added before a query's first run never gets the baseline as news;
    a baseline record that changes later (a retraction) is in the next digest."""
    store = Store.memory()
    store.subscribe("slack:C0SUB", "weekly", now=MONDAY - timedelta(days=1))
    old, retracted_later = labelled(1), labelled(2)
    store.commit("pm", Diff(new=[old, retracted_later]), now=MONDAY + timedelta(hours=1), baseline=True)
    store.commit("pm", Diff(new=[labelled(3)]), now=MONDAY + timedelta(days=1))
    diff = store.diff([retracted(labelled(2))], "pm")
    assert [c.item.uid for c in diff.changed] == ["pmid:30000002"]
    store.commit("pm", diff, now=MONDAY + timedelta(days=2))
    (note,) = build_digests(store, settings, moment=MONDAY + timedelta(days=7))
    assert sorted(note.uids) == ["pmid:30000002", "pmid:30000003"]


def test_an_item_committed_in_the_same_second_as_a_digest_is_in_the_next_one(settings: Settings) -> None:
    """Regression (issue 14, finding 10: 1-second stamps and (since, until] windows dropped an
    item committed in the digest's own second): it arrives with the next digest."""
    store = Store.memory()
    store.subscribe("slack:#team", "weekly", now=MONDAY)
    stored(store, [labelled(1)], MONDAY + timedelta(days=1))
    moment = MONDAY + timedelta(days=7)
    first = queue_digests(store, settings, moment=moment)
    stored(store, [labelled(2)], moment)  # committed right after, in the same second
    second = queue_digests(store, settings, moment=moment + timedelta(days=7))
    assert [list(n.uids) for n in first] == [["pmid:30000001"]]
    assert [list(n.uids) for n in second] == [["pmid:30000002"]]


def test_a_pinned_clock_still_puts_each_item_in_exactly_one_digest(settings: Settings) -> None:
    """With every stamp equal (LITWATCH_NOW pinned), digests still split by commit order."""
    store = Store.memory()
    store.subscribe("slack:#team", "daily", now=MONDAY)
    stored(store, [labelled(1)], MONDAY)
    first = queue_digests(store, settings, period="daily", moment=MONDAY)
    stored(store, [labelled(2), labelled(3)], MONDAY)
    second = queue_digests(store, settings, period="daily", moment=MONDAY)
    third = queue_digests(store, settings, period="daily", moment=MONDAY)
    assert [list(n.uids) for n in first + second + third] == [["pmid:30000001"],
                                                          ["pmid:30000002", "pmid:30000003"], []]


def test_a_baseline_record_changed_in_its_baseline_second_is_still_digest_news(settings: Settings) -> None:
    """A retraction committed in the same second as the baseline is a change, not baseline (same-second stamps)."""
    store = Store.memory()
    store.subscribe("C0SUB", "weekly", now=MONDAY - timedelta(days=1))
    store.commit("pm", Diff(new=[labelled(1)]), now=MONDAY, baseline=True)
    store.commit("pm", store.diff([retracted(labelled(1))], "pm"), now=MONDAY)
    (note,) = build_digests(store, settings, moment=MONDAY + timedelta(days=7))
    assert note.uids == ("pmid:30000001",)


def test_the_digest_says_how_many_records_await_screening(settings: Settings) -> None:
    """Issue 11: the digest counts the stored records without a decision and names the queue."""
    from bot.decisions import Decision, Reviewer

    store = Store.memory()
    store.subscribe("slack:#team", "weekly", now=MONDAY)
    stored(store, [labelled(1), labelled(2), labelled(3)], MONDAY + timedelta(days=1))
    store.record_decisions([Decision("pmid:30000001", "include", Reviewer("U0ALICE01", "Alice"),
                                     MONDAY + timedelta(days=2), "cli")])
    out = io.StringIO()
    run_digests(store, settings, channels(console=out), moment=MONDAY + timedelta(days=7))
    assert "2 records await screening: /litwatch screen or litwatch screen lists them, best first." in out.getvalue()
