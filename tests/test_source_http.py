"""The shared GET (`bot.sources.http`): every `requests` failure becomes a SourceError, never a crash."""

from __future__ import annotations

from datetime import date

import pytest
import requests

from bot.config import SavedQuery
from bot.errors import SourceError
from bot.models import Window
from bot.retry import RetryPolicy
from bot.sources.feeds import FeedSource
from bot.sources.http import Fetched, Http
from tests.conftest import LOCAL_FIXTURES
from tests.fakes.feeds import FakeFeeds
from tests.fakes.http import FakeServer, Request, Response

FEED = (LOCAL_FIXTURES / "rss2_preprints.xml").read_bytes()


class LocalFileAdapter(requests.adapters.BaseAdapter):
    """A mounted file:// adapter (as requests-file adds); records every URL it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        self.asked.append(str(request.url))
        response = requests.Response()
        response.status_code, response._content, response.url = 200, b"root:x:0:0", str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


def get(url: str, session: requests.Session | None = None, attempts: int = 3) -> Fetched:
    return Http(session, RetryPolicy.fast(attempts)).get(url, query="medrxiv", what=f"feed {url}")


def test_redirect_to_a_local_file_is_refused_even_with_a_file_adapter_mounted() -> None:
    """Regression (InvalidSchema escape): a feed redirecting to file:///etc/passwd fails as a SourceError and no file is read."""
    session = requests.Session()
    files = LocalFileAdapter()
    session.mount("file://", files)
    with FakeServer(lambda r: Response(302, b"", {"Location": "file:///etc/passwd"})) as server, pytest.raises(SourceError) as caught:
        get(server.url + "/feed.xml", session)
    message = str(caught.value)
    assert message.startswith("medrxiv: feed ")
    assert "'file:///etc/passwd'" in message and "only http and https redirects are followed" in message
    assert files.asked == [] and len(server.requests) == 1 and not caught.value.retryable


def test_redirect_to_a_local_file_without_an_adapter_is_a_source_error() -> None:
    """Regression (InvalidSchema escape): with plain requests the file:// redirect is a SourceError, not an exception that ends the run."""
    with FakeServer(lambda r: Response(301, b"", {"Location": "file:///etc/passwd"})) as server, pytest.raises(SourceError, match="file:///etc/passwd"):
        get(server.url + "/feed.xml")


def test_http_redirects_are_still_followed() -> None:
    """A relative http redirect is followed to the feed as before."""

    def handler(request: Request) -> Response:
        if request.path == "/old.xml":
            return Response(301, b"", {"Location": "/new.xml"})
        return Response(200, FEED, {"Content-Type": "application/rss+xml"})

    with FakeServer(handler) as server:
        fetched = get(server.url + "/old.xml")
    assert fetched.status == 200 and fetched.response.url.endswith("/new.xml")


def test_a_redirect_loop_is_a_source_error_naming_the_query() -> None:
    """Regression (TooManyRedirects escape): a redirect loop fails the query at once, not the run."""
    session = requests.Session()
    session.max_redirects = 3
    with FakeServer(lambda r: Response(302, b"", {"Location": "/loop"})) as server, pytest.raises(SourceError, match=r"^medrxiv: feed .* too many redirects from .*/loop") as caught:
        get(server.url + "/loop", session)
    assert not caught.value.retryable
    assert len(server.requests) == 4  # the first request and three redirects, never retried


def test_a_non_http_url_is_refused_before_any_request() -> None:
    """Regression (InvalidSchema escape): a file:// URL handed to the shared GET is a SourceError."""
    with pytest.raises(SourceError, match=r"'file:///etc/passwd' is not a valid http\(s\) URL"):
        get("file:///etc/passwd")


def test_a_malformed_url_is_a_source_error() -> None:
    """Regression (InvalidURL escape): a URL requests cannot use fails the query, not retryable."""
    with pytest.raises(SourceError, match=r"^medrxiv: feed http://\.example\.org/ failed: InvalidURL: ") as caught:
        get("http://.example.org/")
    assert not caught.value.retryable
    with pytest.raises(SourceError, match=r"^medrxiv: feed http:// refused: 'http://' is not a valid http\(s\) URL") as caught:
        get("http://")  # no host: refused before requests sees it
    assert not caught.value.retryable


def test_a_broken_chunked_body_is_retried() -> None:
    """Regression (ChunkedEncodingError escape): a body cut mid-chunk is fetched again and then succeeds."""
    answers = [Response(200, b"zz\r\n", {"Transfer-Encoding": "chunked"}), Response(200, FEED)]
    with FakeServer(lambda r: answers.pop(0)) as server:
        fetched = get(server.url + "/feed.xml")
    assert fetched.body == FEED and len(server.requests) == 2


def test_a_body_that_never_decodes_exhausts_into_a_retryable_error() -> None:
    """Regression (ContentDecodingError escape): a gzip body that is not gzip is retried, then a retryable SourceError."""
    with FakeServer(lambda r: Response(200, b"not gzip at all", {"Content-Encoding": "gzip"})) as server, pytest.raises(SourceError, match=r"garbled in transit .*decompressing") as caught:
        get(server.url + "/feed.xml", attempts=2)
    assert caught.value.retryable and caught.value.query == "medrxiv"
    assert len(server.requests) == 2


def test_the_feed_source_reports_a_hostile_redirect_as_its_own_failure() -> None:
    """Regression (InvalidSchema escape): through FeedSource the file:// redirect fails that feed's fetch only."""
    with FakeFeeds() as fake:
        fake.fail_next.append(Response(302, b"", {"Location": "file:///etc/passwd"}))
        source = FeedSource(http=Http(policy=RetryPolicy.fast()))
        query = SavedQuery(name="medrxiv", source="feed", url=fake.url + "/f.xml")
        with pytest.raises(SourceError, match="only http and https") as caught:
            source.fetch(query, Window(start=None, end=date(2025, 3, 10)))
    assert caught.value.query == "medrxiv"
