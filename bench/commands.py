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


def bench_search() -> None:
    try:
        from bot.sources.pubmed import PubMedSource  # noqa: F401
        from tests.fakes.eutils import FakeEutils  # noqa: F401
    except ImportError:
        print("search round trip: not measured (the PubMed source and fake E-utilities are "
              "not on this branch yet)")  # fmt: skip
        return


def main() -> None:
    bench_acks()
    bench_search()


if __name__ == "__main__":
    main()
