"""Include / Exclude / Maybe clicks: Slack's block_actions payloads over Socket Mode and signed
HTTP, recorded in the store, then shown in place with chat.update (or refused, ephemerally)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

from bot.config import load_settings
from bot.decisions import Reviewer
from bot.notify import Notification, Summary
from bot.slack.blocks import render
from bot.slack.commands import Services
from bot.slack.listener import CommandDispatcher, SignedCommandServer, SocketModeListener, updater
from bot.store import Store
from tests.daemon_kit import CONFIG, fake_socket_mode, label
from tests.factories import pubmed_item
from tests.fakes.slack import APP_TOKEN, FakeSlack, Posted
from tests.fakes.socket_mode import FakeSocketMode
from tests.test_http_mode import SECRET, sign
from tests.test_slack_connect import wait_until

UID, OTHER = "pmid:30000001", "pmid:30000002"
ALICE = {"id": "U0ALICE01", "username": "alice", "name": "alice", "team_id": "T111"}
BOB = {"id": "U0BOB0001", "username": "bob", "name": "bob", "team_id": "T111"}
REVIEWERS = CONFIG + '\n[screening]\nreviewers = ["U0ALICE01"]\n'


@dataclass
class Rig:
    slack: FakeSlack
    store: Store
    dispatcher: CommandDispatcher
    alert: Posted  # the per-run alert with buttons, as the fake Slack holds it
    safety: Posted  # a safety alert on UID
    send: Callable[[dict[str, Any]], None]  # deliver a block_actions payload the way Slack does

    def updates(self) -> list[dict[str, Any]]:
        return [c.params for c in self.slack.calls("chat.update")]

    def wait_updates(self, count: int) -> bool:
        """Until `count` chat.update calls arrived and the clicks' work is done."""
        return wait_until(lambda: len(self.updates()) >= count) and self.dispatcher.wait(10)


@contextmanager
def rig(tmp_path: Path, transport: str = "socket", config: str = CONFIG) -> Iterator[Rig]:
    path = tmp_path / "litwatch.toml"
    path.write_text(config, encoding="utf-8")
    settings = load_settings(path)
    with ExitStack() as stack:
        slack = stack.enter_context(FakeSlack())
        store = stack.enter_context(Store.open(tmp_path / "data"))
        store.commit("pm", store.diff([pubmed_item(1), pubmed_item(2)], "pm"))
        services = Services(settings=settings, store=store, classify=label, sources={})
        dispatcher = CommandDispatcher(services, allowed_hosts=(slack.url.split("//", 1)[1],),
                                       update=updater(slack.client()))  # fmt: skip
        stack.callback(dispatcher.close, wait=True)
        items = store.docs([UID, OTHER])
        for kind in ("items", "safety"):
            note = Notification(kind=kind, route="slack:C0ALERTS1", query="pm",  # type: ignore[arg-type]
                                summary=Summary(new=2), created="2026-11-02T06:00:00+00:00")
            for message in render(note, items if kind == "items" else items[:1]):
                slack.client().chat_postMessage(channel="C0ALERTS1", **message)
        send = (_over_socket(stack, slack, dispatcher) if transport == "socket"
                else _over_http(stack, dispatcher))  # fmt: skip
        yield Rig(slack, store, dispatcher, slack.messages[0], slack.messages[1], send)


def _over_socket(stack: ExitStack, slack: FakeSlack, dispatcher: CommandDispatcher) -> Callable[[dict[str, Any]], None]:
    socket: FakeSocketMode = stack.enter_context(fake_socket_mode())
    slack.route("apps.connections.open", socket.connections_open)
    listener = SocketModeListener(APP_TOKEN, dispatcher, api_url=slack.api_url)
    listener.start()
    stack.callback(listener.close)
    assert listener.wait_connected(10) and socket.wait_connected(10)

    def send(payload: dict[str, Any]) -> None:
        ack = socket.wait_ack(socket.interactive(payload))
        assert ack is not None and ack.payload is None  # an empty ack, before any work

    return send


def _over_http(stack: ExitStack, dispatcher: CommandDispatcher) -> Callable[[dict[str, Any]], None]:
    server = SignedCommandServer(dispatcher, SECRET, host="127.0.0.1", port=0)
    server.start()
    stack.callback(server.close)

    def send(payload: dict[str, Any]) -> None:
        assert post_action(server, payload) == (200, b"")

    send.server = server  # type: ignore[attr-defined]
    return send


def post_action(server: SignedCommandServer, payload: dict[str, Any] | str, *,
                body: bytes | None = None) -> tuple[int, bytes]:  # fmt: skip
    """POST /slack/actions as Slack does: form field `payload` (JSON), signed."""
    raw = json.dumps(payload) if isinstance(payload, dict) else payload
    body = body if body is not None else urlencode({"payload": raw}).encode()
    stamp = int(time.time())
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": sign(body, stamp)}  # fmt: skip
    try:
        with urlopen(Request(server.actions_url, data=body, headers=headers), timeout=5) as response:
            return response.status, response.read()
    except HTTPError as exc:
        return exc.code, exc.read()


def block_actions(slack: FakeSlack, message: Posted, action_id: str, uid: str = UID, *,
                  user: dict[str, str] = ALICE, label_text: str = "Include") -> dict[str, Any]:  # fmt: skip
    """The block_actions payload Slack sends when a button of `message` is clicked
    (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload)."""
    return {
        "type": "block_actions",
        "user": dict(user),
        "api_app_id": "A111",
        "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                      "is_ephemeral": False},
        "trigger_id": "1700000000.111.abcdef",
        "team": {"id": "T111", "domain": "litwatch-fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel, "name": "alerts"},
        "message": {"type": "message", "subtype": "bot_message", "bot_id": "B00000001", "text": message.text,
                    "ts": message.ts, "blocks": message.blocks},
        "state": {"values": {}},
        "response_url": slack.response_url(),
        "actions": [{"action_id": action_id, "block_id": f"screen:{uid}", "value": uid, "type": "button",
                     "text": {"type": "plain_text", "text": label_text, "emoji": True},
                     "action_ts": "1700000001.000100"}],
    }  # fmt: skip


def item_text(blocks: list[dict[str, Any]], uid: str) -> str:
    """The text of `uid`'s item: the section just above its buttons."""
    at = next(n for n, b in enumerate(blocks) if b.get("block_id") == f"screen:{uid}")
    return str(blocks[at - 1]["text"]["text"])


@pytest.mark.parametrize("transport", ["socket", "http"])
def test_an_include_click_is_recorded_then_shown_in_place(tmp_path: Path, transport: str) -> None:
    """Include is acked empty, recorded with who and where, then chat.update marks that item only."""
    with rig(tmp_path, transport) as r:
        before = [dict(b) for b in r.alert.blocks]
        r.send(block_actions(r.slack, r.alert, "screen:include"))
        assert r.wait_updates(1)
        (update,) = r.updates()
        decision = r.store.current_decisions()[UID]
        assert (decision.decision, decision.by) == ("include", Reviewer("U0ALICE01", "alice"))
        assert decision.where == f"slack:{r.alert.channel}/{r.alert.ts}"
        assert (update["channel"], update["ts"]) == (r.alert.channel, r.alert.ts)
        blocks = r.alert.blocks  # the fake applied the update
        assert item_text(blocks, UID) == item_text(before, UID) + "\n✓ Included by alice"
        assert item_text(blocks, OTHER) == item_text(before, OTHER)
        assert len(blocks) == len(before) and r.slack.rejected == []


@pytest.mark.parametrize("transport", ["socket", "http"])
def test_a_double_click_records_one_decision(tmp_path: Path, transport: str) -> None:
    """The same click twice keeps one decision in the history and one status line."""
    with rig(tmp_path, transport) as r:
        r.send(block_actions(r.slack, r.alert, "screen:maybe"))
        assert r.wait_updates(1)
        r.send(block_actions(r.slack, r.alert, "screen:maybe"))  # Slack resends the original blocks
        assert r.wait_updates(2)
        assert [d.decision for d in r.store.decision_history(UID)] == ["maybe"]
        assert item_text(r.alert.blocks, UID).count("✓ Maybe by alice") == 1


def test_changing_ones_mind_keeps_the_history_and_replaces_the_status(tmp_path: Path) -> None:
    """Include then Maybe: two decisions kept, the item shows only the latest."""
    with rig(tmp_path) as r:
        r.send(block_actions(r.slack, r.alert, "screen:include"))
        assert r.wait_updates(1)
        r.send(block_actions(r.slack, r.alert, "screen:maybe"))
        assert r.wait_updates(2)
        assert [d.decision for d in r.store.decision_history(UID)] == ["include", "maybe"]
        text = item_text(r.alert.blocks, UID)
        assert text.endswith("\n✓ Maybe by alice") and "Included" not in text


def test_exclude_offers_the_reasons_and_a_chosen_reason_is_recorded(tmp_path: Path) -> None:
    """Exclude is recorded at once; an ephemeral select offers the configured reasons; picking one records it."""
    with rig(tmp_path) as r:
        r.send(block_actions(r.slack, r.alert, "screen:exclude"))
        prompt = r.slack.wait_responses(1)[0]
        assert r.store.current_decisions()[UID].reason is None
        assert prompt.ephemeral
        select = next(b for b in prompt.payload["blocks"] if b["type"] == "actions")
        assert select["block_id"] == f"reason:{UID}"
        options = [o["value"] for o in select["elements"][0]["options"]]
        assert options[:2] == ["wrong population", "wrong intervention"] and "not human" in options
        chosen = block_actions(r.slack, r.alert, "screen:reason")
        chosen["container"] = {"type": "message", "message_ts": "1700000009.000009", "is_ephemeral": True}
        chosen["actions"] = [{"action_id": "screen:reason", "block_id": f"reason:{UID}", "type": "static_select",
                              "selected_option": {"text": {"type": "plain_text", "text": "wrong population"},
                                                  "value": "wrong population"},
                              "action_ts": "1700000010.000100"}]  # fmt: skip
        r.send(chosen)
        done = r.slack.wait_responses(2)[1]
        assert [(d.decision, d.reason) for d in r.store.decision_history(UID)] == [
            ("exclude", None), ("exclude", "wrong population")]
        assert done.payload["replace_original"] is True and "wrong population" in done.all_text()


def test_safety_confirm_and_dismiss_are_stored_as_labels(tmp_path: Path) -> None:
    """Confirm stores signal=True for the next `make model`; Not a safety signal then stores False."""
    with rig(tmp_path) as r:
        r.send(block_actions(r.slack, r.safety, "safety:confirm", label_text="Confirm"))
        assert r.wait_updates(1)
        assert r.store.safety_feedback()[UID].signal is True
        assert item_text(r.safety.blocks, UID).endswith("\n⚑ Safety signal confirmed by alice")
        r.send(block_actions(r.slack, r.safety, "safety:dismiss", label_text="Not a safety signal"))
        assert r.wait_updates(2)
        assert r.store.safety_feedback()[UID].signal is False
        assert item_text(r.safety.blocks, UID).endswith("\n⚑ Not a safety signal (no harm to people reported), says alice")
        assert r.store.decision_history() == []  # a safety label is not a screening decision


@pytest.mark.parametrize("transport", ["socket", "http"])
def test_someone_not_among_the_reviewers_records_nothing(tmp_path: Path, transport: str) -> None:
    """With [screening] reviewers set, anyone else gets an ephemeral refusal; no decision, no update."""
    with rig(tmp_path, transport, config=REVIEWERS) as r:
        r.send(block_actions(r.slack, r.alert, "screen:include", user=BOB))
        reply = r.slack.wait_responses(1)[0]
        assert reply.ephemeral and "only reviewers can screen" in reply.all_text()
        assert r.store.decision_history() == [] and r.updates() == []


def test_someone_not_among_the_reviewers_cannot_judge_a_safety_signal(tmp_path: Path) -> None:
    """The refusal for a Confirm click speaks of safety signals, not of screening; nothing is stored."""
    with rig(tmp_path, config=REVIEWERS) as r:
        r.send(block_actions(r.slack, r.safety, "safety:confirm", label_text="Confirm", user=BOB))
        reply = r.slack.wait_responses(1)[0]
        assert reply.ephemeral and "only reviewers can judge safety signals" in reply.all_text()
        assert r.store.safety_feedback() == {} and r.updates() == []


@pytest.mark.parametrize("transport", ["socket", "http"])
def test_a_button_for_a_record_no_longer_stored_changes_nothing(tmp_path: Path, transport: str) -> None:
    """A click naming a uid the store does not hold gets an ephemeral error; nothing is written."""
    with rig(tmp_path, transport) as r:
        r.send(block_actions(r.slack, r.alert, "screen:include", uid="pmid:99999999"))
        reply = r.slack.wait_responses(1)[0]
        assert reply.ephemeral and "no longer holds pmid:99999999" in reply.all_text()
        assert r.store.decision_history() == [] and r.updates() == []


@pytest.mark.parametrize("broken", ["no actions", "unknown button", "no user"])
def test_a_malformed_click_gets_an_ephemeral_error_and_changes_nothing(tmp_path: Path, broken: str) -> None:
    """A payload without actions, with a button litwatch never made, or without a user is refused in a line."""
    with rig(tmp_path) as r:
        payload = block_actions(r.slack, r.alert, "screen:include")
        if broken == "no actions":
            payload["actions"] = []
        elif broken == "unknown button":
            payload["actions"][0]["action_id"] = "screen:delete"
        else:
            del payload["user"]
        r.send(payload)
        reply = r.slack.wait_responses(1)[0]
        assert reply.ephemeral and reply.all_text().startswith("Sorry: ")
        assert "nothing was recorded" in reply.all_text()
        assert r.store.decision_history() == [] and r.updates() == []


def test_signed_http_clicks_refuse_replays_forgeries_and_non_json(tmp_path: Path) -> None:
    """POST /slack/actions: a replayed signed click is 401 and recorded once; a bad signature 401; a non-JSON payload 400."""
    with rig(tmp_path, "http") as r:
        server: SignedCommandServer = r.send.server  # type: ignore[attr-defined]
        body = urlencode({"payload": json.dumps(block_actions(r.slack, r.alert, "screen:include"))}).encode()
        stamp = int(time.time())
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": sign(body, stamp)}  # fmt: skip

        def send() -> int:
            try:
                with urlopen(Request(server.actions_url, data=body, headers=headers), timeout=5) as response:
                    return int(response.status)
            except HTTPError as exc:
                return exc.code

        assert send() == 200
        assert send() == 401  # the same signature again: a replay
        assert r.wait_updates(1)
        assert len(r.store.decision_history()) == 1
        headers["X-Slack-Signature"] = sign(body, stamp, secret="not-the-secret")
        assert send() == 401
        assert post_action(server, "{not json")[0] == 400
        assert len(r.store.decision_history()) == 1 and len(r.updates()) == 1


def test_the_status_line_keeps_a_full_section_within_slacks_limit() -> None:
    """An item text already at 3,000 characters is cut (its line breaks kept) so the status fits."""
    from bot.slack.actions import with_status

    text = "first line\n" + "x" * 2989
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
              {"type": "actions", "block_id": f"screen:{UID}", "elements": []}]  # fmt: skip
    out = with_status(blocks, UID, "✓ Included by alice", "✓ ")
    assert out is not None
    written = out[0]["text"]["text"]
    assert len(written) <= 3000 and written.startswith("first line\nx") and written.endswith("…\n✓ Included by alice")
    assert with_status(blocks, "pmid:1", "✓ Included by alice", "✓ ") is None  # no buttons for that record


@pytest.mark.parametrize("token", ["xoxb-fake-bot-token", ""])
def test_the_daemon_updates_clicked_messages_only_with_a_bot_token(tmp_path: Path, token: str) -> None:
    """`litwatch run` wires chat.update for clicks when SLACK_BOT_TOKEN is set, and none without it."""
    from bot.config import Environment
    from bot.daemon import build_daemon
    from tests.daemon_kit import ScriptedSource, context

    path = tmp_path / "litwatch.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = Environment(slack_bot_token=token, slack_api_url="http://127.0.0.1:9/api/")
    with Store.open(tmp_path / "data") as store:
        ctx = context(load_settings(path), store, {"pubmed": ScriptedSource(), "clinicaltrials": ScriptedSource()})
        daemon = build_daemon(env, ctx)
        try:
            assert (daemon.dispatcher.update is not None) == bool(token)
        finally:
            daemon.dispatcher.close()


def test_slash_screen_lists_the_queue_with_buttons_and_an_ephemeral_click_is_confirmed(tmp_path: Path) -> None:
    """Issue 11: `/litwatch screen N` lists the next N records with their buttons, ephemerally; a click
    there is recorded and confirmed through response_url, since chat.update cannot reach that message."""
    from bot.slack.commands import Caller, handle, parse

    with rig(tmp_path) as r:
        services = Services(settings=load_settings(tmp_path / "litwatch.toml"), store=r.store,
                            classify=label, sources={})  # fmt: skip
        listed = handle(parse("screen 2"), Caller("U0ALICE01", "C0ALERTS1"), services)
        assert listed["response_type"] == "ephemeral" and listed["text"].startswith("*2* records await screening")
        buttons = [b["block_id"] for b in listed["blocks"] if b["type"] == "actions"]
        assert sorted(buttons) == [f"screen:{UID}", f"screen:{OTHER}"]
        payload = block_actions(r.slack, r.alert, "screen:include")
        payload["container"] = {"type": "message", "message_ts": "1700000099.000001",
                                "channel_id": "C0ALERTS1", "is_ephemeral": True}
        del payload["message"]  # Slack sends no message body for an ephemeral one
        r.send(payload)
        assert wait_until(lambda: len(r.slack.responses) >= 1) and r.dispatcher.wait(10)
        assert r.store.current_decisions()[UID].decision == "include"
        assert r.slack.responses[-1].payload["text"] == f"Recorded: Included by alice ({UID})."
        assert r.updates() == []
        bad = handle(parse("screen 30"), Caller("U0ALICE01", "C0ALERTS1"), services)
        assert "`screen` takes how many records to list, 1 to 20" in bad["text"]


@pytest.mark.parametrize("transport", ["socket", "http"])
def test_confirm_on_a_flagged_record_in_a_digest_is_a_label_too(tmp_path: Path, transport: str) -> None:
    """A digest lists a safety-flagged record with Confirm / Not a safety signal; a click stores the label in place."""
    from bot.models import Classification

    flagged = pubmed_item(3, title="Scalp necrosis after exosome injections")
    flagged.classification = Classification("case_report", safety=True)
    with rig(tmp_path, transport) as r:
        r.store.commit("pm", r.store.diff([flagged], "pm"))
        uid = flagged.uid
        note = Notification(kind="digest", route="slack:C0ALERTS1", summary=Summary(period="weekly", top=5),
                            created="2026-11-09T09:00:00+00:00")
        for message in render(note, r.store.docs([uid, OTHER])):
            r.slack.client().chat_postMessage(channel="C0ALERTS1", **message)
        digest = r.slack.messages[-1]
        buttons = {b["block_id"]: [e["action_id"] for e in b["elements"]]
                   for b in digest.blocks if b["type"] == "actions"}
        assert buttons[f"screen:{uid}"][3:] == ["safety:confirm", "safety:dismiss"]
        assert buttons[f"screen:{OTHER}"] == ["screen:include", "screen:exclude", "screen:maybe"]
        r.send(block_actions(r.slack, digest, "safety:confirm", uid, label_text="Confirm"))
        assert r.wait_updates(1)
        assert r.store.safety_feedback()[uid].signal is True
        assert item_text(digest.blocks, uid).endswith("\n⚑ Safety signal confirmed by alice")
