"""A fake Slack Socket Mode endpoint: a websocket server on 127.0.0.1 (port 0) in a thread.

The real `slack_sdk.socket_mode` client reaches it the way it reaches Slack: it calls
`apps.connections.open` on the (fake) Web API, gets this server's `ws://` URL, connects, and
receives `hello`. Tests then push envelopes built from the recorded real slash-command
envelope, and every acknowledgement the client sends back is recorded with its arrival
time. Uses the `websockets` package's threaded server, which answers the client's pings.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


@dataclass
class Ack:
    """An acknowledgement the client sent: which envelope, with what payload, how fast."""

    envelope_id: str
    payload: dict[str, Any] | None
    latency: float  # seconds from sending the envelope to receiving this ack
    at: float  # time.monotonic() when it arrived


class FakeSocketMode:
    """Hands out a ws:// URL, greets with `hello`, sends envelopes, records acks."""

    def __init__(self, hello: dict[str, Any], slash_envelope: dict[str, Any]):
        self.hello = hello
        self.slash_envelope = slash_envelope
        self.received: list[dict[str, Any]] = []  # every JSON message from the client
        self.acks: dict[str, Ack] = {}
        self.tickets: list[str] = []  # one per apps.connections.open
        self._sent_at: dict[str, float] = {}
        self._connections: list[ServerConnection] = []
        self._lock = threading.Condition()
        self._counter = itertools.count(1)
        self._server: Server = serve(self._serve, "127.0.0.1", 0, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(5)

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    def new_url(self) -> str:
        """A fresh connection URL, as apps.connections.open returns one per call."""
        ticket = str(uuid.uuid4())
        with self._lock:
            self.tickets.append(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id=A111"

    def connections_open(self, call: Any) -> dict[str, Any]:
        """Handler for the fake Web API's `apps.connections.open` route (app token required)."""
        return {"ok": True, "url": self.new_url()}

    # ------------------------------------------------------------ the socket

    def _serve(self, connection: ServerConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            self._lock.notify_all()
        try:
            connection.send(json.dumps(self.hello))
            for raw in connection:
                now = time.monotonic()
                message = json.loads(raw)
                with self._lock:
                    self.received.append(message)
                    envelope_id = str(message.get("envelope_id", ""))
                    if envelope_id in self._sent_at and envelope_id not in self.acks:
                        latency = now - self._sent_at[envelope_id]
                        self.acks[envelope_id] = Ack(envelope_id, message.get("payload"), latency, now)
                    self._lock.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)
                self._lock.notify_all()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: bool(self._connections), timeout)

    @property
    def connected(self) -> int:
        with self._lock:
            return len(self._connections)

    def send(self, message: dict[str, Any]) -> None:
        """Send a raw message to the newest connection."""
        with self._lock:
            if not self._connections:
                raise RuntimeError("no Socket Mode client is connected")
            connection = self._connections[-1]
            envelope_id = message.get("envelope_id")
            if envelope_id:
                self._sent_at[str(envelope_id)] = time.monotonic()
        connection.send(json.dumps(message))

    def slash_command(self, text: str, *, response_url: str, command: str = "/litwatch",
                      user_id: str = "U111", channel_id: str = "C111",
                      envelope_id: str | None = None) -> str:  # fmt: skip
        """Send a slash_commands envelope (the recorded one, re-addressed); return its id."""
        envelope = copy.deepcopy(self.slash_envelope)
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope["envelope_id"] = envelope_id
        payload = envelope["payload"]
        payload.update(command=command, text=text, user_id=user_id, channel_id=channel_id,
                       response_url=response_url,
                       trigger_id=f"{next(self._counter)}.222.xxx")  # fmt: skip
        if channel_id.startswith("D"):
            payload["channel_name"] = "directmessage"
        self.send(envelope)
        return envelope_id

    def interactive(self, payload: dict[str, Any], *, envelope_id: str | None = None) -> str:
        """Send an `interactive` envelope (a button click's block_actions payload); return its id."""
        envelope_id = envelope_id or str(uuid.uuid4())
        self.send({"envelope_id": envelope_id, "type": "interactive", "accepts_response_payload": False,
                   "retry_attempt": 0, "retry_reason": "", "payload": payload})
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> Ack | None:
        with self._lock:
            self._lock.wait_for(lambda: envelope_id in self.acks, timeout)
            return self.acks.get(envelope_id)
