"""Slack delivery against the fake Web API: messages and API calls per run and per digest,
and rendering throughput. Pacing is off (pace=0) so the run measures work, not the 1 s/message wait."""

from __future__ import annotations

import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Environment, SavedQuery, load_settings
from bot.digest import run_digests
from bot.models import Classification, FetchResult, Item, Window
from bot.notify import Notification
from bot.outbox import flush
from bot.pipeline import run_query
from bot.render import clear_render_cache
from bot.retry import RetryPolicy
from bot.slack.blocks import ITEMS_PER_MESSAGE, render
from bot.slack.deliver import SlackChannel, make_client
from bot.store import Diff, Store
from tests.factories import channels, context
from tests.fakes.slack import BOT_TOKEN, FakeSlack

CONFIG = """
[slack]
channel = "C0LITWATCH"
safety_channel = "C0SAFETY1"

[[queries]]
name = "exo-alopecia"
source = "pubmed"
term = "exosome alopecia"
"""


def item(n: int) -> Item:
    return Item(
        source="pubmed",
        id=str(30_000_000 + n),
        title=f"Exosome-derived vesicles for androgenetic alopecia: study {n}",
        url=f"https://pubmed.ncbi.nlm.nih.gov/{30_000_000 + n}/",
        journal="Dermatol Surg",
        published="2026-03-01",
        authors=("Queen D", "Avram MR"),
        trial_ids=(f"NCT0{5_000_000 + n}",),
        classification=Classification(
            ("clinical", "case_report", "other")[n % 3], False, False, ("publication type: Clinical Trial",)
        ),
    )


@dataclass
class Source:
    results: list[list[Item]] = field(default_factory=list)
    overlap: timedelta = timedelta(days=7)

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
        return FetchResult(items=self.results.pop(0))

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]:
        return []


def sink(fake: FakeSlack) -> SlackChannel:
    env = Environment(slack_api_url=fake.api_url, slack_bot_token=BOT_TOKEN)
    return SlackChannel(make_client(env, RetryPolicy.fast()), pace=0)


def bench_run(new: int, settings_path: Path) -> str:
    settings = load_settings(settings_path)
    store = Store.memory()
    source = Source([[item(0)], [item(0), *(item(n) for n in range(1, new + 1))]])
    with FakeSlack() as fake:

        def run_and_deliver() -> None:
            run_query(settings.queries[0], context(settings, store, {"pubmed": source}))
            flush(store, channels(sink(fake)))

        run_and_deliver()  # the baseline summary: not counted
        before_msgs, before_calls = len(fake.messages), len(fake.calls())
        started = time.perf_counter()
        run_and_deliver()
        seconds = time.perf_counter() - started
        messages, calls = len(fake.messages) - before_msgs, len(fake.calls()) - before_calls
        assert not fake.rejected and not store.pending()
    target = math.ceil(new / ITEMS_PER_MESSAGE)
    return (
        f"run with {new:>4} new items: {messages:>3} messages, {calls:>3} API calls "
        f"(target <= {target} messages, 1 call each)  {seconds:.2f} s"
    )


def bench_digest(count: int, settings_path: Path) -> str:
    settings = load_settings(settings_path)
    store = Store.memory()
    monday = datetime(2026, 3, 2, 9, tzinfo=UTC)
    store.subscribe("slack:C0TEAM001", "weekly", now=monday)
    store.commit("exo-alopecia", Diff(new=[item(n) for n in range(count)]), now=monday + timedelta(days=1))
    with FakeSlack() as fake:
        started = time.perf_counter()
        run_digests(store, settings, channels(sink(fake)), moment=monday + timedelta(days=7))
        seconds = time.perf_counter() - started
        methods = [c.method for c in fake.calls()]
        uploads = sum(1 for r in fake.requests if r.path.startswith("/upload/"))
        ris = fake.files[0].content if fake.files else b""
        assert not fake.rejected and not store.pending()
    posts = methods.count("chat.postMessage")
    return (
        f"digest of {count} items: {posts} message(s), {len(methods)} API calls "
        f"({posts} chat.postMessage + {len(methods) - posts} upload v2) + {uploads} file upload, "
        f"RIS {len(ris) / 1e6:.2f} MB  {seconds:.2f} s"
    )


def bench_render(count: int) -> str:
    docs = []
    for n in range(count):
        it = item(n)
        doc = it.to_dict()
        doc.update(
            uid=it.uid,
            queries=["exo-alopecia"],
            first_seen="2026-03-03T06:00:00+00:00",
            last_changed="2026-03-03T06:00:00+00:00",
            changes=[],
        )
        docs.append(doc)
    note = Notification(kind="items", route="slack:C0LITWATCH", query="exo-alopecia",
                        created="2026-03-03T06:00:00+00:00")
    best = math.inf
    for _ in range(5):
        clear_render_cache()  # each round renders cold, as a new notification does
        started = time.perf_counter()
        messages = render(note, docs)
        best = min(best, time.perf_counter() - started)
    return (
        f"render {count} items -> {len(messages)} messages: {best * 1000:.0f} ms, "
        f"{count / best:,.0f} items/s (target >= 5,000; best of 5)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "litwatch.toml"
        path.write_text(CONFIG, encoding="utf-8")
        print(f"items per message: {ITEMS_PER_MESSAGE}; pacing off; fake Slack on 127.0.0.1")
        for new in (1, 50, 500):
            print(bench_run(new, path))
        print(bench_digest(1000, path))
        print(bench_render(1000))


if __name__ == "__main__":
    main()
