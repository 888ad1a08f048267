"""The fake Slack Web API refuses what Slack would refuse and answers in Slack's shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from tests.conftest import fixture_bytes
from tests.fakes.http import Response
from tests.fakes.slack import APP_TOKEN, FakeSlack, slack_problems


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize("payload, problem", [
    ({"channel": "C1"}, "no_text"),
    ({"text": "x", "blocks": [section("a")] * 51}, "invalid_blocks: 51 blocks"),
    ({"text": "x", "blocks": [section("a" * 3001)]}, "cannot exceed 3000"),
    ({"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]}, "150"),
    ({"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]}, "plain_text"),
    ({"text": "x", "blocks": [{"type": "nonsense"}]}, "unknown type"),
    ({"text": "x", "blocks": [section("")]}, "more than 0 characters"),
    ({"text": "x", "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}]}, "10"),
    ({"text": "x" * 40_001}, "msg_too_long"),
    ({"text": "x", "link_names": True}, "link_names is forbidden"),
    ({"text": "x", "parse": "full"}, "parse=full is forbidden"),
])  # fmt: skip
def test_payloads_slack_would_refuse_are_named(payload: dict[str, Any], problem: str) -> None:
    """Each broken payload is refused with a problem naming what is wrong."""
    problems = slack_problems(payload)
    assert problems and any(problem in p for p in problems), problems


def test_refused_messages_are_not_recorded(fake_slack: FakeSlack) -> None:
    """A refused message raises SlackApiError in the client, is listed as rejected, not posted."""
    client = fake_slack.client()
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="#lit", text="x", blocks=[section("a" * 3001)])
    assert refused.value.response["error"] == "invalid_blocks"
    assert fake_slack.messages == [] and fake_slack.rejected[0][0] == "chat.postMessage"


def test_ok_answer_has_the_shape_of_slacks_documented_example(fake_slack: FakeSlack) -> None:
    """chat.postMessage answers with the keys of Slack's recorded example (ok, channel, ts, message)."""
    example = json.loads(fixture_bytes("slack", "slack_chat_postMessage_ok_openapi_example.json"))
    answer = fake_slack.client().chat_postMessage(channel="#lit", text="hello").data
    assert isinstance(answer, dict)
    assert set(example) <= set(answer)
    assert answer["channel"] == fake_slack.channel_id("lit") and answer["ts"] == answer["message"]["ts"]
    assert {"type", "subtype", "bot_id", "text", "ts"} <= set(answer["message"])


def test_tokens_are_checked(fake_slack: FakeSlack) -> None:
    """No token is not_authed, a wrong token invalid_auth."""
    from slack_sdk import WebClient

    for token, error in ((None, "not_authed"), ("xoxb-wrong", "invalid_auth")):
        with pytest.raises(SlackApiError) as refused:
            WebClient(base_url=fake_slack.api_url, token=token, retry_handlers=[]).auth_test()
        assert refused.value.response["error"] == error


def test_faults_fail_a_method_for_a_while_then_recover(fake_slack: FakeSlack) -> None:
    """A fault answers its status the given number of times, with Retry-After when asked."""
    fake_slack.fail("chat.postMessage", status=429, retry_after=3, times=2)
    client = fake_slack.client()
    for _ in range(2):
        with pytest.raises(SlackApiError) as limited:
            client.chat_postMessage(channel="#lit", text="x")
        assert limited.value.response.status_code == 429
        assert (
            limited.value.response.headers.get("Retry-After", limited.value.response.headers.get("retry-after")) == "3"
        )
    assert client.chat_postMessage(channel="#lit", text="x")["ok"]
    assert client.auth_test()["ok"]  # other methods were never affected


def test_other_methods_plug_in_with_route(fake_slack: FakeSlack) -> None:
    """apps.connections.open (Socket Mode) is left to the test that needs it, via route()."""
    from slack_sdk import WebClient

    client = WebClient(base_url=fake_slack.api_url, token=APP_TOKEN, retry_handlers=[])
    with pytest.raises(SlackApiError):
        client.apps_connections_open(app_token=APP_TOKEN)
    fake_slack.route("apps.connections.open", lambda call: {"ok": True, "url": "ws://127.0.0.1:1/link"})
    assert client.apps_connections_open(app_token=APP_TOKEN)["url"] == "ws://127.0.0.1:1/link"
    fake_slack.route("auth.test", lambda call: Response(503, b"upstream unavailable"))
    with pytest.raises(SlackApiError) as unavailable:
        client.auth_test()
    assert unavailable.value.response.status_code == 503


def test_upload_v2_needs_a_conversation_id_and_the_whole_file(fake_slack: FakeSlack) -> None:
    """completeUploadExternal refuses channel names; a completed file is recorded with its bytes."""
    client = fake_slack.client()
    with pytest.raises(SlackApiError) as refused:
        client.files_upload_v2(channel="#lit", content="TY  - JOUR\nER  - \n", filename="a.ris")
    assert refused.value.response["error"] == "channel_not_found"
    channel = client.chat_postMessage(channel="#lit", text="x")["channel"]
    client.files_upload_v2(channel=channel, content="TY  - JOUR\nER  - \n", filename="a.ris", title="A")
    assert [(f.filename, f.title, f.content, f.channel) for f in fake_slack.files] == [
        ("a.ris", "A", b"TY  - JOUR\nER  - \n", channel)]  # fmt: skip
