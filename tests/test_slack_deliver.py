"""Delivering the outbox to a fake Slack through the real WebClient: routing, splits, outages."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from bot.config import Environment, Settings, load_settings
from bot.models import FetchResult, Item
from bot.outbox import DeliveryFailed, flush
from bot.retry import RetryPolicy
from bot.slack.deliver import SlackChannel, make_client
from bot.store import Store
from tests.corpus import slack_body
from tests.factories import channels, notification, pubmed_item, retracted, write_config
from tests.fakes.slack import BOT_TOKEN, FakeSlack, posted_text
from tests.test_pipeline import ScriptedSource, run

EVIL = "Exosomes <!channel> <@U0001> <http://evil.example|PubMed> & alopecia"


class Pauses:
    """Records the pauses the client and the sink ask for, without sleeping."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path))


def sink_for(fake_slack: FakeSlack, pauses: Pauses | None = None, attempts: int = 3) -> SlackChannel:
    """The real Slack channel, talking to the fake Slack with fast retries and recorded pauses."""
    env = Environment(slack_api_url=fake_slack.api_url, slack_bot_token=BOT_TOKEN)
    policy = RetryPolicy(timeout=5, attempts=attempts, base_delay=0.001, max_delay=30, jitter=0)
    pauses = pauses or Pauses()
    return SlackChannel(make_client(env, policy, sleep=pauses), pace=1.0, sleep=pauses)


def baseline_then(settings: Settings, store: Store, later: list[Item]) -> None:
    """Run a one-item baseline (delivered), then a run that finds `later`."""
    source = ScriptedSource([FetchResult(items=[pubmed_item(0)]), FetchResult(items=[pubmed_item(0), *later])])
    run(settings, store, source)
    for note in store.pending():
        store.mark_delivered(note.id)
    run(settings, store, source)


def uids_posted(fake_slack: FakeSlack) -> Counter[str]:
    """How often each PubMed record was posted (its PMID link appears once per item section)."""
    return Counter(re.findall(r"\|PMID (\d+)>", posted_text(fake_slack.messages)))


def test_routing_safety_and_integrity_apart_items_grouped(fake_slack: FakeSlack, settings: Settings) -> None:
    """Safety and integrity go one each to the safety channel; the rest as one grouped message."""
    store = Store.memory()
    baseline_then(settings, store, [retracted(pubmed_item(1)), pubmed_item(2, title="Granuloma safety report"),
                                    pubmed_item(3), pubmed_item(4)])  # fmt: skip
    report = flush(store, channels(sink_for(fake_slack)))
    assert report.delivered == 3 and store.pending() == []
    safety = fake_slack.messages_in("C999")
    assert sorted(m.blocks[0]["text"]["text"] for m in safety) == [
        ":rotating_light: Safety signal — pm", ":warning: Integrity notice — pm"]  # fmt: skip
    grouped = fake_slack.messages_in("C111")
    assert len(grouped) == 1 and grouped[0].blocks[0]["text"]["text"] == "2 new — pm"
    assert [c.method for c in fake_slack.calls()] == ["chat.postMessage"] * 3
    assert fake_slack.rejected == []


def test_a_120_item_run_arrives_as_six_valid_messages(fake_slack: FakeSlack, settings: Settings) -> None:
    """A 120-item run is split into parts Slack accepts, one API call per message."""
    store = Store.memory()
    baseline_then(settings, store, [pubmed_item(n) for n in range(1, 121)])
    flush(store, channels(sink_for(fake_slack)))
    assert fake_slack.rejected == []
    assert len(fake_slack.messages_in("C111")) == 6 and len(fake_slack.calls()) == 6
    assert set(uids_posted(fake_slack).values()) == {1} and len(uids_posted(fake_slack)) == 120


def test_titles_with_mentions_and_forged_links_arrive_escaped(fake_slack: FakeSlack, settings: Settings) -> None:
    """What Slack receives contains no live mention or forged link from a title."""
    store = Store.memory()
    baseline_then(settings, store, [pubmed_item(1, title=EVIL), pubmed_item(2, title=f"{EVIL} safety")])
    flush(store, channels(sink_for(fake_slack)))
    received = posted_text(fake_slack.messages)
    for forged in ("<!channel>", "<@U0001>", "<http://evil.example|PubMed>"):
        assert forged not in received
    assert received.count("&lt;!channel&gt;") >= 2
    for call in fake_slack.calls("chat.postMessage"):
        assert "link_names" not in call.params and "parse" not in call.params


def test_outage_then_recovery_delivers_every_alert_exactly_once(fake_slack: FakeSlack, settings: Settings,
                                                                corpus: str) -> None:
    """500s and 429s outlast the retries, then Slack recovers: every alert arrives once."""
    store = Store.memory()
    later = [pubmed_item(n, title=f"Exosome safety case {n}") for n in range(1, 4)]
    later += [pubmed_item(n) for n in range(4, 50)]  # 46 grouped items: three parts
    baseline_then(settings, store, later)
    pauses = Pauses()
    fake_slack.fail("chat.postMessage", status=500, times=2)  # retried away: the first alert goes out
    fake_slack.fail("chat.postMessage", status=429, retry_after=2, times=3,
              body=slack_body(corpus, "ratelimited"))  # fmt: skip
    sink = sink_for(fake_slack, pauses)
    first = flush(store, channels(sink))
    assert first.delivered >= 1 and first.failed
    assert all(error.startswith("ratelimited") for _, error in first.failed)
    assert any(p >= 2 for p in pauses.seconds)  # Retry-After honoured
    second = flush(store, channels(sink))
    assert not second.failed and store.pending() == []
    assert len(uids_posted(fake_slack)) == 49 and set(uids_posted(fake_slack).values()) == {1}


def test_retry_after_longer_than_the_policy_is_not_retried_early(fake_slack: FakeSlack, settings: Settings,
                                                                 corpus: str) -> None:
    """Regression (Retry-After capped at max_delay): Slack asking for 120 s fails the flush at once, saying so; the next flush delivers."""
    store = Store.memory()
    baseline_then(settings, store, [pubmed_item(1)])
    pauses = Pauses()
    fake_slack.fail("chat.postMessage", status=429, retry_after=120, times=1,
                    body=slack_body(corpus, "ratelimited"))  # fmt: skip
    sink = sink_for(fake_slack, pauses)  # max_delay 30 s
    first = flush(store, channels(sink))
    [(_, error)] = first.failed
    assert "asked to wait 120 s" in error and "30 s one pause may last" in error, error
    assert pauses.seconds == [] and len(fake_slack.calls("chat.postMessage")) == 1
    second = flush(store, channels(sink))
    assert not second.failed and store.pending() == [] and len(uids_posted(fake_slack)) == 1


def test_retry_after_beyond_the_retry_budget_is_not_retried_early(fake_slack: FakeSlack, settings: Settings) -> None:
    """Regression (Retry-After cut short): a wait within max_delay but past the total budget stops the retries."""
    store = Store.memory()
    baseline_then(settings, store, [pubmed_item(1)])
    pauses = Pauses()
    fake_slack.fail("chat.postMessage", status=429, retry_after=20, times=1)
    env = Environment(slack_api_url=fake_slack.api_url, slack_bot_token=BOT_TOKEN)
    policy = RetryPolicy(timeout=5, attempts=3, base_delay=0.001, max_delay=30, total=10, jitter=0)
    report = flush(store, channels(SlackChannel(make_client(env, policy, sleep=pauses), sleep=pauses)))
    [(_, error)] = report.failed
    assert "asked to wait 20 s" in error and "left of the 10 s retry budget" in error
    assert pauses.seconds == []


def test_half_sent_split_message_resumes_after_the_confirmed_part(fake_slack: FakeSlack, settings: Settings) -> None:
    """A failure on part 2 of 3 keeps the notification; the next flush posts only the items not yet posted."""
    store = Store.memory()
    baseline_then(settings, store, [pubmed_item(n) for n in range(1, 47)])
    sink = sink_for(fake_slack, attempts=1)
    fake_slack.fail("chat.postMessage", after=1, error="fatal_error")
    report = flush(store, channels(sink))
    note = store.pending()[0]
    assert report.failed and note.sent_parts == 1 and len(note.sent_uids) == 20
    flush(store, channels(sink))
    headers = [m.blocks[0]["text"]["text"] for m in fake_slack.messages_in("C111")]
    assert headers == ["46 new — pm (part 1/3)", "26 new — pm (part 1/2)", "26 new — pm (part 2/2)"]
    assert len(uids_posted(fake_slack)) == 46 and set(uids_posted(fake_slack).values()) == {1}
    assert store.pending() == []


def test_an_item_changing_between_attempts_is_neither_lost_nor_doubled(fake_slack: FakeSlack,
                                                                       settings: Settings) -> None:
    """Regression (review finding 2): progress is kept by uid, so a re-render after a change cannot shift parts."""
    store = Store.memory()
    baseline_then(settings, store, [pubmed_item(n) for n in range(1, 47)])
    sink = sink_for(fake_slack, attempts=1)
    fake_slack.fail("chat.postMessage", after=1, error="fatal_error")
    flush(store, channels(sink))
    # An item posted in part 1 is retracted before the retry: it would now render as "changed".
    store.commit("pm", store.diff([retracted(pubmed_item(3))], "pm"))
    flush(store, channels(sink))
    counts = uids_posted(fake_slack)
    assert set(counts) == {str(30000000 + n) for n in range(1, 47)}
    assert set(counts.values()) == {1}


def test_channel_not_found_keeps_items_pending_with_the_error(settings: Settings) -> None:
    """An unknown safety channel keeps its alerts pending with the error; other channels get theirs."""
    with FakeSlack(channels={"C111"}) as fake_slack:
        store = Store.memory()
        baseline_then(settings, store, [pubmed_item(1, title="Exosome safety case"), pubmed_item(2)])
        report = flush(store, channels(sink_for(fake_slack)))
        assert report.delivered == 1 and len(fake_slack.messages_in("C111")) == 1
        pending = store.pending()
        assert [n.route for n in pending] == ["slack:C999"]
        assert pending[0].last_error.startswith("channel_not_found (Slack knows no channel the bot can see")
        assert pending[0].attempts == 1 and pending[0].sent_parts == 0
        fake_slack.known_channels = {"C111", "C999"}
        assert flush(store, channels(sink_for(fake_slack))).delivered == 1 and store.pending() == []


def test_not_in_channel_is_kept_pending_with_a_hint(settings: Settings) -> None:
    """A channel the bot was not invited to keeps the alert pending and says how to fix it."""
    with FakeSlack(not_member={"C111"}) as fake_slack:
        store = Store.memory()
        baseline_then(settings, store, [pubmed_item(1)])
        flush(store, channels(sink_for(fake_slack)))
        assert store.pending()[0].last_error == "not_in_channel (invite the bot to the channel (/invite @litwatch))"


def test_slack_error_body_becomes_the_pending_error(fake_slack: FakeSlack, corpus: str) -> None:
    """The error a Slack error body names (Slack's documented example: too_many_attachments) is what
    the outbox records; refused on its one retry too, the notification is set aside with it."""
    store = Store.memory()
    store.add_notifications([notification("error", "slack:C111", message="x")])  # fmt: skip
    fake_slack.fail("chat.postMessage", times=2, body=slack_body(corpus, "postMessage error"))
    flush(store, channels(sink_for(fake_slack)))
    refused = store.pending()[0]
    assert refused.last_error == {"own": "msg_too_long", "recorded": "too_many_attachments"}[corpus]
    assert refused.set_aside and refused.attempts == 2


def test_user_targets_are_opened_as_dms_once(fake_slack: FakeSlack) -> None:
    """A U… target is opened with conversations.open once and then reused."""
    store = Store.memory()
    note = notification("error", "slack:U0ALICE", message="x")
    store.add_notifications([note, note])
    flush(store, channels(sink_for(fake_slack)))
    assert [c.method for c in fake_slack.calls()] == ["conversations.open", "chat.postMessage", "chat.postMessage"]
    assert len(fake_slack.messages_in("U0ALICE")) == 2


def test_pacing_is_about_one_message_per_second_per_channel(fake_slack: FakeSlack) -> None:
    """Consecutive posts to one channel wait out the pace; another channel does not wait."""
    clock = {"t": 100.0}
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock["t"] += seconds

    env = Environment(slack_api_url=fake_slack.api_url, slack_bot_token=BOT_TOKEN)
    sink = SlackChannel(make_client(env, RetryPolicy.fast()), pace=1.0, clock=lambda: clock["t"], sleep=sleep)
    for channel in ("C111", "C111", "C222", "C111"):
        clock["t"] += 0.25
        sink.send(notification("error", f"slack:{channel}", message="x"), [], 0)
    assert pauses == [0.75, 0.5]


def test_connection_errors_are_retried_a_bounded_number_of_times() -> None:
    """With Slack unreachable the client retries attempts-1 times, then the sink reports failure."""
    with FakeSlack() as gone:
        url = gone.api_url
    pauses = Pauses()
    env = Environment(slack_api_url=url, slack_bot_token=BOT_TOKEN)
    sink = SlackChannel(make_client(env, RetryPolicy(timeout=2, attempts=4, base_delay=0.001, jitter=0), sleep=pauses))
    with pytest.raises(DeliveryFailed) as failed:
        sink.send(notification("error", "slack:C111", message="x"), [], 0)
    assert failed.value.parts_done == 0 and len(pauses.seconds) == 3
    assert "URLError" in failed.value.error or "Connection" in failed.value.error


def test_unreachable_slack_keeps_the_alert_pending_with_a_hint(settings: Settings) -> None:
    """Regression (bare connection errors): when Slack cannot be reached at all, the recorded error
    says where it tried and what to check, as Slack's own error codes do."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/api/"
    env = Environment(slack_api_url=url, slack_bot_token=BOT_TOKEN)
    pauses = Pauses()
    sink = SlackChannel(make_client(env, RetryPolicy(timeout=2, attempts=2, base_delay=0.001, jitter=0),
                                 sleep=pauses), sleep=pauses)
    store = Store.memory()
    store.add_notifications([notification("safety", "slack:C999")])
    report = flush(store, channels(sink))
    assert report.delivered == 0 and len(report.failed) == 1
    error = store.pending()[0].last_error
    assert error.startswith("URLError:") and "Connection refused" in error
    assert f"Slack was not reached at {url}" in error and "the next run retries" in error
