"""`litwatch serve`: signed slash-command requests are acked at once; forged or stale ones refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

from bot.config import load_settings
from bot.slack.commands import Services
from bot.slack.listener import MAX_BODY, CommandDispatcher, ReplayGuard, SignedCommandServer
from bot.store import Store
from tests.daemon_kit import CONFIG, ScriptedSource, label
from tests.factories import pubmed_item
from tests.fakes.slack import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def sign(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    """Slack's v0 request signature, computed independently of slack_sdk."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[SignedCommandServer, FakeSlack, Store]]:
    config = tmp_path / "litwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(config)
    source = ScriptedSource(search_items=[pubmed_item(7, title="Signed search result")])
    with FakeSlack() as slack, Store.open(tmp_path / "data") as store:
        services = Services(settings=settings, store=store, classify=label,
                            sources={"pubmed": source, "clinicaltrials": ScriptedSource()})  # fmt: skip
        host = slack.url.split("//", 1)[1]
        dispatcher = CommandDispatcher(services, allowed_hosts=(host,))
        server = SignedCommandServer(dispatcher, SECRET, host="127.0.0.1", port=0)
        server.start()
        try:
            yield server, slack, store
        finally:
            server.close()
            dispatcher.close()


def post(server: SignedCommandServer, form: dict[str, str], *, timestamp: int | None = None,
         signature: str | None = None) -> tuple[int, bytes]:  # fmt: skip
    body = urlencode(form).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Slack-Request-Timestamp": str(stamp),
               "X-Slack-Signature": signature or sign(body, stamp)}  # fmt: skip
    try:
        with urlopen(Request(server.url, data=body, headers=headers), timeout=5) as response:
            return response.status, response.read()
    except HTTPError as exc:
        return exc.code, exc.read()


def command(slack: FakeSlack, text: str, channel_id: str = "C0TEAM001") -> dict[str, str]:
    return {"command": "/litwatch", "text": text, "user_id": "U111", "channel_id": channel_id,
            "team_id": "T111", "response_url": slack.response_url()}  # fmt: skip


def test_signed_search_is_acked_then_answered_via_response_url(tmp_path: Path) -> None:
    """A correctly signed command gets its ack in the HTTP response and results at response_url."""
    with serving(tmp_path) as (server, slack, _):
        status, body = post(server, command(slack, "search exosome source:pubmed"))
        assert status == 200
        assert json.loads(body)["text"].startswith("Searching PubMed for")
        reply = slack.wait_responses(1)[0]
    assert "Signed search result" in reply.all_text() and reply.ephemeral


def test_signed_subscribe_writes_the_store(tmp_path: Path) -> None:
    """A store command is acked empty and its effect and reply follow."""
    with serving(tmp_path) as (server, slack, store):
        status, body = post(server, command(slack, "subscribe daily"))
        assert (status, body) == (200, b"")
        assert "daily digest" in slack.wait_responses(1)[0].payload["text"]
        assert [s["target"] for s in store.subscriptions()] == ["slack:C0TEAM001"]


def test_forged_stale_and_unsigned_requests_are_refused(tmp_path: Path) -> None:
    """A wrong signature, a timestamp over 5 minutes old, or a garbage timestamp gets 401."""
    with serving(tmp_path) as (server, slack, store):
        form = command(slack, "subscribe")
        old = int(time.time()) - 6 * 60
        assert post(server, form, signature=sign(b"other body", int(time.time())))[0] == 401
        assert post(server, form, signature=sign(urlencode(form).encode(), int(time.time()),
                                                 secret="not-the-secret"))[0] == 401  # fmt: skip
        assert post(server, form, timestamp=old)[0] == 401
        assert post(server, form, timestamp=old, signature="v0=" + "0" * 64)[0] == 401
        body = urlencode(form).encode()
        headers = {"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": sign(body, 0)}
        try:
            urlopen(Request(server.url, data=body, headers=headers), timeout=5)
            refused = False
        except HTTPError as exc:
            refused = exc.code == 401
        assert refused
        time.sleep(0.2)
        assert store.subscriptions() == [] and slack.responses == []


def test_a_replayed_signed_request_is_refused(tmp_path: Path) -> None:
    """Regression (issue 14, finding 7: a signed request could be replayed for 5 minutes): the
    same signed request sent again within the window gets 401 and has no effect."""
    with serving(tmp_path) as (server, slack, store):
        subscribe = command(slack, "subscribe")
        stamp = int(time.time())
        assert post(server, subscribe, timestamp=stamp)[0] == 200
        slack.wait_responses(1)
        unsubscribe = command(slack, "unsubscribe")
        assert post(server, unsubscribe, timestamp=stamp)[0] == 200
        slack.wait_responses(2)
        assert store.subscriptions() == []
        assert post(server, subscribe, timestamp=stamp) == (401, b"invalid signature")
        time.sleep(0.2)
        assert store.subscriptions() == [] and len(slack.responses) == 2


def test_seen_signatures_expire_with_their_window_and_stay_bounded() -> None:
    """A remembered signature is forgotten once its timestamp is out of the window, and
    never more than `limit` signatures are kept."""
    now = [1000.0]
    guard = ReplayGuard(window=300, limit=3, clock=lambda: now[0])
    assert guard.first_use("v0=a", "1000") and not guard.first_use("v0=a", "1000")
    now[0] = 1301.0
    assert guard.first_use("v0=b", "1300") and len(guard) == 1  # "a" expired
    for name in ("c", "d", "e", "f"):
        assert guard.first_use("v0=" + name, "1300")
    assert len(guard) == 3


def test_response_url_outside_slack_is_never_called(tmp_path: Path) -> None:
    """A payload pointing response_url at some other http host gets no POST from us."""
    with serving(tmp_path) as (server, slack, store):
        form = command(slack, "subscribe")
        form["response_url"] = "http://169.254.169.254/latest/meta-data"
        status, body = post(server, form)
        assert status == 200 and b"without a usable response_url" in body
        time.sleep(0.2)
        assert store.subscriptions() == []


def raw_post(server: SignedCommandServer, headers: bytes, body: bytes = b"") -> bytes:
    """Send a hand-written request on a raw socket; return the status line the server sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(b"POST /slack/commands HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body)
        reply = conn.recv(200)  # the connection stays open: the server must answer without EOF
    return reply.split(b"\r\n", 1)[0]


@pytest.mark.parametrize("length", [b"-1", b"abc", b"+5", b"1_0", b"9" * 5000],
                         ids=["negative", "word", "signed", "underscore", "5000 digits"])
def test_bad_content_length_is_refused_before_reading_the_body(tmp_path: Path, length: bytes) -> None:
    """Regression (Content-Length -1 read the body until close, before the signature check;
    a non-numeric length raised a traceback): a length that is no byte count gets 400."""
    with serving(tmp_path) as (server, _, store):
        status = raw_post(server, b"Content-Length: " + length + b"\r\n", b"a" * 4096)
        assert status == b"HTTP/1.1 400 Bad Request"
        assert store.subscriptions() == []


def test_oversized_content_length_gets_413_without_reading_it(tmp_path: Path) -> None:
    """A declared body over MAX_BODY is refused with 413 before a byte of it is read."""
    with serving(tmp_path) as (server, _, _):
        status = raw_post(server, f"Content-Length: {MAX_BODY + 1}\r\n".encode(), b"a" * 4096)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"


def test_response_url_must_be_slacks_hooks_host_or_the_configured_one(tmp_path: Path) -> None:
    """Regression (any https host was accepted as response_url): only hooks.slack.com,
    GovSlack's hooks.slack-gov.com and the configured SLACK_API_URL host get work."""
    with serving(tmp_path) as (server, slack, _):

        def accepted(url: str) -> bool:
            form = command(slack, "subscribe")
            form["response_url"] = url
            return server.dispatcher.acknowledge(form)[1] is not None

        assert accepted("https://hooks.slack.com/commands/T1/2/abc")
        assert accepted("https://hooks.slack-gov.com/commands/T1/2/abc")
        assert accepted(slack.response_url())  # the fake's host, as SLACK_API_URL configures
        for url in ("https://attacker.example/x", "https://hooks.slack.com.evil.test/x",
                    "https://hooks.slack.com:8443/x", "http://hooks.slack.com/x",
                    "https://evil.test/hooks.slack.com/x", ""):  # fmt: skip
            assert not accepted(url), url


def test_a_dropped_connection_is_one_log_line_not_a_traceback(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                              capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Regression (issue 14, finding 11: a traceback was logged per dropped HTTP connection):
    a client that resets the connection mid-body is logged in one line, and the server serves on."""
    with serving(tmp_path) as (server, slack, _):
        conn = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        conn.sendall(b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\npartial")
        time.sleep(0.2)  # the server is now reading the body
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # an RST, as when a client or proxy drops the connection
        deadline = time.monotonic() + 5
        while not any("dropped" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert post(server, command(slack, "help"))[0] == 200
    [line] = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert line.startswith("http: connection from 127.0.0.1 dropped: ConnectionResetError") and "\n" not in line
    assert "Traceback" not in capfd.readouterr().err
