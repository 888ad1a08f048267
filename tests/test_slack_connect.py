"""Socket Mode connects in the background: Slack down or refusing the token at start never
stops the scheduler, and the listener keeps retrying until Slack is back."""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.daemon import Daemon, Runner
from bot.retry import RetryPolicy
from bot.slack.listener import CommandDispatcher, SocketModeListener
from bot.store import Store
from tests.daemon_kit import CONFIG, ScriptedSource, context, fake_socket_mode
from tests.factories import pubmed_item
from tests.fakes.http import closed_port
from tests.fakes.slack import APP_TOKEN, FakeSlack

# The production loop with millisecond pauses: retries forever, capped backoff, jitter.
FAST = RetryPolicy(timeout=5.0, attempts=sys.maxsize, base_delay=0.02, max_delay=0.1, total=math.inf)
UNAVAILABLE = "slash commands unavailable: cannot reach Slack"


def messages(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [r.getMessage() for r in list(caplog.records) if needle in r.getMessage()]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@contextmanager
def daemon_on(tmp_path: Path, api_url: str, *, token: str = APP_TOKEN, policy: RetryPolicy = FAST,
              catch_up: bool = False) -> Iterator[tuple[Daemon, SocketModeListener, dict[str, ScriptedSource]]]:  # fmt: skip
    """A started Daemon whose Socket Mode listener talks to `api_url`; stopped on exit."""
    config = tmp_path / "litwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(config)
    sources = {"pubmed": ScriptedSource(items=[pubmed_item(1)]), "clinicaltrials": ScriptedSource()}
    store = Store.open(tmp_path / "data")
    runner = Runner(context(settings, store, sources))
    made: list[SocketModeListener] = []

    def listen(dispatcher: CommandDispatcher) -> SocketModeListener:
        made.append(SocketModeListener(token, dispatcher, api_url=api_url, policy=policy))
        return made[0]

    daemon = Daemon(runner, listen=listen, slack_api_url=api_url)
    daemon.start(catch_up=catch_up)
    try:
        yield daemon, made[0], sources
    finally:
        daemon.stop(drain=2.0)


def test_slack_unreachable_at_start_then_back_connects_and_answers_a_command(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (a refused apps.connections.open crashed `litwatch run` at start): the
    scheduler starts, each failed attempt logs one readable line, and once Slack comes up on
    that address the listener connects and answers a slash command."""
    caplog.set_level(logging.INFO, logger="bot")
    port = closed_port()
    api_url = f"http://127.0.0.1:{port}/api/"
    with daemon_on(tmp_path, api_url) as (daemon, listener, _):
        assert daemon.scheduler.next_run("pm") is not None  # scheduled while Slack is down
        assert wait_until(lambda: len(messages(caplog, UNAVAILABLE)) >= 3), caplog.text
        first = messages(caplog, UNAVAILABLE)[0]
        assert "apps.connections.open could not connect to 127.0.0.1: [Errno 111] Connection refused" in first
        assert "; retrying in " in first and "\n" not in first
        assert not listener.connected.is_set()
        with FakeSlack(port=port) as slack, fake_socket_mode() as socket:
            slack.route("apps.connections.open", socket.connections_open)
            assert listener.wait_connected(10) and socket.wait_connected(10)
            envelope = socket.slash_command("queries", response_url=slack.response_url(),
                                            channel_id="C0ALERTS1")  # the alert channel: scoped
            ack = socket.wait_ack(envelope)
            assert ack is not None
            reply = slack.wait_responses(1)[0]
            assert "pm" in reply.all_text() and "ct" in reply.all_text()
        assert messages(caplog, "slash commands available: connected to Slack over Socket Mode")


@pytest.mark.parametrize("error", ["invalid_auth", "not_allowed_token_type"])
def test_a_refused_app_token_is_not_retried_and_the_scheduler_still_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    """A wrong or revoked app token is said plainly, once, and not retried; the catch-up
    run still fetches and commits, without slash commands."""
    with FakeSlack() as slack:
        if error == "not_allowed_token_type":
            slack.route("apps.connections.open", lambda call: {"ok": False, "error": error})
            token = APP_TOKEN
        else:
            token = "xapp-revoked-token"  # the fake answers invalid_auth for unknown tokens
        with daemon_on(tmp_path, slack.api_url, token=token, catch_up=True) as (daemon, listener, sources):
            assert wait_until(lambda: listener.refused is not None)
            assert listener.refused == error
            assert wait_until(lambda: bool(daemon.runner.reports))
            report = daemon.runner.reports[0]
            assert report.query == "pm" and report.error is None and sources["pubmed"].fetches
            assert daemon.store.get("pmid:30000001") is not None
            time.sleep(0.3)  # ample time for FAST to have retried, had it meant to
            assert len(slack.calls("apps.connections.open")) == 1
            assert not listener.connected.is_set()
    refused = messages(caplog, f"Slack refused the app token ({error})")
    assert len(refused) == 1 and "scheduled runs and alerts continue" in refused[0]
    assert "SLACK_APP_TOKEN" in refused[0] and not messages(caplog, UNAVAILABLE)
    assert "Failed to retrieve WSS URL" not in caplog.text  # the SDK's multi-line report is folded in


def test_a_slack_server_error_at_start_is_retried_until_it_clears(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A 503 from apps.connections.open is transient: retried, logged with Slack's error, then connected."""
    with FakeSlack() as slack, fake_socket_mode() as socket:
        slack.route("apps.connections.open", socket.connections_open)
        slack.fail("apps.connections.open", status=503, times=2)
        with daemon_on(tmp_path, slack.api_url) as (_, listener, _sources):
            assert listener.wait_connected(10) and socket.wait_connected(10)
    assert len(slack.calls("apps.connections.open")) == 3
    lines = messages(caplog, UNAVAILABLE)
    assert len(lines) == 2 and all("apps.connections.open answered service_unavailable" in m for m in lines)


def test_close_while_waiting_to_retry_ends_the_connect_thread_at_once(caplog: pytest.LogCaptureFixture) -> None:
    """Stopping during a long backoff pause does not wait the pause out: the thread ends."""
    patient = RetryPolicy(timeout=5.0, attempts=sys.maxsize, base_delay=60.0, max_delay=180.0, total=math.inf)
    dispatcher = CommandDispatcher(services=None)  # type: ignore[arg-type]  # never sent a command
    listener = SocketModeListener(APP_TOKEN, dispatcher, api_url=f"http://127.0.0.1:{closed_port()}/api/",
                                  policy=patient)  # fmt: skip
    listener.start()
    assert wait_until(lambda: bool(messages(caplog, UNAVAILABLE))), "the first attempt never failed"
    assert "retrying in " in messages(caplog, UNAVAILABLE)[0]
    listener.close()
    connecting = [t for t in threading.enumerate() if t.name == "litwatch-socket-connect"]
    for thread in connecting:
        thread.join(5)
    assert not any(t.is_alive() for t in connecting) and not listener.connected.is_set()
    assert len(messages(caplog, UNAVAILABLE)) == 1  # no attempt after the close
    dispatcher.close()
