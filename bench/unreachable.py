"""Benchmark: how long a fetch takes to fail when its upstream cannot be reached (issue 12 item 3).

Each source's production client, on the production retry policy (real waits, no test mode),
against 127.0.0.1: a port nobody listens on (connection refused), and for contrast a server
that answers 503 every time (a busy upstream, retried in full). Prints attempts and seconds.

Run: `.venv/bin/python bench/unreachable.py` (or `make bench`). Never touches the network.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Environment, SavedQuery
from bot.errors import SourceError
from bot.models import Window
from bot.sources import build_sources
from tests.fakes.http import FakeServer, Response, closed_port

WINDOW = Window(start=None, end=date(2026, 3, 1), baseline=True)


def queries(feed_url: str) -> dict[str, SavedQuery]:
    return {
        "pubmed": SavedQuery(name="pm", source="pubmed", term="exosome"),
        "clinicaltrials": SavedQuery(name="ct", source="clinicaltrials", term="exosome"),
        "feed": SavedQuery(name="rss", source="feed", url=feed_url),
    }


def measure(base: str, label: str) -> None:
    env = Environment.from_env({"NCBI_EUTILS_URL": f"{base}/eutils", "CTGOV_API_URL": f"{base}/api/v2",
                                "NCBI_EMAIL": "bench@example.org"})  # fmt: skip
    sources = build_sources(env)
    for name, query in queries(f"{base}/rss.xml").items():
        started = time.monotonic()
        try:
            sources[name].fetch(query, WINDOW)
            outcome = "fetched (unexpected)"
        except SourceError as exc:
            outcome = str(exc).split(": ", 1)[1][:70]
        print(f"  {label:<22} {name:<15} {time.monotonic() - started:6.2f} s  {outcome}")


def main() -> None:
    print("time to fail one fetch, production retry policy (5 attempts, backoff from 1 s)")
    measure(f"http://127.0.0.1:{closed_port()}", "connection refused")
    with FakeServer(lambda request: Response(503, "busy")) as busy:
        measure(busy.url, "HTTP 503 every time")


if __name__ == "__main__":
    main()
