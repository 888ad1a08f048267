"""A recording HTTP server on 127.0.0.1 (port 0) in a thread, base of every fake upstream."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """What a client sent: tests assert on this, not on which function was called."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def form(self) -> dict[str, list[str]]:
        """Query string and url-encoded body merged (E-utilities accept either)."""
        merged = {k: list(v) for k, v in self.query.items()}
        if self.body and "x-www-form-urlencoded" in self.headers.get("content-type", ""):
            for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items():
                merged.setdefault(k, []).extend(v)
        return merged

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.form.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts, slow upstreams)
    cut_at: int | None = None  # send only this many bytes of the body, then close (a body cut in transit)
    no_length: bool = False  # send no Content-Length: the body ends when the connection closes
    drip: float = 0.0  # seconds between body chunks of 16 bytes (an upstream that never quite stops)


Handler = Callable[[Request], Response]


def closed_port() -> int:
    """A loopback port nobody listens on (connections to it are refused) until a test binds it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeServer:
    """Serve `handler` on a free loopback port (or `port`, to bring up a server a client was
    already failing to reach); every request is kept in `requests`."""

    def __init__(self, handler: Handler, *, port: int = 0):
        self.handler = handler
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.requests.append(request)
                response = fake.handler(request)
                if response.delay:
                    time.sleep(response.delay)
                payload = response.body.encode() if isinstance(response.body, str) else response.body
                try:
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    if response.no_length:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    else:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if response.cut_at is not None:
                        self.wfile.write(payload[: response.cut_at])
                        self.wfile.flush()
                        self.close_connection = True
                    elif response.drip:
                        for start in range(0, len(payload), 16):
                            self.wfile.write(payload[start : start + 16])
                            self.wfile.flush()
                            time.sleep(response.drip)
                    else:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to tell it

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
