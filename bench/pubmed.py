"""PubMed source cost: requests and wall time per run shape, rate-limit violations, parse speed.

Runs the real client (process-wide 3 requests/s limiter, the shared HTTP stack)
against the fake E-utilities on 127.0.0.1 serving real recorded PubMed records, renumbered
to 2,500 distinct PMIDs. Nothing touches NCBI.
"""

from __future__ import annotations

import math
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import SavedQuery  # noqa: E402
from bot.models import Item, Window  # noqa: E402
from bot.retry import RetryPolicy  # noqa: E402
from bot.sources.pubmed import BATCH, PubMedSource  # noqa: E402
from bot.sources.pubmed_xml import parse_efetch  # noqa: E402
from tests.fakes.eutils import (  # noqa: E402
    EFETCH_HEAD,
    EFETCH_TAIL,
    FakeEutils,
    FakeRecord,
    recorded_articles,
    renumbered,
)

FIXTURES = Path(os.environ.get("LITWATCH_FIXTURES") or ROOT.parent / "shared" / "fixtures")
TODAY = date(2026, 3, 2)
BASELINE_SIZE = 2500
NEW = 50
QUERY = SavedQuery(name="bench", source="pubmed", term="exosome* AND alopecia")


def corpus(articles: list[bytes], count: int, first: int, crdt: date) -> list[FakeRecord]:
    return [
        FakeRecord(str(first + n), renumbered(articles[n % len(articles)], str(first + n)), crdt)
        for n in range(count)
    ]


def timed_fetch(
    source: PubMedSource, fake: FakeEutils, window: Window, stored: dict[str, Item]
) -> tuple[int, int, float]:
    """Items returned, requests the fake received and wall seconds of one fetch; then store."""
    before = len(fake.requests)
    started = time.perf_counter()
    result = source.fetch(QUERY, window)
    elapsed = time.perf_counter() - started
    stored.update((item.id, item) for item in result.items)
    return len(result.items), len(fake.requests) - before, elapsed


def parse_throughput(articles: list[bytes]) -> tuple[int, float]:
    """Records/s of parse_efetch over efetch-sized documents (200 records each), one core."""
    documents = []
    for start in range(0, BASELINE_SIZE, BATCH):
        stop = min(start + BATCH, BASELINE_SIZE)
        batch = [articles[n % len(articles)] for n in range(start, stop)]
        documents.append(EFETCH_HEAD + b"\n".join(batch) + b"\n" + EFETCH_TAIL)
    best = math.inf
    parsed = 0
    for _ in range(3):
        started = time.perf_counter()
        parsed = sum(len(parse_efetch(doc)) for doc in documents)
        best = min(best, time.perf_counter() - started)
    return parsed, parsed / best


def main() -> None:
    articles = recorded_articles(FIXTURES)
    if not articles:
        sys.exit(f"no recorded PubMed fixtures under {FIXTURES} (set LITWATCH_FIXTURES)")
    stored: dict[str, Item] = {}
    rows = []
    with FakeEutils(rate=3) as fake:
        fake.add(corpus(articles, BASELINE_SIZE, 40_000_000, TODAY - timedelta(days=400)))
        source = PubMedSource(
            fake.url,
            email="bench@example.org",
            policy=RetryPolicy(),
            stored_ids=lambda query: stored.keys(),
        )  # the default limiter: the process-wide NCBI one, 3 requests/s without a key

        baseline = Window(start=None, end=TODAY, baseline=True)
        rows.append(("(a) cold baseline", *timed_fetch(source, fake, baseline, stored)))

        window = Window(start=TODAY - timedelta(days=7), end=TODAY)
        rows.append(("(b) warm, nothing new", *timed_fetch(source, fake, window, stored)))

        fake.add(corpus(articles, NEW, 41_000_000, TODAY))
        rows.append((f"(c) {NEW} new records", *timed_fetch(source, fake, window, stored)))
        violations = fake.violations

    parsed, rate = parse_throughput(articles)
    cold_bound = 1 + math.ceil(BASELINE_SIZE / BATCH) + 2
    print(f"PubMed source against the fake E-utilities ({len(articles)} real records, "
          f"renumbered to {BASELINE_SIZE}; limiter 3 requests/s)")  # fmt: skip
    print(f"{'run':<24}{'items':>7}{'requests':>10}{'wall s':>9}")
    for name, count, requests, elapsed in rows:
        print(f"{name:<24}{count:>7}{requests:>10}{elapsed:>9.2f}")
    print(f"cold-run request bound 1 + ceil({BASELINE_SIZE}/{BATCH}) + 2 = {cold_bound}; "
          f"warm-run target 1 + retraction check = 2")  # fmt: skip
    print(f"rate-limit violations counted by the fake (>3 requests in any 1 s): {violations}")
    print(f"parse throughput: {parsed} records in efetch batches of {BATCH}: {rate:,.0f} records/s")


if __name__ == "__main__":
    main()
