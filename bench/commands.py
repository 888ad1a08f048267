"""Slash-command benchmark: ack latency over Socket Mode on loopback, idle and during a
scheduled run, and the search round trip against the fake E-utilities. Prints figures only.

Everything is real except Slack and NCBI: the slack_sdk Socket Mode client reaches a fake
websocket server through apps.connections.open on the fake Web API, the daemon runs on a
real store, replies go to the fake's response_url. "During a scheduled run" is the worst
case we can build: a run is in progress, a thread burns CPU as a big parse would (the GIL),
and another holds the store lock for the whole measurement, as a long commit would.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.daemon_kit import Rig, ScriptedSource, daemon_rig
from tests.factories import pubmed_item

COMMANDS = 200
SEARCHES = 20
MIX = ("status", "queries", "help", "search exosome alopecia", "subscribe weekly")


def ack_latencies(rig: Rig, count: int) -> list[float]:
    """Send `count` commands one after another; each latency is envelope sent -> ack received."""
    latencies = []
    for n in range(count):
        envelope = rig.command(MIX[n % len(MIX)], channel_id=f"C0BENCH{n % 7:02d}")
        ack = rig.socket.wait_ack(envelope, timeout=10)
        if ack is None:
            raise SystemExit(f"command {n} was not acked within 10 s")
        latencies.append(ack.latency * 1000)
    return latencies


def summary(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (f"p50 {statistics.median(values):6.1f}  p99 {cuts[98]:6.1f}  "
            f"max {max(values):6.1f}  (n={len(values)})")  # fmt: skip


def burn(stop: threading.Event) -> None:
    """Pure-Python work, as parsing a large efetch answer holds the GIL."""
    while not stop.is_set():
        sum(i * i for i in range(20_000))


def bench_acks() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        gate = threading.Event()
        pubmed = ScriptedSource(items=[pubmed_item(n) for n in range(50)], gate=gate,
                                search_items=[pubmed_item(n) for n in range(10)])  # fmt: skip
        sources = {"pubmed": pubmed, "clinicaltrials": ScriptedSource()}
        with daemon_rig(Path(tmp), sources=sources) as rig:
            ack_latencies(rig, 20)  # warm-up: imports, first connections
            idle = ack_latencies(rig, COMMANDS)
            rig.slack.wait_responses(len(rig.slack.responses), timeout=1)

            rig.daemon.scheduler.catch_up()  # queue the never-run queries: "pm" starts fetching
            if not pubmed.started.wait(10):
                raise SystemExit("the scheduled run did not start")
            stop = threading.Event()
            burner = threading.Thread(target=burn, args=(stop,), daemon=True)
            burner.start()
            rig.store.lock.acquire()
            try:
                busy = ack_latencies(rig, COMMANDS)
                running = rig.daemon.scheduler.running
            finally:
                rig.store.lock.release()
                stop.set()
                gate.set()
    print(f"ack latency over Socket Mode on loopback, {COMMANDS} slash commands each (ms):")
    print(f"  idle                                   {summary(idle)}")
    print(f"  during a scheduled run, store locked   {summary(busy)}   (running: {running})")


def search_round_trips(limiter: object, count: int) -> list[float]:
    """`/litwatch search` sent -> results arrive at response_url, PubMed via fake E-utilities."""
    from datetime import date

    from bot.retry import RetryPolicy
    from bot.sources.pubmed import PubMedSource
    from tests.conftest import FIXTURES
    from tests.fakes.eutils import FakeEutils, FakeRecord, article_pmid, recorded_articles

    articles = recorded_articles(FIXTURES)
    if not articles:
        raise SystemExit(f"recorded PubMed fixtures not found under {FIXTURES}")
    with FakeEutils() as eutils, tempfile.TemporaryDirectory() as tmp:
        eutils.add(FakeRecord(article_pmid(xml), xml, date(2024, 1, 1)) for xml in articles)
        pubmed = PubMedSource(eutils.url, email="bench@example.org", policy=RetryPolicy.fast(),
                              limiter=limiter)
        sources = {"pubmed": pubmed, "clinicaltrials": ScriptedSource()}
        with daemon_rig(Path(tmp), sources=sources) as rig:
            trips = []
            for n in range(count):
                before = len(rig.slack.responses)
                sent = time.monotonic()
                rig.command("search exosome alopecia source:pubmed")
                replies = rig.slack.wait_responses(before + 1, timeout=30)
                if len(replies) <= before or "results" not in replies[-1].payload["text"]:
                    raise SystemExit(f"search {n} got no results reply")
                trips.append((replies[-1].at - sent) * 1000)
    return trips


def bench_search() -> None:
    try:
        from bot import ratelimit
        from bot.ratelimit import RateLimiter
    except ImportError:
        print("search round trip: not measured (the PubMed source is not on this branch yet)")
        return
    unpaced = search_round_trips(RateLimiter(1000), SEARCHES)
    paced = search_round_trips(ratelimit.ncbi(api_key=False), SEARCHES)
    print(f"search round trip, /litwatch search -> 10 results at response_url, PubMed via the fake "
          f"E-utilities (esearch + efetch of real records), {SEARCHES} searches one after another (ms):")
    print(f"  limiter off (litwatch's own cost)      {summary(unpaced)}")
    print(f"  NCBI pacing, no API key (3 req/s)      {summary(paced)}")


def main() -> None:
    bench_acks()
    bench_search()


if __name__ == "__main__":
    main()
