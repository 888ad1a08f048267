"""Parsing `/litwatch` command text: every verb, every option, and help for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.models import Classification
from bot.slack.commands import Caller, Command, Services, ack_payload, handle, parse, unescape
from bot.slack.mrkdwn import escape
from bot.store import Store
from tests.factories import pubmed_item, write_config


def test_search_with_all_options() -> None:
    """Terms, source, since and a trailing share are all read."""
    cmd = parse("search exosome alopecia source:pubmed since:2020 share", this_year=2025)
    assert cmd == Command(
        "search", terms="exosome alopecia", source="pubmed", since=2020, share=True
    )


def test_search_defaults_and_options_anywhere() -> None:
    """Without options a search covers all sources, ephemerally; source: may come first."""
    assert parse("search exosome") == Command("search", terms="exosome")
    cmd = parse("SEARCH source:Trials exosome hair")
    assert (cmd.verb, cmd.source, cmd.terms) == ("search", "trials", "exosome hair")


def test_share_counts_only_as_the_last_word() -> None:
    """`share` inside the terms is a search word, not the share flag."""
    cmd = parse("search share decision making")
    assert (cmd.terms, cmd.share) == ("share decision making", False)


def test_search_terms_are_unescaped_and_quotes_straightened() -> None:
    """Slack's &amp;/&lt;/&gt; escaping and smart quotes become what the user typed."""
    cmd = parse("search “hair loss” &amp; exosome &lt;2&gt;")
    assert cmd.terms == '"hair loss" & exosome <2>'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("search", "needs search terms"),
        ("search source:pubmed", "needs search terms"),
        ("search x source:embase", "unknown source `embase`"),
        ("search x since:20", "takes a year"),
        ("search x since:2999", "takes a year"),
        ("search x since:1700", "takes a year"),
        ("search " + "a" * 501, "limited to 500"),
        ("subscribe monthly", "`weekly` or `daily`"),
        ("subscribe weekly daily", "`weekly` or `daily`"),
        ("unsubscribe now", "takes only a `mailto:` address"),
        ("queries all", "takes no arguments"),
        ("run", "name of one saved query"),
        ("run ../../etc/passwd", "name of one saved query"),
        ("run a b", "name of one saved query"),
        ("frobnicate", "unknown command `frobnicate`"),
    ],
)
def test_bad_input_becomes_help_with_the_problem(text: str, problem: str) -> None:
    """An unknown command or a bad argument yields help, saying what was wrong."""
    cmd = parse(text, this_year=2025)
    assert cmd.verb == "help" and problem in cmd.problem


def test_simple_verbs() -> None:
    """subscribe defaults to weekly; the argument-free verbs parse; empty text is help."""
    assert parse("subscribe") == Command("subscribe", period="weekly")
    assert parse("subscribe DAILY") == Command("subscribe", period="daily")
    assert parse("run pubmed-exosomes-hair") == Command("run", query="pubmed-exosomes-hair")
    for verb in ("unsubscribe", "queries", "status", "help"):
        assert parse(f"  {verb} ") == Command(verb)
    assert parse("") == Command("help")


def test_help_ack_carries_the_problem_escaped() -> None:
    """Help is answered in the ack itself and shows the bad input escaped."""
    payload = ack_payload(parse("<!channel>"))
    assert payload is not None and payload["response_type"] == "ephemeral"
    shown = payload["blocks"][0]["text"]["text"]
    assert "unknown command `&lt;!channel&gt;`" in payload["text"] + shown
    assert "<!channel>" not in payload["text"] + shown
    assert "`/litwatch search &lt;terms&gt; [source:pubmed|trials|all]" in shown


def test_search_ack_echoes_terms_escaped() -> None:
    """The search ack names the sources and echoes the terms without letting them ping."""
    payload = ack_payload(parse("search <@U123> hair source:trials"))
    assert payload is not None
    assert payload["text"] == "Searching ClinicalTrials.gov for “&lt;@U123&gt; hair”…"
    assert payload["blocks"][0]["text"]["text"] == payload["text"]


def test_store_commands_ack_empty() -> None:
    """Commands that read the store ack empty: their work happens after the ack."""
    for text in ("queries", "status", "subscribe", "unsubscribe"):
        assert ack_payload(parse(text)) is None


def test_escape_round_trip() -> None:
    """escape and unescape are inverse for the three mrkdwn control characters."""
    raw = "a & b < c > d &amp;"
    assert unescape(escape(raw)) == raw
    assert escape("<!here>") == "&lt;!here&gt;"


def test_flagged_takes_an_optional_query_name() -> None:
    """`flagged` alone is every query; one saved-query name narrows it; anything else is help."""
    assert parse("flagged") == Command("flagged")
    assert parse("flagged pm") == Command("flagged", query="pm")
    assert parse("flagged pm ct").verb == "help"
    assert parse("flagged <x>").verb == "help"


def test_flagged_lists_stored_flagged_records_newest_first(tmp_path: Path) -> None:
    """Issue 12: Slack users reach the baseline's flagged records without the CLI."""
    settings = load_settings(write_config(tmp_path))
    store = Store.memory()
    items = []
    for n in range(1, 14):
        item = pubmed_item(n, title=f"Record {n}", published=f"2025-01-{n:02d}")
        item.classification = Classification("clinical", safety=n % 2 == 1, reasons=("test rule",))
        items.append(item)
    store.commit("pm", store.diff(items, "pm"))
    services = Services(settings, store, sources={}, classify=lambda item: Classification())
    payload = handle(parse("flagged pm"), Caller("U1", "C1"), services)
    text = payload["blocks"][0]["text"]["text"]
    assert payload["text"].startswith("*7* flagged records for pm, newest first")
    assert text.index("Record 13") < text.index("Record 11") and "Record 12" not in text
    unknown = handle(parse("flagged nope"), Caller("U1", "C1"), services)
    assert "There is no saved query `nope`" in unknown["text"]
    empty = handle(parse("flagged"), Caller("U1", "C1"), Services(settings, Store.memory(), {}, services.classify))
    assert empty["text"] == "No stored record carries a safety or integrity flag."


def test_subscribe_and_unsubscribe_take_one_mailto_address() -> None:
    """`/litwatch subscribe [period] mailto:…` subscribes that address; a bad or second address is help."""
    assert parse("subscribe mailto:alice@example.org") == Command(
        "subscribe", period="weekly", target="mailto:alice@example.org")
    assert parse("subscribe mailto:alice@example.org daily") == Command(
        "subscribe", period="daily", target="mailto:alice@example.org")
    assert parse("unsubscribe mailto:alice@example.org") == Command("unsubscribe", target="mailto:alice@example.org")
    for text in ("subscribe mailto:alice", "subscribe mailto:a@example.org mailto:b@example.org",
                 "subscribe mailto:a@example.org,b@example.org"):
        assert parse(text).verb == "help" and "mailto:name@example.org" in parse(text).problem


def test_subscribing_an_address_from_slack_stores_a_mailto_route(tmp_path: Path) -> None:
    """The address, not the channel, is subscribed; unsubscribing it leaves the channel's own digest."""
    settings = load_settings(write_config(tmp_path))
    store = Store.memory()
    services = Services(settings, store, {}, lambda item: Classification())
    caller = Caller("U1", "C0TEAM001")
    handle(parse("subscribe"), caller, services)
    reply = handle(parse("subscribe daily mailto:alice@example.org"), caller, services)
    assert reply["text"] == "alice@example.org is now subscribed to the daily digest by e-mail."
    assert [(s["target"], s["period"]) for s in store.subscriptions()] == [
        ("mailto:alice@example.org", "daily"), ("slack:C0TEAM001", "weekly")]
    assert "no more digests to alice@example.org" in handle(
        parse("unsubscribe mailto:alice@example.org"), caller, services)["text"]
    assert [s["target"] for s in store.subscriptions()] == ["slack:C0TEAM001"]


def test_slack_screen_keeps_its_features_between_commands(tmp_path: Path) -> None:
    """/litwatch screen with the daemon's feature cache: a decision retrains, no abstract is re-read."""
    from datetime import UTC, datetime

    from bot.decisions import Decision, Reviewer
    from bot.ranker import FeatureCache

    settings = load_settings(write_config(tmp_path))
    store = Store.memory()
    store.commit("pm", store.diff([pubmed_item(n, title=f"Record {n}") for n in range(1, 6)], "pm"))
    services = Services(settings, store, {}, lambda item: Classification(), features=FeatureCache())
    at, by = datetime(2026, 11, 30, tzinfo=UTC), Reviewer("U1", "alice")
    store.record_decisions([Decision("pmid:30000001", "include", by, at), Decision("pmid:30000002", "exclude", by, at)])
    first = handle(parse("screen 2"), Caller("U1", "C1"), services)
    store.record_decisions([Decision("pmid:30000003", "exclude", by, at)])
    second = handle(parse("screen 2"), Caller("U1", "C1"), services)
    assert first["text"].startswith("*3* records await") and second["text"].startswith("*2* records await")
    assert services.features.builds == 1


def test_slack_screen_offers_confirm_on_a_safety_flagged_record(tmp_path: Path) -> None:
    """In /litwatch screen's list a flagged record carries Confirm / Not a safety signal, the others do not."""
    settings = load_settings(write_config(tmp_path))
    store = Store.memory()
    flagged, plain = pubmed_item(1), pubmed_item(2)
    flagged.classification = Classification("case_report", safety=True)
    plain.classification = Classification("clinical")
    store.commit("pm", store.diff([flagged, plain], "pm"))
    payload = handle(parse("screen"), Caller("U1", "C1"), Services(settings, store, {}, lambda item: Classification()))
    buttons = {b["block_id"]: [e["action_id"] for e in b["elements"]] for b in payload["blocks"]
               if b["type"] == "actions"}
    assert buttons["screen:pmid:30000001"][3:] == ["safety:confirm", "safety:dismiss"]
    assert len(buttons["screen:pmid:30000002"]) == 3
