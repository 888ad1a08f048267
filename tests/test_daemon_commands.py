"""Slash commands end to end: the real Socket Mode client, the fake Slack, a real store."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import pytest

from bot.errors import QuerySyntaxError, SourceError
from tests.conftest import fixture_path
from tests.daemon_kit import CONFIG, Rig, ScriptedSource, daemon_rig
from tests.factories import notification, pubmed_item, trial_item
from tests.fakes.slack import slack_problems


def ack_and_reply(rig: Rig, text: str, **who: str) -> tuple[dict | None, dict]:
    """Send a command; return its ack payload and the reply posted to its response_url."""
    before = len(rig.slack.responses)
    envelope = rig.command(text, **who)
    ack = rig.socket.wait_ack(envelope, timeout=10)
    assert ack is not None, f"no ack for {text!r}"
    responses = rig.slack.wait_responses(before + 1, timeout=10)
    assert len(responses) == before + 1, f"no reply for {text!r}"
    if ack.payload:
        assert slack_problems(ack.payload) == []
    return ack.payload, responses[-1].payload


def test_help_is_answered_in_the_ack_alone(tmp_path: Path) -> None:
    """`help` (and bad input) is answered by the ack itself; nothing else is posted."""
    with daemon_rig(tmp_path) as rig:
        ack = rig.socket.wait_ack(rig.command("help"))
        assert ack is not None and ack.payload is not None
        assert "/litwatch search" in ack.payload["blocks"][0]["text"]["text"]
        bad = rig.socket.wait_ack(rig.command("subscribe hourly"))
        assert bad is not None and bad.payload is not None
        assert "`weekly` or `daily`" in bad.payload["text"]
        time.sleep(0.2)
        assert rig.slack.responses == []


def test_recorded_slack_messages_drive_the_listener_like_ours(tmp_path: Path) -> None:
    """Slack's recorded `hello` and slash-command envelope are understood as ours are."""
    recorded = (fixture_path("slack", "slack_socketmode_hello.json"),
                fixture_path("slack", "slack_socketmode_envelope_slash_commands.json"))  # fmt: skip
    with daemon_rig(tmp_path, socket_mode=recorded) as rig:
        ack = rig.socket.wait_ack(rig.command("help"))
    assert ack is not None and ack.payload is not None
    assert "/litwatch search" in ack.payload["blocks"][0]["text"]["text"]


def test_search_acks_before_searching_and_replies_with_linked_results(tmp_path: Path) -> None:
    """The ack never waits for the search; results come ephemeral, linked, escaped."""
    acked_when_search_began: list[bool] = []
    pubmed = ScriptedSource(search_items=[
        pubmed_item(1, title="Exosomes <!channel> for alopecia", published="2025-02-01"),
        pubmed_item(2, title="Safety of exosome injections", published="2025-03-01"),
    ])  # fmt: skip
    trials = ScriptedSource(search_items=[trial_item("NCT05000001")])
    with daemon_rig(tmp_path, sources={"pubmed": pubmed, "clinicaltrials": trials}) as rig:
        # The search itself waits for the ack to reach Slack: had the listener acked only
        # after the work, this wait would run out and record False.
        envelope = "search-envelope-1"
        pubmed.before_search = lambda: acked_when_search_began.append(
            rig.socket.wait_ack(envelope, timeout=3) is not None
        )
        rig.command("search exosome alopecia since:2020", envelope_id=envelope)
        ack = rig.socket.wait_ack(envelope)
        reply = rig.slack.wait_responses(1)[0]
    assert acked_when_search_began == [True]
    assert ack is not None and ack.payload is not None
    assert ack.payload["text"].startswith("Searching PubMed and ClinicalTrials.gov for")
    assert pubmed.searches[0][:3] == ("exosome alopecia", 10, date(2020, 1, 1))
    assert reply.ephemeral
    text = reply.all_text()
    assert "<https://pubmed.ncbi.nlm.nih.gov/30000002/|Safety of exosome injections>" in text
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "NCT05000001" in text
    # newest first: the March paper before the February one
    assert text.index("30000002") < text.index("30000001")
    assert slack_problems(reply.payload) == []


def test_search_share_posts_in_channel_and_source_filter_applies(tmp_path: Path) -> None:
    """`share` makes the reply visible to the channel; source:trials asks only the registry."""
    pubmed, trials = ScriptedSource(), ScriptedSource(search_items=[trial_item("NCT05000002")])
    with daemon_rig(tmp_path, sources={"pubmed": pubmed, "clinicaltrials": trials}) as rig:
        _, reply = ack_and_reply(rig, "search exosome source:trials share")
    assert reply["response_type"] == "in_channel"
    assert pubmed.searches == [] and len(trials.searches) == 1


def test_search_syntax_and_upstream_errors_come_back_readable(tmp_path: Path) -> None:
    """A PubMed syntax error and an upstream outage are replies a person can act on."""
    pubmed = ScriptedSource(search_error=QuerySyntaxError("unbalanced parentheses in `(exosome`"))
    trials = ScriptedSource(search_error=SourceError("HTTP 503 after 3 attempts", retryable=True))
    with daemon_rig(tmp_path, sources={"pubmed": pubmed, "clinicaltrials": trials}) as rig:
        _, reply = ack_and_reply(rig, "search (exosome")
    text = reply["text"] + "\n" + str(reply["blocks"])
    assert "PubMed could not read the search: unbalanced parentheses" in text
    assert "ClinicalTrials.gov is not answering right now (HTTP 503 after 3 attempts)" in text


def test_subscribe_and_unsubscribe_channel_and_dm(tmp_path: Path) -> None:
    """In a channel the channel subscribes; in a DM the person does; unsubscribe removes it."""
    with daemon_rig(tmp_path) as rig:
        _, reply = ack_and_reply(rig, "subscribe daily", channel_id="C0TEAM001")
        assert "This channel is now subscribed to the daily digest" in reply["text"]
        _, reply = ack_and_reply(rig, "subscribe", user_id="U0ALICE01", channel_id="D0DM00001")
        assert "You are now subscribed to the weekly digest" in reply["text"]
        subs = {s["target"]: s["period"] for s in rig.store.subscriptions()}
        assert subs == {"slack:C0TEAM001": "daily", "slack:U0ALICE01": "weekly"}
        _, reply = ack_and_reply(rig, "unsubscribe", channel_id="C0TEAM001")
        assert "Unsubscribed" in reply["text"]
        _, reply = ack_and_reply(rig, "unsubscribe", channel_id="C0TEAM001")
        assert "no digest subscription" in reply["text"]
        assert [s["target"] for s in rig.store.subscriptions()] == ["slack:U0ALICE01"]


def test_run_then_queries_and_status(tmp_path: Path) -> None:
    """`run` runs a saved query and reports; `queries` and `status` then show what happened."""
    pubmed = ScriptedSource(items=[pubmed_item(1), pubmed_item(2)])
    trials = ScriptedSource()
    with daemon_rig(tmp_path, sources={"pubmed": pubmed, "clinicaltrials": trials}) as rig:
        ack, reply = ack_and_reply(rig, "run pm")
        assert ack is not None and "Running `pm` now" in ack["text"]
        assert "pm: fetched 2, baseline" in reply["text"]
        assert len(rig.store) == 2 and rig.store.query_state("pm").last_success
        assert "Baseline — pm" in rig.console.getvalue()  # delivered through the sink

        _, reply = ack_and_reply(rig, "run nope")
        assert "There is no saved query `nope`" in reply["text"]

        _, reply = ack_and_reply(rig, "queries")
        text = str(reply["blocks"])
        assert "*pm* · PubMed · `0 6 * * *` (Europe/Berlin)" in text
        assert "last success 20" in text and "next run 20" in text
        assert "*ct* · ClinicalTrials.gov" in text and "last success never" in text

        _, reply = ack_and_reply(rig, "status")
        text = str(reply["blocks"])
        assert "healthy" in text and "store: 2 records · 2 active queries" in text
        assert "outbox: 0 pending" in text


def test_failed_run_shows_in_status_and_queries(tmp_path: Path) -> None:
    """A failing query's error is shown by `run`, `queries` and `status`."""
    pubmed = ScriptedSource(gate=threading.Event())
    pubmed.gate.set()
    trials = ScriptedSource()

    def broken(query, window):  # type: ignore[no-untyped-def]
        raise SourceError("ClinicalTrials.gov answered 500 three times", query=query.name)

    trials.fetch = broken  # type: ignore[method-assign]
    with daemon_rig(tmp_path, sources={"pubmed": pubmed, "clinicaltrials": trials}) as rig:
        _, reply = ack_and_reply(rig, "run ct")
        assert ":x: `ct` failed: ClinicalTrials.gov answered 500 three times" in reply["text"]
        _, reply = ack_and_reply(rig, "status")
        assert "needs attention" in reply["text"]
        assert "*ct*: ClinicalTrials.gov answered 500" in str(reply["blocks"])


def test_ack_is_immediate_while_a_scheduled_run_holds_the_store(tmp_path: Path) -> None:
    """While a run is in progress and the store lock is held, commands are still acked at once."""
    gate = threading.Event()
    pubmed = ScriptedSource(items=[pubmed_item(1)], gate=gate)
    with daemon_rig(tmp_path, sources={"pubmed": pubmed, "clinicaltrials": ScriptedSource()},
                    catch_up=True) as rig:  # fmt: skip
        assert pubmed.started.wait(10)  # the catch-up run of "pm" is fetching
        assert rig.daemon.scheduler.running == ["query:pm"]
        rig.store.lock.acquire()  # ... and now also holds the store
        try:
            envelopes = [rig.command(text) for text in ("status", "queries", "search x", "help")]
            acks = [rig.socket.wait_ack(e, timeout=3) for e in envelopes]
            assert all(a is not None for a in acks), "a command was not acked within 3 s"
            assert rig.slack.responses == [] or all(
                "result" in r.payload["text"] for r in rig.slack.responses
            )  # store-reading replies wait for the lock; the search needs no store
        finally:
            rig.store.lock.release()
        gate.set()
        replies = rig.slack.wait_responses(3)
        assert len(replies) == 3


def test_run_command_does_not_overlap_the_scheduled_run(tmp_path: Path) -> None:
    """`run pm` while pm's scheduled run is in progress reports it as running, no second fetch."""
    gate = threading.Event()
    pubmed = ScriptedSource(items=[pubmed_item(1)], gate=gate)
    with daemon_rig(tmp_path, sources={"pubmed": pubmed, "clinicaltrials": ScriptedSource()},
                    catch_up=True) as rig:  # fmt: skip
        assert pubmed.started.wait(10)
        _, reply = ack_and_reply(rig, "run pm")
        assert "`pm` is already running" in reply["text"]
        gate.set()
        deadline = time.monotonic() + 10
        while rig.store.query_state("pm").last_success is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(pubmed.fetches) == 1


def test_subscribe_then_the_scheduled_digest_reaches_the_subscriber(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel that subscribed by slash command gets the next digest, with its RIS file;
    the records of the query's baseline are not in it (issue 12: no baseline as digest news)."""
    monkeypatch.setenv("LITWATCH_NOW", "2025-03-10T08:00:00+00:00")
    pubmed = ScriptedSource(items=[pubmed_item(1, title="Baseline record on exosomes")])
    sources = {"pubmed": pubmed, "clinicaltrials": ScriptedSource()}
    with daemon_rig(tmp_path, sources=sources, slack_sink=True) as rig:
        _, reply = ack_and_reply(rig, "subscribe daily", channel_id="C0TEAM001")
        assert "daily digest" in reply["text"]
        monkeypatch.setenv("LITWATCH_NOW", "2025-03-10T12:00:00+00:00")
        ack_and_reply(rig, "run pm")  # the baseline
        pubmed.items = [*pubmed.items, pubmed_item(2, title="Safety of exosomes")]
        monkeypatch.setenv("LITWATCH_NOW", "2025-03-10T13:00:00+00:00")
        ack_and_reply(rig, "run pm")
        assert rig.slack.messages_in("C0TEAM001") == []  # alerts go to the alert channel
        monkeypatch.setenv("LITWATCH_NOW", "2025-03-11T09:00:00+00:00")
        rig.daemon.runner.digest()  # what the scheduler's digest job calls
        digests = rig.slack.messages_in("C0TEAM001")
        files = [f for f in rig.slack.files if f.channel == "C0TEAM001"]
    assert len(digests) >= 1
    text = "\n".join(m.all_text() for m in digests)
    assert "Safety of exosomes" in text and "Baseline record" not in text
    assert [f.filename.rsplit(".", 1)[1] for f in files] == ["ris", "png", "png"]  # the RIS, trend chart, PRISMA
    assert b"Safety of exosomes" in files[0].content
    assert rig.store.pending() == []


ADMIN_CONFIG = CONFIG.replace('channel = "C0ALERTS1"\n', 'channel = "C0ALERTS1"\nadmins = ["U0ADMIN01"]\n', 1)


@pytest.mark.parametrize("text", ["status", "queries", "run pm"])
def test_scoped_commands_are_refused_outside_the_review_channels(tmp_path: Path, text: str) -> None:
    """Regression (issue 14, finding 6: status, queries and run answered anyone, anywhere):
    outside the configured channels, for someone not in [slack] admins, the ack is an
    ephemeral refusal and nothing runs; an admin gets the answer anywhere."""
    pubmed = ScriptedSource(items=[pubmed_item(1)])
    with daemon_rig(tmp_path, config=ADMIN_CONFIG,
                    sources={"pubmed": pubmed, "clinicaltrials": ScriptedSource()}) as rig:  # fmt: skip
        ack = rig.socket.wait_ack(rig.command(text, user_id="U0STRANGE", channel_id="C0RANDOM1"))
        assert ack is not None and ack.payload is not None
        assert ack.payload["response_type"] == "ephemeral"
        assert f"`/litwatch {text.split()[0]}` answers only in the review's alert channels" in ack.payload["text"]
        time.sleep(0.2)
        assert rig.slack.responses == [] and pubmed.fetches == []
        _, reply = ack_and_reply(rig, text, user_id="U0ADMIN01", channel_id="C0RANDOM1")
        assert "answers only" not in reply["text"]
    assert len(pubmed.fetches) == (1 if text == "run pm" else 0)


def test_subscribe_is_refused_where_the_bot_cannot_post(tmp_path: Path) -> None:
    """Regression (issue 14, finding 6: subscribe stored a channel the bot could not post to):
    Slack is asked first, and a channel the bot is not in is refused, with what to do."""
    with daemon_rig(tmp_path, slack_sink=True) as rig:
        rig.slack.not_member.add("C0NOBOT01")
        _, reply = ack_and_reply(rig, "subscribe", channel_id="C0NOBOT01")
        assert "Not subscribed: the bot is not a member of that channel; invite the bot first" in reply["text"]
        assert rig.store.subscriptions() == []
        assert [c.params.get("channel") for c in rig.slack.calls("conversations.info")] == ["C0NOBOT01"]
        _, reply = ack_and_reply(rig, "subscribe", channel_id="C0TEAM001")
        assert "now subscribed" in reply["text"]
        assert [s["target"] for s in rig.store.subscriptions()] == ["slack:C0TEAM001"]


def test_unsubscribe_drops_the_pending_digests_of_that_target(tmp_path: Path) -> None:
    """Regression (issue 14, finding 6: undeliverable digests piled up after unsubscribe):
    unsubscribe removes that target's pending digests, says how many, and leaves others."""
    with daemon_rig(tmp_path) as rig:
        ack_and_reply(rig, "subscribe", channel_id="C0TEAM001")
        rig.store.add_notifications([notification("digest", "slack:C0TEAM001", query=None),
                                     notification("digest", "slack:C0TEAM001", query=None),
                                     notification("digest", "slack:C0OTHER01", query=None)])
        _, reply = ack_and_reply(rig, "unsubscribe", channel_id="C0TEAM001")
        assert "Unsubscribed: no more digests here. 2 pending digests dropped." in reply["text"]
        assert [n.route for n in rig.store.pending()] == ["slack:C0OTHER01"]
