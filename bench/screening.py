"""Simulated screening, as ASReview measures it: how much reading the ranked queue saves.

Each run starts from one random include and one random exclude, then repeats: retrain the
ranker (bot/ranker.py) on every decision so far, take the top 10 undecided records, decide
them from their labels. Every figure is out of sample: a record's score comes from a model
that has not seen its label. Side by side with screening in random order, over several seeds.

Printed per labelled set: WSS@95 (work saved over random reading at 95% recall: the share of
records left unread when 95% of the includes are found, minus 0.05), and recall after 10%,
25% and 50% of the records are screened. Then the time to retrain and rank at 1k and 10k
records: building the TF-IDF features too (what one `litwatch screen` does), on features
already built, and through rank() with the feature cache a long-running daemon keeps.

Sets, built from data read in place (never copied into the repository):
- ADE corpus (../shared/data/ade-corpus-v2): MEDLINE case reports; include = a drug-related
  adverse effect of the kidney (the annotators' relations name renal failure, nephritis, ...).
- ADE corpus, include = a drug-related adverse effect of an antipsychotic.
- The hand-labelled PubMed / ClinicalTrials.gov set (bench/eval/labels-*.csv, records read
  from ../shared/fixtures): include = kind clinical.

    .venv/bin/python bench/screening.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.classify import Classifier  # noqa: E402
from bot.ranker import FeatureCache, Features, rank, retrain, tokens  # noqa: E402

SHARED = ROOT.parent / "shared"
ADE = Path(os.environ.get("LITWATCH_ADE") or SHARED / "data" / "ade-corpus-v2" / "documents.jsonl")
BATCH = 10
KIDNEY = re.compile(r"renal|nephr|kidney|glomerul|tubul|uremi|azotemi|creatinine", re.I)
_ANTIPSYCHOTIC_WORDS = (
    "olanzapine clozapine risperidone haloperidol quetiapine aripiprazole ziprasidone paliperidone "
    "chlorpromazine fluphenazine perphenazine thioridazine amisulpride sulpiride zotepine "
    "flupenthixol zuclopenthixol pimozide loxapine trifluoperazine levomepromazine asenapine "
    "lurasidone sertindole neuroleptic neuroleptics antipsychotic antipsychotics"
)
ANTIPSYCHOTICS = frozenset(_ANTIPSYCHOTIC_WORDS.split())


@dataclass(frozen=True)
class LabelledSet:
    name: str
    docs: list[dict[str, Any]]
    labels: np.ndarray  # 1 include, 0 exclude


def ade_docs() -> list[dict[str, Any]]:
    records = [json.loads(line) for line in ADE.read_text(encoding="utf-8").splitlines() if line.strip()]
    classify = Classifier().classify
    docs = []
    for r in records:
        sentences = r["positive_sentences"] + r["negative_sentences"]
        # The corpus keeps no title field; its shortest sentence is usually the title.
        title = min(sentences, key=len) if sentences else ""
        from bot.models import Item

        item = Item(source="pubmed", id=r["pmid"], title=title,
                    abstract=" ".join(s for s in sentences if s is not title))
        doc = {**item.to_dict(), "uid": item.uid, "relations": r["relations"]}
        doc["classification"] = _label(classify(item))
        docs.append(doc)
    return docs


def _label(c: Any) -> dict[str, Any]:
    return {"kind": c.kind, "safety": c.safety, "integrity": c.integrity, "reasons": list(c.reasons)}


def ade_set(name: str, docs: list[dict[str, Any]], rule: Callable[[Sequence[Any]], bool]) -> LabelledSet:
    return LabelledSet(name, docs, np.array([int(rule(d["relations"])) for d in docs]))


def eval_set() -> LabelledSet | None:
    try:
        from classify import load_set  # bench/classify.py: its loader needs the model extras
    except ImportError as exc:
        print(f"labelled PubMed set skipped: {exc} (pip install -e '.[model]')")
        return None

    records, _ = load_set()
    if not records:
        return None
    classify = Classifier().classify
    docs = []
    for r in records:
        doc = {**r.item.to_dict(), "uid": r.item.uid}
        doc["classification"] = _label(classify(r.item))
        docs.append(doc)
    return LabelledSet("PubMed/CT.gov eval set, include = clinical", docs,
                       np.array([int(r.kind == "clinical") for r in records]))


def simulate(x: Features | None, labels: np.ndarray, seed: int) -> list[int]:
    """The order records are read in (indices): active learning, or random when x is None."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    if x is None:
        return [int(i) for i in rng.permutation(n)]
    first = [int(rng.choice(np.flatnonzero(labels == 1))), int(rng.choice(np.flatnonzero(labels == 0)))]
    read = list(first)
    seen = np.zeros(n, dtype=bool)
    seen[read] = True
    total = int(labels.sum())
    while len(read) < n:
        if len(read) >= n // 2 and int(labels[np.array(read)].sum()) == total:
            # Every include found and half read: the rest of the order changes no figure printed.
            read.extend(int(i) for i in np.flatnonzero(~seen))
            break
        rows = np.array(read, dtype=np.int64)
        scores = retrain(x, rows, labels[rows].astype(np.float64))
        scores[seen] = -np.inf
        batch = np.argsort(-scores, kind="stable")[: min(BATCH, n - len(read))]
        read.extend(int(i) for i in batch)
        seen[batch] = True
    return read


def metrics(order: Sequence[int], labels: np.ndarray) -> dict[str, float]:
    found = np.cumsum(labels[np.asarray(order)])
    total, n = int(labels.sum()), len(labels)
    at95 = int(np.searchsorted(found, int(np.ceil(0.95 * total)))) + 1
    out = {"wss95": (n - at95) / n - 0.05}
    for share in (0.10, 0.25, 0.50):
        out[f"recall@{int(share * 100)}%"] = float(found[max(round(share * n) - 1, 0)]) / total
    return out


def report(data: LabelledSet, seeds: int) -> None:
    n, pos = len(data.labels), int(data.labels.sum())
    print(f"\n{data.name}: {n} records, {pos} includes ({pos / n:.1%})")
    counts = [tokens(d) for d in data.docs]
    variants: dict[str, Features | None] = {
        "ranker (as shipped)": Features(counts),
        "ranker, words only (no classifier labels)": Features(counts, structured=0.0),
        "random order": None,
    }
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for seed in range(seeds):
        for name, x in variants.items():
            rows[name].append(metrics(simulate(x, data.labels, seed), data.labels))
    keys = list(next(iter(rows.values()))[0])
    print(f"  {'':44}" + "".join(f"{k:>14}" for k in keys))
    for label, runs in rows.items():
        cells = []
        for k in keys:
            values = [r[k] for r in runs]
            cells.append(f"{np.mean(values):>8.3f}±{np.std(values):.2f}".rjust(14))
        print(f"  {label:44}" + "".join(cells))
    print(f"  (mean ± standard deviation over {seeds} seeds)")


def timing(docs: list[dict[str, Any]], labels: np.ndarray) -> None:
    print("\nretrain + rank time (median of 5; wall clock, this machine shared with other jobs):")
    rng = np.random.default_rng(0)
    for size in (1_000, 10_000):
        pick = rng.integers(0, len(docs), size)
        store = [{**docs[i], "uid": f"pmid:{k}"} for k, i in enumerate(pick)]
        decided = rng.choice(size, size // 10, replace=False)
        decisions: Mapping[str, int] = {store[i]["uid"]: int(labels[pick[i]]) for i in decided}
        full = []
        for _ in range(5):
            start = time.perf_counter()
            rank(store, decisions)
            full.append(time.perf_counter() - start)
        x = Features(tokens(d) for d in store)
        rows = np.array(sorted(decided), dtype=np.int64)
        y = labels[pick[rows]].astype(np.float64)
        warm = []
        for _ in range(5):
            start = time.perf_counter()
            scores = retrain(x, rows, y)
            np.argsort(-scores)
            warm.append(time.perf_counter() - start)
        cache = FeatureCache()
        rank(store, decisions, cache)
        cached = []
        for k in range(5):  # one more decision each time, as a reviewer screening in Slack
            more = {**decisions, store[k]["uid"]: 1}
            start = time.perf_counter()
            rank(store, more, cache)
            cached.append(time.perf_counter() - start)
        print(f"  {size:>6} records, {len(decided)} decisions: features + retrain + rank "
              f"{np.median(full):.3f} s; retrain + rank on built features {np.median(warm):.3f} s; "
              f"rank() with the daemon's feature cache {np.median(cached):.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    sets: list[LabelledSet] = []
    docs: list[dict[str, Any]] = []
    if ADE.exists():
        docs = ade_docs()
        sets.append(ade_set("ADE corpus, include = drug-related kidney harm", docs,
                            lambda rel: any(KIDNEY.search(effect) for _, effect, _ in rel)))
        sets.append(ade_set("ADE corpus, include = harm of an antipsychotic", docs,
                            lambda rel: any(set(drug.lower().split()) & ANTIPSYCHOTICS for _, _, drug in rel)))
    else:
        print(f"ADE corpus not found at {ADE}: its sets are skipped")
    labelled = eval_set()
    if labelled is not None:
        sets.append(labelled)
    else:
        print("labelled PubMed set: fixtures not found (set LITWATCH_FIXTURES): skipped")
    for data in sets:
        report(data, args.seeds)
    if sets:
        timing(docs or sets[-1].docs, sets[0].labels)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
