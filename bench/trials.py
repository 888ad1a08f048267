"""Benchmark: ClinicalTrials.gov and feed runs against local fakes, requests and time printed.

- cold load of 3,000 studies (baseline run through the pipeline into an in-memory store);
- warm run with nothing changed (the incremental window finds no updates);
- warm run after 3 studies changed status;
- a feed unchanged (conditional GET answered 304) versus changed (fetched and parsed).

Run: `.venv/bin/python bench/trials.py` (or `make bench`). Reads the recorded study records
and bioRxiv feed from LITWATCH_FIXTURES (default ../shared/fixtures); never the network.
"""

from __future__ import annotations

import os
import re
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import feedparser

from bot.config import (
    ClassifySettings,
    DigestSettings,
    SavedQuery,
    Settings,
    SlackSettings,
)
from bot.links import link_items
from bot.models import Classification, Item, Window
from bot.pipeline import run_query
from bot.retry import RetryPolicy
from bot.sources.clinicaltrials import ClinicalTrialsSource
from bot.sources.feeds import FeedSource
from bot.sources.http import Http
from bot.store import Store
from tests.factories import context
from tests.fakes.ctgov import FakeClinicalTrials, synthetic_studies
from tests.fakes.feeds import FakeFeeds

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("LITWATCH_FIXTURES") or ROOT.parent / "shared" / "fixtures")
STUDIES = 3000
FEED_ENTRIES = 300


def label(item: Item) -> Classification:
    return Classification(kind="clinical")


def settings_for(*queries: SavedQuery) -> Settings:
    return Settings(path=Path("bench.toml"), slack=SlackSettings(channel="C1"),
                    digest=DigestSettings(), classify=ClassifySettings(), queries=queries)  # fmt: skip


def biorxiv_feed(entries: int) -> bytes:
    """The recorded bioRxiv RSS 1.0 document with its one item repeated under new ids."""
    text = (FIXTURES / "feeds" / "rss_biorxiv_subject_collection_rdf.xml").read_text()
    item = re.search(r"\s*<item .*?</item>", text, re.S)
    assert item is not None
    copies = "".join(item.group(0).replace("857789", str(900000 + n)) for n in range(entries))
    return (text[: item.start()] + copies + text[item.end():]).encode()


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def bench_trials() -> None:
    query = SavedQuery(name="trials-bench", source="clinicaltrials", term="exosome")
    settings = settings_for(query)
    store = Store.memory()
    studies = synthetic_studies(STUDIES, updated="2025-01-10", fixtures=FIXTURES)
    with FakeClinicalTrials(studies) as fake:
        source = ClinicalTrialsSource(fake.url, http=Http(policy=RetryPolicy()))
        fetch_seconds: list[float] = []
        real_fetch = source.fetch

        def timed_fetch(q: SavedQuery, w: Window):  # type: ignore[no-untyped-def]
            result, seconds = timed(lambda: real_fetch(q, w))
            fetch_seconds.append(seconds)
            return result

        source.fetch = timed_fetch  # type: ignore[method-assign]
        sources = {"clinicaltrials": source}

        def run(day: str):  # type: ignore[no-untyped-def]
            os.environ["LITWATCH_NOW"] = f"{day}T06:00:00+00:00"
            before = len(fake.requests)
            report, seconds = timed(lambda: run_query(query, context(settings, store, sources, classify=label,
                                                                     link=link_items)))
            return report, len(fake.requests) - before, seconds

        cold, cold_requests, cold_s = run("2025-01-15")
        warm, warm_requests, warm_s = run("2025-01-16")
        for n in (5, 500, 2500):
            fake.change(f"NCT9{n:07d}", updated="2025-01-16", status="TERMINATED",
                        why_stopped="sponsor decision")  # fmt: skip
        changed, changed_requests, changed_s = run("2025-01-17")
    os.environ.pop("LITWATCH_NOW", None)
    print(f"trials cold load      : {cold.fetched} studies, {cold_requests} requests "
          f"(pageSize 1000), {cold_s:.2f} s (fetch+parse {fetch_seconds[0]:.2f} s), "
          f"stored {len(store)}")  # fmt: skip
    print(f"trials warm, no change: {warm.fetched} studies, {warm_requests} request, "
          f"new {warm.new}, changed {warm.changed}, {warm_s:.3f} s")  # fmt: skip
    print(f"trials warm, 3 changed: {changed.fetched} studies, {changed_requests} request, "
          f"new {changed.new}, changed {changed.changed}, {changed_s:.3f} s")  # fmt: skip


def bench_feed() -> None:
    parses = 0
    real_parse = feedparser.parse

    def counting_parse(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal parses
        parses += 1
        return real_parse(*args, **kwargs)

    feedparser.parse = counting_parse
    source = FeedSource(http=Http(policy=RetryPolicy()))
    body = biorxiv_feed(FEED_ENTRIES)
    with FakeFeeds() as host:
        host.publish("/biorxiv.xml", body, "application/rdf+xml")
        query = SavedQuery(name="feed-bench", source="feed", url=host.url + "/biorxiv.xml")
        first = source.fetch(query, Window(start=None, end=date.today()))
        rows = []
        for label_, change in (("unchanged (304)", False), ("changed (200)", True)):
            if change:
                host.publish("/biorxiv.xml", body.replace(b"Bioengineering", b"Dermatology"),
                             "application/rdf+xml")  # fmt: skip
            window = Window(start=None, end=date.today(), validators=first.validators)
            requests_before, parses_before = len(host.requests), parses
            result, seconds = timed(lambda w=window: source.fetch(query, w))
            rows.append((label_, len(host.requests) - requests_before, parses - parses_before,
                         len(result.items), seconds))  # fmt: skip
    feedparser.parse = real_parse
    print(f"feed of {FEED_ENTRIES} entries ({len(body) / 1024:.0f} KiB):")
    for name, reqs, parsed, items, seconds in rows:
        print(f"  {name:16}: {reqs} request, {parsed} parse, {items} entries, "
              f"{seconds * 1000:.1f} ms")  # fmt: skip
    ratio = rows[1][4] / rows[0][4] if rows[0][4] else float("inf")
    print(f"  changed / unchanged time: {ratio:.0f}x")


if __name__ == "__main__":
    bench_trials()
    bench_feed()
