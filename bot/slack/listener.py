"""Slash commands in, replies out: acknowledge first, work after, answer via `response_url`.

Transport: `slack_sdk.socket_mode` (its built-in websocket client), not slack-bolt.
litwatch has exactly one entry point (one slash command); what it needs is an ack within
3 s and a worker thread, which is a dozen lines on top of `SocketModeClient`. The built-in
client needs no dependency beyond `slack_sdk`, which litwatch already uses for delivery;
bolt would add a framework (listener middleware, lazy listeners, its own `App` with an
`app.py` of ~1,500 lines) for features we would not use, and would hide the ack ordering
this module exists to guarantee. The optional HTTP mode (`litwatch serve`) is a stdlib
server on the same `CommandDispatcher`, with `slack_sdk.signature.SignatureVerifier`.

The ack never touches the store, the network or a lock that a scheduled run may hold:
parsing is pure, so a command is acknowledged in milliseconds even while a long run is
writing. The work then runs on a small thread pool and its reply is POSTed to the
command's `response_url` (ephemeral unless the user asked to `share`).
"""

from __future__ import annotations

import errno
import http.client
import json
import logging
import math
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from bot.errors import LitwatchError
from bot.inflight import InFlight
from bot.retry import RetryPolicy, TransientError, call_with_retries
from bot.slack.actions import Update, parse_click, screen
from bot.slack.commands import Caller, Services, ack_payload, handle, parse, refusal, reply
from bot.sources.http import could_not_connect

log = logging.getLogger(__name__)

Post = Callable[[str, dict[str, Any]], None]
MAX_BODY = 64 * 1024  # a slash-command form is a few hundred bytes
# Where Slack's response_urls point: commercial Slack and GovSlack.
SLACK_HOOK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
COMMAND = "command"  # the work name each command's reply is counted under


def body_length(header: str | None) -> int | None:
    """The request's Content-Length as a byte count; None when it is not one (negative,
    non-numeric), which must never reach `rfile.read` (-1 reads until the peer closes)."""
    text = (header or "0").strip()
    if not (text.isascii() and text.isdigit()):  # no sign, no "1_0", no other scripts' digits
        return None
    try:
        return int(text)
    except ValueError:  # more digits than int() converts (4300): far over MAX_BODY anyway
        return None


def post_to_response_url(url: str, payload: dict[str, Any]) -> None:
    """POST a reply to a command's response_url (retries connection errors once)."""
    response = WebhookClient(url, timeout=15).send_dict(payload)
    if response.status_code != 200:
        log.warning("response_url answered %s: %r", response.status_code, response.body[:200])


class CommandDispatcher:
    """Turns a slash-command payload into an immediate ack plus work on a worker thread."""

    def __init__(
        self,
        services: Services,
        *,
        post: Post = post_to_response_url,
        allowed_hosts: tuple[str, ...] = (),
        workers: int = 4,
        update: Update | None = None,
    ):
        self.services = services
        self.post = post
        self.update = update  # chat.update for a clicked message (None: clicks are recorded, not shown)
        # response_url must be https on Slack's hooks host (commercial or GovSlack), or the
        # host the operator configured (SLACK_API_URL's, for proxies and tests): a forged
        # payload cannot make us POST anywhere else.
        self.allowed_hosts = allowed_hosts
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="litwatch-command")
        self._closed = threading.Event()
        self.work = InFlight()  # each command from submission until its future is done

    def acknowledge(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Callable[[], None] | None]:
        """Pure and fast: the ack payload, and the work to start once the ack is sent."""
        if self._closed.is_set():
            return reply("litwatch is restarting; please try again in a minute."), None
        command = parse(str(payload.get("text", "")))
        ack = ack_payload(command)
        if command.verb == "help":
            return ack, None  # answered in full by the ack
        caller = Caller(user_id=str(payload.get("user_id", "")), channel_id=str(payload.get("channel_id", "")),
                        channel_name=str(payload.get("channel_name", "")))
        refused = refusal(command, caller, self.services.settings)
        if refused is not None:  # pure, like the ack: the refusal is the ack, nothing runs
            return refused, None
        url = str(payload.get("response_url", ""))
        if not self._url_allowed(url):
            log.warning("ignoring a command whose response_url is not Slack's: %r", url[:100])
            return reply("This command came without a usable response_url."), None

        def work() -> None:
            try:
                answer = handle(command, caller, self.services)
            except LitwatchError as exc:  # the store cannot be written (disk full…): say so, in a line
                log.error("command %r failed: %s", command.verb, exc)
                answer = reply(f"Sorry, that failed: {exc}")
            except Exception as exc:  # a bug must still answer the person who asked
                log.exception("command %r failed", command.verb)
                answer = reply(f"Sorry, that failed inside litwatch ({type(exc).__name__}).")
            self.post(url, answer)

        return ack, work

    def acknowledge_action(self, payload: Mapping[str, Any]) -> Callable[[], None] | None:
        """A button click (`block_actions`): the ack is always empty; the work to run after it
        (None: nothing can be done, not even a reply, as without a Slack response_url)."""
        url = str(payload.get("response_url", ""))
        if self._closed.is_set() or not self._url_allowed(url):
            if not self._closed.is_set():
                log.warning("ignoring a click whose response_url is not Slack's: %r", url[:100])
            return None
        click = parse_click(payload)
        settings = self.services.settings.screening

        def work() -> None:
            if isinstance(click, str):
                log.warning("refused a click: %s", click)
                self.post(url, {"response_type": "ephemeral", "replace_original": False,
                                "text": f"Sorry: {click}; nothing was recorded."})
                return
            try:
                screen(click, store=self.services.store, reviewers=settings.reviewers,
                       reasons=settings.exclusion_reasons, update=self.update or _no_update, post=self.post)
            except Exception as exc:  # a bug, or Slack refusing the update: the clicker still hears
                log.exception("click on %s failed", click.uid)
                self.post(url, {"response_type": "ephemeral", "replace_original": False,
                                "text": f"Sorry, that failed inside litwatch ({type(exc).__name__})."})

        return work

    def start(self, work: Callable[[], None]) -> None:
        """Run `work` on a worker thread (after the ack went out)."""
        with ExitStack() as stack:
            stack.enter_context(self.work.track(COMMAND))
            future = self._pool.submit(work)  # raises once closed: the count is released
            # Counted while queued too; the count ends when the future is done or cancelled.
            counted = stack.pop_all()
        future.add_done_callback(lambda done: self._forget(done, counted))

    def _forget(self, future: Future[None], counted: ExitStack) -> None:
        counted.close()
        if not future.cancelled() and future.exception() is not None:
            log.error("command reply failed: %r", future.exception())

    def _url_allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname in SLACK_HOOK_HOSTS and parts.port is None:
            return True
        return bool(parts.netloc) and parts.netloc in self.allowed_hosts

    def close(self, wait: bool = False) -> None:
        """Take no new commands (queued ones are cancelled); with `wait`, let replies in
        progress finish."""
        self._closed.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the commands in progress; True if none is left."""
        return self.work.wait(timeout)


def _no_update(channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
    log.info("click on %s/%s recorded; no bot token to update the message", channel, ts)


def updater(client: WebClient) -> Update:
    """chat.update through `client` (its timeout and retries)."""

    def update(channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        client.chat_update(channel=channel, ts=ts, text=text or "litwatch", blocks=blocks)

    return update


# ---------------------------------------------------------------- Socket Mode


# Slack's answers to apps.connections.open that no retry can fix: the app token is wrong,
# revoked, of the wrong type (a bot token where an xapp- token belongs) or lacks its scope.
REFUSED_TOKEN = frozenset({
    "invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "token_expired",
    "account_inactive", "missing_scope", "no_permission", "invalid_token", "team_access_not_granted",
})  # fmt: skip
# Reconnecting at start: 2 s, 4 s, 8 s ... then about every 3 minutes for as long as it takes
# (a platform restarts a crashed worker anyway; this keeps the scheduler running meanwhile).
CONNECT_RETRY = RetryPolicy(timeout=15.0, attempts=sys.maxsize, base_delay=2.0, max_delay=180.0,
                            total=math.inf, jitter=0.2)  # fmt: skip


class TokenRefused(Exception):
    """Slack refused the app token: retrying cannot help."""


class _Closed(Exception):
    """The listener was closed while waiting to reconnect."""


class SocketModeListener:
    """Receives slash commands over Socket Mode (`SLACK_APP_TOKEN`, no public URL needed).

    `start()` returns at once: the connection is made on a background thread, retried with
    `CONNECT_RETRY` (one log line per failed attempt) while Slack cannot be reached, so the
    scheduler runs even when Slack is down at start. A token Slack refuses is not retried:
    the daemon runs on without slash commands and says why. Once connected, the SDK's own
    monitor reconnects after a dropped connection.
    """

    description = "slash commands over Socket Mode (connecting in the background)"

    def __init__(self, app_token: str, dispatcher: CommandDispatcher, *, api_url: str,
                 policy: RetryPolicy = CONNECT_RETRY):  # fmt: skip
        self.dispatcher = dispatcher
        self.api_url = api_url
        self.policy = policy
        self.connected = threading.Event()
        self.refused: str | None = None  # Slack's error code when it refused the token
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.client = SocketModeClient(
            app_token=app_token,
            # No SDK retries: this listener's loop is the one place that decides when to retry.
            web_client=WebClient(base_url=api_url, timeout=max(1, round(policy.timeout)), retry_handlers=[],
                                 logger=_sdk_logger()),
            auto_reconnect_enabled=True,
            logger=_sdk_logger(),
        )
        self.client.socket_mode_request_listeners.append(self._on_request)

    def start(self) -> None:
        """Begin connecting (apps.connections.open, then the websocket) in the background."""
        self._thread = threading.Thread(target=self._connect, name="litwatch-socket-connect", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def _connect(self) -> None:
        try:
            call_with_retries(self._attempt, self.policy, sleep=self._pause, on_retry=self._report_retry)
        except _Closed:
            return
        except TokenRefused as exc:
            log.error("slash commands off: %s; scheduled runs and alerts continue. Check "
                      "SLACK_APP_TOKEN (an app-level xapp- token with connections:write) and restart.",
                      exc)  # fmt: skip
            return
        except Exception:  # a bug here must not take the scheduler with it
            log.exception("slash commands off: connecting to Slack failed unexpectedly")
            return
        if self._closed.is_set():  # close() came while the last attempt was connecting
            self.client.close()
            return
        self.connected.set()
        log.info("slash commands available: connected to Slack over Socket Mode")

    def _attempt(self) -> None:
        if self._closed.is_set():
            raise _Closed()
        # A fresh wss:// URL every time: the one from a failed attempt may have expired.
        try:
            self.client.wss_uri = self.client.issue_new_wss_url()
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
            if error in REFUSED_TOKEN:
                self.refused = error
                raise TokenRefused(f"Slack refused the app token ({error})") from exc
            raise TransientError(f"apps.connections.open answered {error}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise TransientError(could_not_connect("apps.connections.open", self.api_url, exc)) from exc
        try:
            self.client.connect()
        except OSError as exc:
            raise TransientError(could_not_connect("the websocket", self.client.wss_uri, exc)) from exc
        except Exception as exc:  # the handshake refused, or the SDK's own errors
            raise TransientError(f"the websocket: {type(exc).__name__}: {exc}") from exc

    def _pause(self, seconds: float) -> None:
        if self._closed.wait(seconds):
            raise _Closed()

    def _report_retry(self, attempt: int, exc: TransientError, delay: float) -> None:
        log.warning("slash commands unavailable: cannot reach Slack (%s); retrying in %.0f s", exc, delay)

    def _on_request(self, client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        if request.type == "interactive":  # a button click: empty ack at once, work after
            client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
            clicked = self.dispatcher.acknowledge_action(request.payload)
            if clicked is not None:
                self.dispatcher.start(clicked)
            return
        if request.type != "slash_commands":
            # Nothing else is subscribed; ack so Slack does not redeliver it.
            client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
            return
        ack, work = self.dispatcher.acknowledge(request.payload)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=ack))
        if work is not None:
            self.dispatcher.start(work)

    def close(self, wait: float = 0.5) -> None:
        """Stop reconnecting and close the websocket at once; the client's own threads wind
        down in the background.

        `SocketModeClient.close()` disconnects first, then joins three polling threads that
        each take up to a second to notice; they are daemon threads, so the shutdown budget
        is not spent waiting for them. Neither is an attempt still connecting: its thread is
        a daemon too, and closes the client itself if it connects after this.
        """
        self._closed.set()
        closer = threading.Thread(target=self.client.close, name="litwatch-socket-close", daemon=True)
        closer.start()
        closer.join(wait)


# What the SDK logs on its own when a connect attempt fails; this listener logs one line instead.
_SDK_CONNECT_NOISE = ("Failed to retrieve WSS URL", "Failed to send a request to Slack API server")


def _sdk_logger() -> logging.Logger:
    """The logger the listener's SDK clients use: theirs, minus their reports of a failed
    connect attempt, each of which this listener already logs in one readable line."""
    sdk = logging.getLogger(f"{__name__}.sdk")
    if not sdk.filters:
        sdk.addFilter(lambda record: not str(record.msg).startswith(_SDK_CONNECT_NOISE))
    return sdk


# ---------------------------------------------------------------- HTTP mode

# How far a request's timestamp may be from now: slack_sdk's SignatureVerifier accepts
# |now - timestamp| <= 5 minutes, so a signature stays usable until its timestamp + 5 min.
SIGNATURE_WINDOW = 5 * 60
# Only requests whose signature verified are remembered, and only Slack can sign: this cap is
# far above what one workspace sends in 5 minutes, and keeps memory bounded even so.
MAX_SEEN_SIGNATURES = 20_000


class ReplayGuard:
    """Remembers the signatures of accepted requests while they could still verify.

    `first_use` is True the first time a signature is presented and False for every later
    presentation within its window. Entries expire at their timestamp + the window (then the
    verifier refuses the request as stale anyway); past `limit` entries the oldest is
    forgotten first, so memory stays bounded whatever arrives.
    """

    def __init__(self, *, window: float = SIGNATURE_WINDOW, limit: int = MAX_SEEN_SIGNATURES,
                 clock: Callable[[], float] = time.time):  # fmt: skip
        self.window = window
        self.limit = limit
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # signature -> when it expires
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def first_use(self, signature: str, timestamp: str) -> bool:
        expires = float(timestamp) + self.window
        with self._lock:
            now = self.clock()
            self._expire(now)
            if signature in self._seen:
                return False
            self._seen[signature] = max(expires, now)
            while len(self._seen) > self.limit:
                self._seen.popitem(last=False)
            return True

    def _expire(self, now: float) -> None:
        # Insertion order is nearly expiry order (timestamps are close to arrival), so a scan
        # from the front stops at the first live entry; a stray late expiry is dropped later.
        while self._seen:
            signature, expires = next(iter(self._seen.items()))
            if expires >= now:
                return
            del self._seen[signature]


class _QuietHTTPServer(ThreadingHTTPServer):
    """A client that hangs up mid-request (a dropped connection, a scanner) is one log line,
    not the stdlib's traceback on stderr; anything else is still logged with its traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            log.warning("http: connection from %s dropped: %s: %s", client_address[0], type(exc).__name__, exc)
        else:
            log.exception("http: request from %s failed inside litwatch", client_address[0])


def cannot_listen(host: str, port: int, exc: BaseException) -> str:
    """Why `serve` could not take its port, and which port to take instead."""
    code = getattr(exc, "errno", None)
    if code == errno.EADDRINUSE:
        return (f"port {port} is already in use (another litwatch serve, or another server): "
                "stop that one, or choose a free port with --port N")
    if code in (errno.EACCES, errno.EPERM) and port < 1024:
        return (f"port {port} is privileged (below 1024) and this user may not listen on it: use "
                "a port from 1024 up (--port 3000 is the default) behind a reverse proxy")
    if isinstance(exc, OverflowError):
        return f"port {port} is out of range: choose a port from 1 to 65535 with --port N"
    return f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}"


class SignedCommandServer:
    """`litwatch serve`: slash commands as signed HTTP POSTs, for platforms with a web process.

    Every request must carry a valid `X-Slack-Signature` for its body and an
    `X-Slack-Request-Timestamp` at most 5 minutes off, and a signature is accepted once:
    the same request sent again within those 5 minutes (a replay) gets 401 too.
    """

    def __init__(
        self,
        dispatcher: CommandDispatcher,
        signing_secret: str,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        path: str = "/slack/commands",
        actions_path: str = "/slack/actions",
    ):
        self.dispatcher = dispatcher
        self.verifier = SignatureVerifier(signing_secret)
        self.replays = ReplayGuard()
        self.path = path
        self.actions_path = actions_path
        try:
            self.httpd = _QuietHTTPServer((host, port), self._handler_class())
        except (OSError, OverflowError) as exc:
            raise LitwatchError(cannot_listen(host, port, exc)) from None
        self.description = f"listening for signed /litwatch requests on port {self.port}{path}"
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.actions_path}"

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="litwatch-http")
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
        self.httpd.server_close()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """A valid signature for this body and timestamp, never presented before."""
        try:
            if not self.verifier.is_valid_request(body, dict(headers)):
                return False
        except ValueError:  # a timestamp that is not a number
            return False
        lowered = {k.lower(): v for k, v in headers.items()}
        return self.replays.first_use(lowered["x-slack-signature"], lowered["x-slack-request-timestamp"])

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10  # a client that stalls mid-request frees its thread (slowloris)

            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._send(200, b"ok", "text/plain")
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                if path not in (server.path, server.actions_path):
                    self._send(404, b"not found", "text/plain")
                    return
                length = body_length(self.headers.get("Content-Length"))
                if length is None or length > MAX_BODY:
                    # The unread body would be parsed as the next request: hang up after this.
                    self.close_connection = True
                    if length is None:
                        self._send(400, b"bad Content-Length", "text/plain")
                    else:
                        self._send(413, b"too large", "text/plain")
                    return
                body = self.rfile.read(length)
                if not server.verify(body, {k: v for k, v in self.headers.items()}):
                    self._send(401, b"invalid signature", "text/plain")
                    return
                form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                payload = {k: v[0] for k, v in form.items()}
                if path == server.actions_path:
                    self._click(payload)
                    return
                ack, work = server.dispatcher.acknowledge(payload)
                if ack is None:
                    self._send(200, b"", "text/plain")
                else:
                    self._send(200, json.dumps(ack).encode(), "application/json")
                if work is not None:
                    server.dispatcher.start(work)

            def _click(self, form: Mapping[str, str]) -> None:
                try:
                    payload = json.loads(form.get("payload", ""))
                except ValueError:
                    payload = None
                if not isinstance(payload, dict):  # signed, so Slack's, but not a payload
                    self._send(400, b"the form field payload is not a JSON object", "text/plain")
                    return
                self._send(200, b"", "text/plain")  # the ack: before any work
                work = server.dispatcher.acknowledge_action(payload)
                if work is not None:
                    server.dispatcher.start(work)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def log_message(self, format: str, *args: object) -> None:
                log.debug("http: " + format, *args)

        return Handler
