"""RSS 0.9x/1.0/2.0 and Atom feeds: conditional GET with a timeout, then feedparser on the bytes.

feedparser is never given a URL or a path: it has no timeout, and given a string (or bytes)
that names a local file it reads that file. So we fetch through the shared HTTP stack and hand
it the body as a stream, with the response headers for encoding and relative links. A body is
used only if it is whole: the stack refuses one shorter than its Content-Length or a chunked
one that ends early, and a document that stops before its end (a connection closed mid-feed,
with no length to tell) is retried like a cut in transit, never stored in part.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import feedparser
import requests

from bot import registry
from bot.config import Environment, SavedQuery
from bot.errors import SourceError
from bot.models import FetchResult, Item, Window, is_web_url
from bot.retry import TransientError
from bot.sources.http import Http, is_link_local_url, status_error

if TYPE_CHECKING:
    from bot.store import Store

DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>?#&]+)", re.IGNORECASE)
GLOBAL_ID = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # a URL, URN, tag: or doi:
# Validator keys kept between runs (Window.validators in, FetchResult.validators out).
ETAG, LAST_MODIFIED, ENTRIES = "etag", "last_modified", "entries"
# Expat's words for a document that stops before it ends: a body cut in transit. Other bozo
# errors (a raw "&", a wrong declared encoding) are repaired by feedparser's loose parser.
CUT_SHORT = ("no element found", "unclosed token", "unclosed CDATA section")


class FeedSource:
    """`Source` for `source = "feed"` queries: the query's `url` is the feed."""

    overlap = timedelta(0)  # a feed lists what it has; the store tells old from new

    def __init__(self, *, http: Http):
        self.http = http

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
        """The feed's entries, or `not_modified` when the server says nothing changed."""
        url = query.url
        previous = dict(window.validators)
        what = f"feed {url}"
        sent = 0

        def attempt() -> tuple[requests.Response, bytes, Any]:
            nonlocal sent
            sent += 1
            response, body = self.http.once("GET", url, headers=conditional_headers(previous), query=query.name,
                                            what=what)  # fmt: skip
            if response.status_code != 200:
                return response, body, None
            headers = {k.lower(): v for k, v in response.headers.items()}
            headers.setdefault("content-location", response.url or url)
            parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
            cut = cut_short(parsed)
            if cut:
                # A body that ends mid-document lost its later entries: use none of it (its
                # validators neither, so the next run fetches the whole feed) and ask again.
                raise TransientError(f"{what} ended before its document did ({cut}); nothing of it was stored")
            return response, body, parsed

        response, body, parsed = self.http.call(attempt, url=url, query=query.name, what=what)
        if response.status_code == 304:
            return FetchResult(validators=previous, not_modified=True, requests=sent)
        if parsed is None:
            raise SourceError(status_error(what, response, body), query=query.name)
        headers = {k.lower(): v for k, v in response.headers.items()}
        entries = read_entries(parsed, feed_url=url, feed=query.name)
        items = entries.items
        not_a_feed = first_run_problem(body, parsed) if window.baseline and not items else ""
        if not_a_feed:
            # Stored as a baseline, this would make every entry of the real feed "new" later:
            # a flood of alerts instead of one summary. Failing keeps the baseline for it.
            raise SourceError(f"feed {url} sent {not_a_feed} on its first run; no baseline was taken, "
                              "the next run tries again (check the feed address)", query=query.name, retryable=True)

        result = FetchResult(items=items, warnings=list(entries.skipped), requests=sent)
        if parsed.get("bozo"):
            error = parsed.get("bozo_exception")
            result.warnings.append(
                f"feed {query.name} ({url}) is malformed: {error}; kept {len(items)} entries"
            )
        had = _int(previous.get(ENTRIES))
        if not items and had:
            result.warnings.append(
                f"feed {query.name} ({url}) parsed to no entries after having had {had}; "
                "check the feed address"
            )
            # Validators blanked: the next run fetches in full and warns again until entries
            # return. Every key is always returned, as "" when cleared, because the caller
            # merges these over the stored ones.
            result.validators = {ENTRIES: str(had), ETAG: "", LAST_MODIFIED: ""}
            return result
        result.validators = {
            ENTRIES: str(len(items)),
            ETAG: headers.get("etag", ""),
            LAST_MODIFIED: headers.get("last-modified", ""),
        }
        return result

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]:
        """Feeds have no search endpoint: an ad hoc search finds nothing here."""
        return []


def cut_short(parsed: Mapping[str, Any]) -> str:
    """Why a parsed body looks cut off (the XML ends before its root element closes), or ""."""
    error = parsed.get("bozo_exception") if parsed.get("bozo") else None
    text = str(error or "")
    return text if any(sign in text for sign in CUT_SHORT) else ""


def first_run_problem(body: bytes, parsed: Mapping[str, Any]) -> str:
    """Why a body that yielded no entries is no feed at all ("" when it is one, just empty):
    an empty body, an HTML page, or anything feedparser did not recognise as RSS or Atom."""
    if not body.strip():
        return "an empty body"
    if parsed.get("version"):
        return ""  # a well-formed RSS or Atom document that lists nothing yet
    head = body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "an HTML page, not RSS or Atom"
    return "a body that is not RSS or Atom"


def conditional_headers(validators: Mapping[str, str]) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from what the last fetch of this feed returned."""
    headers: dict[str, str] = {}
    if validators.get(ETAG):
        headers["If-None-Match"] = validators[ETAG]
    if validators.get(LAST_MODIFIED):
        headers["If-Modified-Since"] = validators[LAST_MODIFIED]
    return headers


# ---------------------------------------------------------------- parsing (pure)


@dataclass(frozen=True)
class FeedEntries:
    """A feed's entries as Items, and one warning per entry that could not be read."""

    items: list[Item]
    skipped: list[str] = field(default_factory=list)


def parse_entries(parsed: Mapping[str, Any], *, feed_url: str, feed: str = "") -> list[Item]:
    """Items from a feedparser result; entries without any identity or title are skipped."""
    return read_entries(parsed, feed_url=feed_url, feed=feed).items


def read_entries(parsed: Mapping[str, Any], *, feed_url: str, feed: str = "") -> FeedEntries:
    """Every readable entry of a feedparser result; an entry whose fields are not what a feed
    entry holds (feedparser passes odd markup through) is skipped and named, not fatal."""
    header = parsed.get("feed") or {}
    feed_title = strip_html(header.get("title", ""))
    items: dict[str, Item] = {}
    skipped: list[str] = []
    for number, entry in enumerate(parsed.get("entries") or (), 1):
        try:
            item = parse_entry(entry, feed_url=feed_url, feed_title=feed_title, feed=feed)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            skipped.append(f"feed {feed_url}: {_entry_name(entry, number)} could not be read and was "
                           f"skipped ({type(exc).__name__}: {exc})")
            continue
        if item is not None:
            items.setdefault(item.id, item)
    return FeedEntries(list(items.values()), skipped)


def _entry_name(entry: Any, number: int) -> str:
    """How a warning names an entry: its id or link when it has a usable one, else its position."""
    if isinstance(entry, Mapping):
        for key in ("id", "link"):
            value = entry.get(key)
            if isinstance(value, str) and value.strip():
                return f"entry {value.strip()[:200]!r}"
    return f"entry {number}"


def parse_entry(entry: Mapping[str, Any], *, feed_url: str, feed_title: str = "", feed: str = "") -> Item | None:
    title = strip_html(entry.get("title", ""))
    link = (entry.get("link") or "").strip()
    published = _entry_date(entry)
    identity = entry_id(entry, feed_url=feed_url, title=title, published=published, feed=feed)
    if identity is None:
        return None
    summary = entry.get("summary") or ""
    if not summary and entry.get("content"):
        summary = entry["content"][0].get("value", "")
    authors = tuple(
        name for name in (strip_html(a.get("name", "")) for a in entry.get("authors") or ()) if name
    )
    return Item(
        source="feed",
        id=identity,
        title=title or link or identity,
        url=link,
        abstract=strip_html(summary),
        authors=authors,
        journal=feed_title,
        published=published,
        doi=entry_doi(entry),
        feed_title=feed_title,
    )


def entry_id(
    entry: Mapping[str, Any], *, feed_url: str, title: str, published: str, feed: str = ""
) -> str | None:
    """guid/id, else link, else a hash of title + date.

    An id that names itself globally (a URL, URN, `tag:` or `doi:`) is kept as it is: the same
    entry in two feeds is one item. Anything else — a bare guid such as "1042", or the hash —
    is only unique within its feed, so it is prefixed with `feed` (the saved query's name):
    two feeds on one host that both number their entries 1, 2, 3 never collide. Without a
    `feed` (ad hoc parsing) the feed URL's host and path stand in for it.
    """
    scope = feed or feed_scope(feed_url)
    for candidate in (entry.get("id"), entry.get("link")):
        if isinstance(candidate, str) and candidate.strip():
            value = candidate.strip()
            if GLOBAL_ID.match(value):
                return value
            return f"{scope}/{value}"
    if not title:
        return None
    digest = hashlib.sha256(f"{title}\n{published}".encode()).hexdigest()[:20]
    return f"{scope}/sha256:{digest}"


def feed_scope(feed_url: str) -> str:
    """A feed's host and path: the scope of its entries' ids when no query name is given."""
    parts = urlsplit(feed_url)
    return parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")


def entry_doi(entry: Mapping[str, Any]) -> str:
    """The entry's DOI from dc:identifier, prism:doi, the id or a link; "" when none."""
    candidates = [entry.get("prism_doi"), entry.get("dc_identifier"), entry.get("id"),
                  entry.get("link")]  # fmt: skip
    candidates += [link.get("href") for link in entry.get("links") or ()]
    for value in candidates:
        if isinstance(value, str):
            found = DOI.search(value)
            if found:
                return _without_version(found.group(1).rstrip(".,;)"))
    return ""


def _without_version(doi: str) -> str:
    """bioRxiv/medRxiv links end the DOI with a version ("…25323001v2"); the DOI has none."""
    if doi.lower().startswith("10.1101/"):
        return re.sub(r"v\d+$", "", doi)
    return doi


def _entry_date(entry: Mapping[str, Any]) -> str:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return time.strftime("%Y-%m-%d", value)
    return ""


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4"):
            self.parts.append(" ")


def strip_html(text: str) -> str:
    """Markup removed, entities decoded, whitespace collapsed: the text a reader sees."""
    if not text:
        return ""
    if "<" in text:
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = html.unescape(text)
    return " ".join(text.split())


class Feed(registry.SourceSpec):
    """RSS and Atom feeds (`feed:<entry id>`): the query's `url` is the feed."""

    name = "feed"
    uid_prefix = "feed"
    label = "Feed"
    noun = "entry"
    id_label = ""  # an entry id is no name a reader knows
    query_keys = frozenset({"url"})
    search_scope = None  # feeds have no search endpoint
    url_variable = None  # each query names its feed
    default_url = ""
    ris_type = "ELEC"
    ris_database = ""  # a feed is not a database
    registry_records = False
    may_list_registry_records = True  # a registry's own feed lists trials by their URL
    accession = None
    naming_fields = ()

    def check_query(self, query: SavedQuery, raw: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        if not query.url and "url" not in raw:
            yield "url", "required for source = 'feed'"
        elif query.url and not is_web_url(query.url):
            yield "url", f"{query.url!r} is not an http(s) URL (feeds are never read from local files)"
        elif query.url and is_link_local_url(query.url):
            yield "url", (f"{query.url!r} is a link-local address (such as a cloud metadata service), "
                          "never a feed")  # fmt: skip

    def watched(self, item: Item) -> dict[str, Any]:
        return {"title": item.title}

    def record_url(self, ident: str) -> str:
        return ""  # an entry's page is its link, stored as its url

    def build(self, env: Environment, http: Http, store: Store | None) -> FeedSource:
        return FeedSource(http=http)


registry.register(Feed())
