"""Store benchmark: diff + commit against 1k/10k/100k-item stores, side by side with the naive
TinyDB pattern (contains() + insert() per item on the stock JSONStorage). Prints figures only."""

from __future__ import annotations

import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinydb import Query, TinyDB
from tinydb.storages import JSONStorage

from bot.store import STORE_FILE, Store
from tests.factories import pubmed_item

SIZES = (1_000, 10_000, 100_000)
FETCHED, NEW = 1_000, 500


def realistic(n: int):  # ~2 KB per item: title, authors, ~1.5 KB abstract, types, DOI
    return pubmed_item(n, keywords=("exosomes", "alopecia"), mesh=())


def build(path: Path, size: int) -> None:
    with Store.open(path) as store:
        store.commit("bench", store.diff([realistic(n) for n in range(size)], "bench"))


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def bench_ours(size: int, root: Path) -> dict[str, float]:
    path = root / f"ours-{size}"
    # Built in a child process so the peak RSS printed is that of load + diff + commit.
    child = multiprocessing.get_context("fork").Process(target=build, args=(path, size))
    child.start()
    child.join()
    file_mb = (path / STORE_FILE).stat().st_size / 1e6
    load_s, store = timed(lambda: Store.open(path))
    with store:
        known = [realistic(n) for n in range(size - FETCHED, size)]
        writes = store.file_writes
        nochange_s, diff = timed(lambda: store.diff(known, "bench"))
        assert not diff.new and not diff.changed
        nochange_writes = store.file_writes - writes
        fetched = [realistic(n) for n in range(size - (FETCHED - NEW), size + NEW)]
        commit_s, _ = timed(lambda: store.commit("bench", store.diff(fetched, "bench")))
        assert len(store) == size + NEW
    return {"file_mb": file_mb, "load_s": load_s, "nochange_ms": nochange_s * 1e3,
            "nochange_writes": nochange_writes, "commit_s": commit_s}


def bench_naive(size: int, root: Path, results: int) -> float:
    """Seconds per fetched result for contains() + insert() on TinyDB's JSONStorage."""
    path = root / f"naive-{size}.json"
    db = TinyDB(path, storage=JSONStorage)
    db.insert_multiple({**realistic(n).to_dict(), "uid": f"pmid:{30000000 + n}"} for n in range(size))
    fetched = [realistic(n) for n in range(size - results // 2, size + results // 2)]
    doc = Query()
    start = time.perf_counter()
    for item in fetched:
        if not db.contains(doc.uid == item.uid):
            db.insert({**item.to_dict(), "uid": item.uid})
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed / results


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="litwatch-bench-"))
    try:
        print(f"diff + commit of {FETCHED} fetched results ({NEW} new), items ~2 KB")
        print(f"{'store':>8} {'file MB':>8} {'load s':>7} {'no-change ms':>13} {'writes':>7} {'commit s':>9}")
        ours = {}
        for size in SIZES:
            r = ours[size] = bench_ours(size, root)
            print(f"{size:>8} {r['file_mb']:>8.1f} {r['load_s']:>7.2f} {r['nochange_ms']:>13.1f} "
                  f"{r['nochange_writes']:>7} {r['commit_s']:>9.2f}")
        per_result_ours = ours[10_000]["commit_s"] / FETCHED
        naive = bench_naive(10_000, root, results=20)
        print(f"naive contains()+insert() at 10k: {naive * 1e3:.0f} ms per result (20 results timed)")
        print(f"ours at 10k: {per_result_ours * 1e3:.2f} ms per result -> {naive / per_result_ours:.0f}x faster")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak_mb:.0f} MB")
        big = ours[100_000]
        print("targets: no-change@100k <= 50 ms and 0 writes: "
              f"{'met' if big['nochange_ms'] <= 50 and big['nochange_writes'] == 0 else 'MISSED'}; "
              f"commit@100k <= 2 s: {'met' if big['commit_s'] <= 2 else 'MISSED'}; "
              f">= 100x naive@10k: {'met' if naive / per_result_ours >= 100 else 'MISSED'}; "
              f"load@100k <= 3 s: {'met' if big['load_s'] <= 3 else 'MISSED'}; "
              f"peak RSS <= 1 GB: {'met' if peak_mb <= 1024 else 'MISSED'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
