"""A fake feed host: serves feed documents by path, with ETag/Last-Modified and 304 answers."""

from __future__ import annotations

import email.utils
import hashlib
import threading
import time

from tests.fakes.http import FakeServer, Request, Response


class FakeFeeds(FakeServer):
    """`publish(path, body)` puts a feed up or changes it; an unchanged one answers 304."""

    def __init__(self, *, validators: bool = True):
        super().__init__(self._handle)
        self._feeds: dict[str, tuple[bytes, str, str, str]] = {}
        self._state = threading.Lock()
        self.validators = validators  # False: a server that sends neither ETag nor Last-Modified
        self.fail_next: list[Response] = []

    def publish(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(time.time(), usegmt=True)
        with self._state:
            self._feeds[path] = (body, content_type, etag, modified)

    def _handle(self, request: Request) -> Response:
        if self.fail_next:
            return self.fail_next.pop(0)
        with self._state:
            feed = self._feeds.get(request.path)
        if feed is None:
            return Response(404, "no such feed", {"Content-Type": "text/plain"})
        body, content_type, etag, modified = feed
        headers = {"Content-Type": content_type}
        if self.validators:
            headers |= {"ETag": etag, "Last-Modified": modified}
            match = request.headers.get("if-none-match")
            since = request.headers.get("if-modified-since")
            if match == etag or (match is None and since == modified):
                return Response(304, b"", headers)
        return Response(200, body, headers)
