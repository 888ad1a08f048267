"""Feed source: conditional GET, feedparser on the bytes, identity, DOIs, bad and empty feeds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import feedparser
import pytest

from bot.config import SavedQuery
from bot.errors import SourceError
from bot.models import Item, Window
from bot.retry import RetryPolicy
from bot.sources.feeds import FeedSource, entry_doi, parse_entries, read_entries, strip_html
from bot.sources.http import Http
from tests.conftest import LOCAL_FIXTURES, fixture_bytes
from tests.fakes.feeds import FakeFeeds
from tests.fakes.http import Response, closed_port

TODAY = date(2025, 3, 10)


def local(name: str) -> bytes:
    return (LOCAL_FIXTURES / name).read_bytes()


def entries(name: str, feed_url: str) -> list[Item]:
    return parse_entries(feedparser.parse(local(name)), feed_url=feed_url)


def source() -> FeedSource:
    return FeedSource(http=Http(policy=RetryPolicy.fast()))


def query(url: str, name: str = "medrxiv-dermatology") -> SavedQuery:
    return SavedQuery(name=name, source="feed", url=url)


def window(validators: dict[str, str] | None = None) -> Window:
    return Window(start=None, end=TODAY, validators=validators or {})


def test_biorxiv_rdf_entry() -> None:
    """The recorded bioRxiv RSS 1.0 item yields id, trimmed title and link, DOI, date, text."""
    with FakeFeeds() as fake:
        body = fixture_bytes("feeds", "rss_biorxiv_subject_collection_rdf.xml")
        fake.publish("/biorxiv.xml", body, "application/rdf+xml")
        result = source().fetch(query(fake.url + "/biorxiv.xml"), window())
    [item] = result.items
    assert item.source == "feed"
    assert item.id == "http://biorxiv.org/cgi/content/short/857789v1?rss=1"
    assert item.uid == "feed:http://biorxiv.org/cgi/content/short/857789v1?rss=1"
    assert item.title.startswith("Microscale Collagen and Fibroblast Interactions")
    assert item.url == "http://biorxiv.org/cgi/content/short/857789v1?rss=1"
    assert item.doi == "10.1101/857789"
    assert item.published == "2019-11-29"
    assert item.feed_title == "bioRxiv Subject Collection: Bioengineering"
    assert item.abstract.startswith("Human liver models that are 3-dimensional (3D)")
    assert "\n" not in item.abstract and "\t" not in item.abstract
    assert result.warnings == [] and result.requests == 1


def test_own_rdf_entry() -> None:
    """The project's own RSS 1.0 item yields id, trimmed title and link, DOI, date, text (no recording needed)."""
    with FakeFeeds() as fake:
        fake.publish("/preprints.rdf", local("feeds/rss1_preprints.rdf"), "application/rdf+xml")
        result = source().fetch(query(fake.url + "/preprints.rdf"), window())
    [item] = result.items
    assert item.uid == "feed:https://preprints.example.org/content/short/990001v1?rss=1"
    assert item.url == "https://preprints.example.org/content/short/990001v1?rss=1"
    assert item.title == "Exosomes from hair follicle stem cells are toxic to cultured liver cells at high doses"
    assert (item.doi, item.published) == ("10.99999/2025.02.18.990001", "2025-02-20")
    assert item.feed_title == "Preprints Example: Cell Biology"
    assert item.abstract.startswith("Cultured liver cells exposed to high doses") and "\n" not in item.abstract
    assert result.warnings == [] and result.requests == 1


def test_unchanged_feed_costs_one_conditional_request_and_no_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the stored ETag the server answers 304: not_modified, validators kept, no parsing."""
    with FakeFeeds() as fake:
        fake.publish("/f.xml", local("rss2_preprints.xml"))
        first = source().fetch(query(fake.url + "/f.xml"), window())
        assert set(first.validators) == {"etag", "last_modified", "entries"}

        def no_parse(*args: object, **kwargs: object) -> None:
            raise AssertionError("a 304 must not be parsed")

        monkeypatch.setattr(feedparser, "parse", no_parse)
        again = source().fetch(query(fake.url + "/f.xml"), window(first.validators))
    assert again.not_modified is True and again.items == [] and again.requests == 1
    assert again.validators == first.validators
    sent = fake.requests[1].headers
    assert sent["if-none-match"] == first.validators["etag"]
    assert sent["if-modified-since"] == first.validators["last_modified"]


def test_changed_feed_is_fetched_and_parsed_again() -> None:
    """When the feed changes the conditional request gets the new body and new validators."""
    with FakeFeeds() as fake:
        fake.publish("/f.xml", local("rss2_preprints.xml"))
        first = source().fetch(query(fake.url + "/f.xml"), window())
        fake.publish("/f.xml", local("atom_safety_alerts.xml"), "application/atom+xml")
        again = source().fetch(query(fake.url + "/f.xml"), window(first.validators))
    assert again.not_modified is False
    assert len(again.items) == 2 and again.validators["etag"] != first.validators["etag"]
    assert again.validators["entries"] == "2"


def test_rss2_identity_guid_link_hash() -> None:
    """guid first (bare guids get the feed's host and path), else link, else a hash of title and date."""
    items = entries("rss2_preprints.xml", "https://preprints.example.org/rss")
    assert [i.id for i in items][:2] == [
        "preprints.example.org/rss/2025.03.01.25323001",
        "https://preprints.example.org/content/early/2025/02/27/ppr.9",
    ]
    assert items[2].id.startswith("preprints.example.org/rss/sha256:")
    again = entries("rss2_preprints.xml", "https://preprints.example.org/rss")
    assert [i.id for i in again] == [i.id for i in items]  # stable across runs


def test_rss2_html_stripped_and_dois() -> None:
    """HTML in titles and descriptions becomes text; DOIs come from dc:identifier, prism:doi."""
    items = entries("rss2_preprints.xml", "https://x.org/rss")
    first, second, third = items
    assert first.title == "Exosome-rich secretome for androgenetic alopecia: a split-scalp trial"
    assert first.abstract == "Background: hair loss & exosomes. Methods: 40 patients."
    assert first.doi == "10.1101/2025.03.01.25323001"
    assert first.published == "2025-03-01"
    assert second.doi == "10.1101/2025.02.27.25322990"
    assert third.doi == "" and third.url == ""


def test_atom_entries() -> None:
    """Atom ids, HTML summaries, xhtml content, a DOI in the link and an html feed title."""
    items = entries("atom_safety_alerts.xml", "https://example.org/atom")
    alert, recall = items
    assert alert.id == "tag:example.org,2025:alert-1042"
    assert alert.abstract == (
        "Patients treated with unapproved exosome products reported serious infections. "
        "Report problems & adverse events."
    )
    assert alert.authors == ("Office of Communications",)
    assert alert.feed_title == "Safety Alerts & Notices"
    assert alert.published == "2025-03-03"
    assert recall.abstract == "Lot A12 recalled."
    assert recall.doi == "10.5555/Recall.2025.1043"
    assert recall.published == "2025-03-02"


def test_doi_from_versioned_preprint_link() -> None:
    """A medRxiv link's version suffix is not part of the DOI."""
    entry = {"link": "https://www.medrxiv.org/content/10.1101/2025.01.02.25300001v3?rss=1"}
    assert entry_doi(entry) == "10.1101/2025.01.02.25300001"


def test_malformed_feed_keeps_entries_and_warns() -> None:
    """A bozo feed keeps what parsed and records a warning naming the feed and the error."""
    with FakeFeeds() as fake:
        fake.publish("/recalls.xml", local("rss2_malformed.xml"))
        result = source().fetch(query(fake.url + "/recalls.xml", "fda-medwatch-safety"), window())
    assert [i.id for i in result.items] == ["https://example.org/recalls/b7"]
    [warning] = result.warnings
    assert warning.startswith(f"feed fda-medwatch-safety ({fake.url}/recalls.xml) is malformed: ")
    assert "not well-formed" in warning


def test_one_unreadable_entry_is_skipped_by_name_and_the_others_kept() -> None:
    """Regression (issue 14, finding 5, for feeds): an entry whose fields break the parser is
    skipped and named in a warning; the feed's other entries are read."""
    parsed = feedparser.parse(local("rss2_preprints.xml"))
    whole = parse_entries(parsed, feed_url="https://preprints.example.org/rss")
    parsed["entries"][0]["published_parsed"] = "not a time tuple"  # time.strftime refuses it
    parsed["entries"].append({"title": "Recall", "authors": ["not a mapping"]})
    entries = read_entries(parsed, feed_url="https://preprints.example.org/rss")
    assert entries.items == whole[1:]
    first, last = entries.skipped
    assert "entry '2025.03.01.25323001' could not be read and was skipped (TypeError" in first
    assert "entry 4 could not be read and was skipped (AttributeError" in last


def test_empty_after_having_entries_warns_and_keeps_count() -> None:
    """A feed that parses to nothing after having entries is a warning, and keeps warning."""
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    with FakeFeeds() as fake:
        fake.publish("/f.xml", empty)
        result = source().fetch(query(fake.url + "/f.xml"), window({"entries": "3", "etag": '"x"'}))
        assert result.items == []
        assert result.warnings == [
            f"feed medrxiv-dermatology ({fake.url}/f.xml) parsed to no entries after having had 3; "
            "check the feed address"
        ]
        # ETag cleared: the next run checks in full
        assert result.validators == {"entries": "3", "etag": "", "last_modified": ""}
        quiet = source().fetch(query(fake.url + "/f.xml"), window())
    assert quiet.warnings == [] and quiet.validators["entries"] == "0"


def test_bytes_naming_a_local_file_are_not_read(tmp_path: Path) -> None:
    """A body that is a local path is parsed as text, never opened (feedparser would open it)."""
    secret = tmp_path / "secret.xml"
    secret.write_bytes(local("rss2_preprints.xml"))
    with FakeFeeds() as fake:
        fake.publish("/f.xml", str(secret).encode(), "text/plain")
        result = source().fetch(query(fake.url + "/f.xml"), window())
    assert result.items == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/etc/passwd", "ftp://example.org/f.xml"])
def test_only_http_urls(url: str) -> None:
    """Feed URLs other than http(s) are refused before any request."""
    with pytest.raises(SourceError, match="is not a valid http"):
        source().fetch(query(url), window())


def test_http_error_names_the_feed() -> None:
    """A 404 fails the fetch with the feed URL and the query name."""
    with FakeFeeds() as fake, pytest.raises(SourceError) as caught:
        source().fetch(query(fake.url + "/gone.xml"), window())
    assert str(caught.value) == f"medrxiv-dermatology: feed {fake.url}/gone.xml answered HTTP 404 Not Found"


def test_an_error_body_never_reaches_the_message_only_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 14 finding 3: a 403 whose body holds a secret fails with status and reason only;
    the body is logged, trimmed, never put in the error that chat messages carry."""
    secret = "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG"
    with FakeFeeds() as fake, pytest.raises(SourceError) as caught:
        fake.fail_next.append(Response(403, f"denied: {secret} " + "x" * 2000, {"Content-Type": "text/plain"}))
        source().fetch(query(fake.url + "/f.xml"), window())
    assert str(caught.value) == f"medrxiv-dermatology: feed {fake.url}/f.xml answered HTTP 403 Forbidden"
    assert secret in caplog.text and "x" * 400 not in caplog.text


def test_server_without_validators_is_fetched_in_full() -> None:
    """A server sending neither ETag nor Last-Modified gets plain GETs; entries still counted."""
    with FakeFeeds(validators=False) as fake:
        fake.publish("/f.xml", local("rss2_preprints.xml"))
        first = source().fetch(query(fake.url + "/f.xml"), window())
        source().fetch(query(fake.url + "/f.xml"), window(first.validators))
    assert first.validators == {"entries": "3", "etag": "", "last_modified": ""}
    assert "if-none-match" not in fake.requests[1].headers


def test_strip_html() -> None:
    """Tags go, entities are decoded, block breaks become spaces, whitespace collapses."""
    assert strip_html("<p>a&amp;b</p><p>c<br/>d</p>") == "a&b c d"
    assert strip_html("  x &lt; y ") == "x < y"
    assert strip_html("") == ""


def test_search_finds_nothing() -> None:
    """Feeds have no search endpoint, so ad hoc search returns no items and sends nothing."""
    assert source().search("exosome") == []


def test_unreachable_host_error_names_the_host_and_cause_briefly() -> None:
    """A refused connection reads "could not connect to <host>: <cause>", without urllib3's wrapper chain."""
    port = closed_port()
    query = SavedQuery(name="safety", source="feed", url=f"http://127.0.0.1:{port}/rss.xml")
    with pytest.raises(SourceError) as caught:
        FeedSource(http=Http(policy=RetryPolicy.fast(attempts=2))).fetch(
            query, Window(start=None, end=date(2026, 3, 1), baseline=True))
    message = caught.value.message
    assert "could not connect to 127.0.0.1: Failed to establish a new connection" in message
    assert "HTTPConnection" not in message and "Max retries exceeded" not in message


def numbered_feed(prefix: str, count: int) -> bytes:
    """An RSS 2.0 feed whose entries have bare guids 1..count, as many CMS feeds do."""
    entries = "".join(f"<item><title>{prefix} notice {n}</title><guid isPermaLink='false'>{n}</guid>"
                      f"<link>https://alerts.example.org/{prefix}/{n}</link></item>" for n in range(1, count + 1))
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>{prefix}</title>"
            f"{entries}</channel></rss>").encode()


TWO_FEEDS = """
[slack]
channel = "C111"

[[queries]]
name = "recalls"
source = "feed"
url = "{url}/recalls.xml"

[[queries]]
name = "warnings"
source = "feed"
url = "{url}/warnings.xml"
"""


def test_equal_guids_in_two_feeds_on_one_host_are_two_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (issue 14, finding 9: two feeds on one host with bare guids overwrote each
    other, 5 of 10 stored and "5 changed" every run): all ten are stored, and a second run
    finds nothing changed."""
    from bot.config import load_settings
    from bot.pipeline import run_query
    from bot.store import Store
    from tests.daemon_kit import label
    from tests.factories import context, write_config

    with FakeFeeds(validators=False) as fake:
        fake.publish("/recalls.xml", numbered_feed("recall", 5))
        fake.publish("/warnings.xml", numbered_feed("warning", 5))
        settings = load_settings(write_config(tmp_path, TWO_FEEDS.format(url=fake.url)))
        store = Store.memory()

        def run_all() -> list[tuple[int, int]]:
            reports = [run_query(query, context(settings, store, {"feed": source()}, classify=label))
                       for query in settings.queries]  # fmt: skip
            return [(report.new, report.changed) for report in reports]

        monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
        assert run_all() == [(5, 0), (5, 0)]
        monkeypatch.setenv("LITWATCH_NOW", "2026-03-02T06:00:00+00:00")
        assert run_all() == [(0, 0), (0, 0)]
    assert len(store) == 10
    assert store.get("feed:recalls/1")["title"] == "recall notice 1"  # type: ignore[index]
    assert store.get("feed:warnings/1")["title"] == "warning notice 1"  # type: ignore[index]


@pytest.mark.parametrize(("body", "said"), [
    (b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Log in</body></html>", "an HTML page"),
    (b"", "an empty body"),
    (b"\x00\x01 garbage, not xml", "a body that is not RSS or Atom"),
], ids=["html", "empty", "unparsable"])  # fmt: skip
def test_a_first_run_without_a_feed_is_not_a_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      body: bytes, said: str) -> None:  # fmt: skip
    """Regression (issue 14, finding 4: an HTML or empty answer on the first run used up the
    baseline, so the real feed later posted every entry as an alert): the first run fails
    saying what came, keeps no validators, and the first real feed is the baseline."""
    from bot.config import load_settings
    from bot.pipeline import run_query
    from bot.store import Store
    from tests.daemon_kit import label
    from tests.factories import context, write_config

    with FakeFeeds() as fake:
        fake.publish("/recalls.xml", body, "text/html")
        settings = load_settings(write_config(tmp_path, TWO_FEEDS.format(url=fake.url)))
        query = settings.queries[0]
        store = Store.memory()
        monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
        first = run_query(query, context(settings, store, {"feed": source()}, classify=label))
        assert first.failed and said in (first.error or "") and "no baseline was taken" in (first.error or "")
        state = store.query_state("recalls")
        assert state.watermark is None and not state.validators.get("etag")
        fake.publish("/recalls.xml", numbered_feed("recall", 5))
        second = run_query(query, context(settings, store, {"feed": source()}, classify=label))
    assert second.baseline and second.new == 5 and not second.failed
    assert sorted(n.kind for n in store.pending()) == ["baseline", "error"]  # one summary, no flood


def test_a_well_formed_empty_feed_is_a_baseline() -> None:
    """A real RSS document that lists no entries yet is a feed: its first run is a baseline."""
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    with FakeFeeds() as fake:
        fake.publish("/f.xml", empty)
        result = source().fetch(query(fake.url + "/f.xml"), Window(start=None, end=TODAY, baseline=True))
    assert result.items == [] and result.validators["entries"] == "0"
