"""What the HTTP stack refuses to keep (issue 14 findings 2, 3 and 8): cut bodies, endless or huge
answers, and redirects or feed URLs into internal addresses."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
import requests

from bot.config import Environment, Settings, parse_settings
from bot.errors import ConfigError, SourceError
from bot.models import Classification, Item, Window
from bot.pipeline import RunReport, run_query
from bot.retry import RetryPolicy
from bot.sources import build_sources
from bot.sources.feeds import FeedSource
from bot.sources.http import Http
from bot.store import Store
from tests.factories import context
from tests.fakes.feeds import FakeFeeds
from tests.fakes.http import FakeServer, Request, Response

WINDOW = Window(start=None, end=date(2026, 3, 1), baseline=True)


def rss(count: int) -> bytes:
    items = "".join(
        f"<item><title>Entry {n}</title><guid>https://journal.example/a/{n}</guid>"
        f"<link>https://journal.example/a/{n}</link></item>"
        for n in range(count)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>J</title>{items}</channel></rss>'.encode()


def feed_settings(tmp_path: Path, url: str) -> Settings:
    raw = {"slack": {"channel": "C1"}, "queries": [{"name": "journal", "source": "feed", "url": url}]}
    return parse_settings(raw, tmp_path / "litwatch.toml")


def unlabelled(item: Item) -> Classification:
    return Classification()


def run(settings: Settings, store: Store, day: str, monkeypatch: pytest.MonkeyPatch) -> RunReport:
    monkeypatch.setenv("LITWATCH_NOW", f"{day}T06:00:00+00:00")
    feeds = {"feed": FeedSource(http=Http(policy=RetryPolicy.fast(2)))}
    return run_query(settings.queries[0], context(settings, store, feeds, classify=unlabelled))


# ---------------------------------------------------------------- finding 2: cut bodies


@pytest.mark.parametrize("cut", [
    pytest.param(Response(200, rss(40), {"Content-Type": "application/rss+xml", "ETag": '"v2"'}, cut_at=1500),
                 id="content-length-not-met"),
    pytest.param(Response(200, rss(40)[:1500], {"Content-Type": "application/rss+xml", "ETag": '"v2"'}, no_length=True),
                 id="closed-mid-document-without-length"),
])  # fmt: skip
def test_a_feed_cut_mid_body_stores_nothing_keeps_the_validators_and_fails_naming_the_feed(
        cut: Response, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Regression (issue 14 finding 2: a truncated feed was parsed, "kept 20 entries", its ETag saved, and
    10 of 40 entries were never stored): nothing of a cut body is kept and the next run fetches it whole."""
    with FakeFeeds() as host:
        url = host.url + "/rss.xml"
        settings = feed_settings(tmp_path, url)
        store = Store.memory()
        host.publish("/rss.xml", rss(10))
        assert run(settings, store, "2026-03-01", monkeypatch).new == 10
        before = store.query_state("journal").validators
        host.publish("/rss.xml", rss(40))
        host.fail_next.extend([cut, cut])
        failed = run(settings, store, "2026-03-02", monkeypatch)
        assert failed.failed and failed.query == "journal" and url in (failed.error or "")
        assert len(store.items()) == 10 and store.query_state("journal").validators == before
        after = run(settings, store, "2026-03-03", monkeypatch)
    assert after.new == 30 and len(store.items()) == 40
    assert host.requests[-1].headers.get("if-none-match") == before["etag"]  # the old validator, not "v2"


def test_a_whole_feed_with_a_repairable_defect_is_still_kept() -> None:
    """A complete body with a raw "&" (not well-formed, but whole) keeps its entries with a warning."""
    body = rss(3).replace(b"<title>J</title>", b"<title>J & K</title>")
    with FakeServer(lambda r: Response(200, body, {"Content-Type": "application/rss+xml"})) as server:
        result = FeedSource(http=Http(policy=RetryPolicy.fast())).fetch(
            feed_settings(Path("."), server.url + "/f.xml").queries[0], WINDOW)
    assert len(result.items) == 3 and "is malformed" in result.warnings[0]


# ---------------------------------------------------------------- finding 8: deadline and size cap


def test_a_dripping_feed_is_stopped_at_the_deadline() -> None:
    """Regression (issue 14 finding 8: a feed dripped over 330 s held `once` 332 s): past the total
    deadline the fetch stops, says so, and is not retried."""
    drip = Response(200, rss(200), {"Content-Type": "application/rss+xml"}, drip=0.02)
    with FakeServer(lambda r: drip) as server, pytest.raises(SourceError) as caught:
        Http(policy=RetryPolicy.fast(), deadline=0.3).get(server.url + "/f.xml", query="journal", what="feed f.xml")
    assert str(caught.value) == ("journal: feed f.xml took longer than the 0.3 s deadline for one fetch "
                                 "(LITWATCH_FETCH_DEADLINE); nothing was kept")  # fmt: skip
    assert len(server.requests) == 1


@pytest.mark.parametrize("no_length", [False, True], ids=["declared", "undeclared"])
def test_a_body_over_the_size_cap_is_refused(no_length: bool) -> None:
    """Regression (issue 14 finding 8: a 64 MB feed took 422 MB of memory): a body past the cap fails
    the fetch, whether its Content-Length says so up front or it only grows too large."""
    big = Response(200, rss(100), {"Content-Type": "application/rss+xml"}, no_length=no_length)
    with FakeServer(lambda r: big) as server, pytest.raises(SourceError, match="limit \\(LITWATCH_MAX_FETCH_MB\\)"):
        Http(policy=RetryPolicy.fast(), max_bytes=2000).get(server.url + "/f.xml", query="journal", what="feed")
    assert len(server.requests) == 1


def test_the_limits_come_from_the_environment() -> None:
    """LITWATCH_FETCH_DEADLINE and LITWATCH_MAX_FETCH_MB set every source's limits; a bad value is a one-line error."""
    env = Environment.from_env({"LITWATCH_FETCH_DEADLINE": "15", "LITWATCH_MAX_FETCH_MB": "0.5"})
    feed = build_sources(env)["feed"]
    assert isinstance(feed, FeedSource) and (feed.http.deadline, feed.http.max_bytes) == (15.0, 512 * 1024)
    assert (Environment().fetch_deadline, Environment().max_fetch_bytes) == (60.0, 20 * 1024 * 1024)
    with pytest.raises(ConfigError, match="LITWATCH_MAX_FETCH_MB: 'lots' is not a positive number of megabytes"):
        Environment.from_env({"LITWATCH_MAX_FETCH_MB": "lots"})


# ---------------------------------------------------------------- finding 3: internal addresses


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/feed.xml"])
def test_check_refuses_a_feed_on_a_link_local_address(url: str) -> None:
    """Regression (issue 14 finding 3: `check` accepted a feed at 169.254.169.254): a link-local feed URL is a config error."""
    with pytest.raises(ConfigError) as caught:
        feed_settings(Path("."), url)
    assert caught.value.problems == [
        f"litwatch.toml: queries[0].url: {url!r} is a link-local address (such as a cloud metadata service), never a feed"
    ]


def test_a_public_feed_redirecting_into_a_loopback_address_is_refused() -> None:
    """Regression (issue 14 finding 3: redirects went anywhere http(s)): a feed on a public address that
    redirects to 127.0.0.1 is refused before the redirect is followed. (The "public" host is reached
    through a local proxy, so no packet leaves the machine.)"""
    inside: list[Request] = []

    def internal(request: Request) -> Response:
        inside.append(request)
        return Response(200, "internal admin page")

    with FakeServer(internal) as target:
        def proxy(request: Request) -> Response:
            return Response(302, b"", {"Location": target.url + "/admin"})

        with FakeServer(proxy) as relay:
            session = requests.Session()
            session.trust_env = False
            session.proxies = {"http": relay.url}
            with pytest.raises(SourceError) as caught:
                Http(session, RetryPolicy.fast()).get("http://93.184.216.34/feed.xml", query="journal", what="feed")
    assert "a redirect into a loopback, private or link-local address is refused for a public URL" in str(caught.value)
    assert not caught.value.retryable and inside == [] and len(relay.requests) == 1


def test_a_feed_on_the_intranet_may_redirect_within_it() -> None:
    """A configured URL on a private or loopback address may redirect to another such address."""
    with FakeServer(lambda r: Response(200, rss(1))) as target, \
            FakeServer(lambda r: Response(302, b"", {"Location": target.url + "/rss.xml"})) as origin:  # fmt: skip
        fetched = Http(policy=RetryPolicy.fast()).get(origin.url + "/old.xml", what="feed")
    assert fetched.status == 200 and fetched.response.url == target.url + "/rss.xml"


def test_a_link_local_url_is_never_fetched_even_past_the_config_check() -> None:
    """Issue 14 finding 3: a source URL on a link-local address that `check` never saw is refused
    before any connection, naming the host."""
    query = feed_settings(Path("."), "https://journal.example/rss.xml").queries[0]
    metadata = dataclasses.replace(query, url="http://169.254.169.254/latest/meta-data/")
    with pytest.raises(SourceError) as caught:
        FeedSource(http=Http(policy=RetryPolicy(timeout=0.2, attempts=1))).fetch(metadata, WINDOW)
    assert str(caught.value) == ("journal: feed http://169.254.169.254/latest/meta-data/ refused: 169.254.169.254 "
                                 "is a link-local address (such as a cloud metadata service), never a source")  # fmt: skip
    assert not caught.value.retryable
