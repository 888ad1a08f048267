"""Simulated screening, as ASReview measures it: how much reading the ranked queue saves.

Each run starts from one random include and one random exclude, then repeats: retrain the
ranker (bot/ranker.py) on every decision so far, take the top 10 undecided records, decide
them from their labels. A record's score always comes from a model that has not seen its
label; but the ranker's settings were tuned on the first sets (printed apart as tuned-on), and
only the sets never used to choose anything give figures out of sample. Side by side with
screening in random order, over several seeds.

Printed per labelled set: WSS@95 (work saved over random reading at 95% recall: the share of
records left unread when 95% of the includes are found, minus 0.05), and recall after 10%,
25% and 50% of the records are screened. Then the time to retrain and rank at 1k and 10k
records: building the TF-IDF features too (what one `litwatch screen` does), on features
already built, and through rank() with the feature cache a long-running daemon keeps.

Sets, built from data read in place (never copied into the repository). The ranker's
settings (STRUCTURED_WEIGHT, L2) were chosen on the first three, so their figures are
in-sample:
- ADE corpus (../shared/data/ade-corpus-v2): MEDLINE case reports; include = a drug-related
  adverse effect of the kidney (the annotators' relations name renal failure, nephritis, ...).
- ADE corpus, include = a drug-related adverse effect of an antipsychotic.
- The hand-labelled PubMed / ClinicalTrials.gov set (bench/eval/labels-*.csv, records read
  from ../shared/fixtures): include = kind clinical.
Never used to choose any setting: their inclusion rules (LIVER, SKIN, ANTIBIOTIC below) were
written and committed before the bench first ran on them, and nothing was changed after:
- ADE corpus, include = a drug-related adverse effect of the liver (the effect names
  hepatitis, hepatotoxicity, jaundice, cholestasis, liver failure, raised transaminases...);
- ADE corpus, include = a drug-related adverse effect of the skin (rash, dermatitis,
  urticaria, pruritus, Stevens-Johnson syndrome, toxic epidermal necrolysis, alopecia...);
- ADE corpus, include = an adverse effect of an antibacterial drug (penicillins,
  cephalosporins, carbapenems, quinolones, tetracyclines, macrolides, aminoglycosides,
  sulphonamides, antituberculous drugs...; antitumour "antibiotics" such as bleomycin are not).

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
# The never-tuned sets' rules: on the annotated effect (LIVER, SKIN) or drug (ANTIBIOTIC) of
# any relation of the record. Written before the first run on them; not to be edited.
LIVER = re.compile(r"hepat|liver|jaundice|icter|cholesta|transaminase|aminotransferase|hyperbilirubin", re.I)
SKIN = re.compile(
    r"rash|dermat|urticar|prurit|\bitch|erythem|exanthem|stevens|epidermal|skin|cutaneous|pustul|"
    r"psoria|eczem|alopecia|hair loss|photosensitiv|bullous|pemphig|acne|lichen|angioedema|"
    r"hyperpigment|hypopigment|blister|eruption|exfoliat|mucocutaneous", re.I)
ANTIBIOTIC = re.compile(
    r"cillin|\bcef|\bceph|penem\b|floxacin|cycline\b|mycin\b|micin\b|amikacin|sulfamethoxazole|"
    r"sulphamethoxazole|trimethoprim|trimoxazole|teicoplanin|linezolid|metronidazole|tinidazole|"
    r"nitrofurantoin|chloramphenicol|rifamp|rifabutin|isoniazid|ethambutol|pyrazinamide|dapsone|"
    r"clofazimine|colistin|polymyxin|aztreonam|fosfomycin|fusidic|nalidixic|antibiotic|antibacterial|"
    r"antitubercul|sulfadiazine|sulfonamide|ethionamide|cycloserine|clavulan|tazobactam|sulbactam", re.I)
NOT_ANTIBACTERIAL = re.compile(
    r"bleomycin|mitomycin|actinomycin|daunomycin|plicamycin|mithramycin|rapamycin|ascomycin|streptozo", re.I)


@dataclass(frozen=True)
class LabelledSet:
    name: str
    docs: list[dict[str, Any]]
    labels: np.ndarray  # 1 include, 0 exclude
    tuned_on: bool = True  # the ranker's settings were chosen on it: its figures are in-sample


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


def ade_set(name: str, docs: list[dict[str, Any]], rule: Callable[[Sequence[Any]], bool], *,
            tuned_on: bool = True) -> LabelledSet:  # fmt: skip
    return LabelledSet(name, docs, np.array([int(rule(d["relations"])) for d in docs]), tuned_on)


def never_tuned_sets(docs: list[dict[str, Any]]) -> list[LabelledSet]:
    """The ADE sets no setting was chosen on (rules written before their first run)."""
    def antibacterial(drug: str) -> bool:
        return bool(ANTIBIOTIC.search(drug)) and not NOT_ANTIBACTERIAL.search(drug)

    return [
        ade_set("ADE corpus, include = drug-related liver harm", docs,
                lambda rel: any(LIVER.search(effect) for _, effect, _ in rel), tuned_on=False),
        ade_set("ADE corpus, include = drug-related skin harm", docs,
                lambda rel: any(SKIN.search(effect) for _, effect, _ in rel), tuned_on=False),
        ade_set("ADE corpus, include = harm of an antibacterial drug", docs,
                lambda rel: any(antibacterial(drug) for _, _, drug in rel), tuned_on=False),
    ]


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
        if size == 10_000:
            print(f"         a whole `litwatch screen --next 10` process on that store file (start, "
                  f"imports, reading the store, ranking): {whole_command(store, decisions):.3f} s")


def whole_command(docs: Sequence[Mapping[str, Any]], decisions: Mapping[str, int]) -> float:
    """Median of 3 wall-clock runs of `litwatch screen` in a new process on a store of `docs`."""
    import subprocess
    import tempfile
    from datetime import UTC, datetime

    from bot.decisions import Decision, Reviewer
    from bot.models import Classification, Item
    from bot.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        items = []
        for d in docs:
            item = Item(source="pubmed", id=d["uid"].split(":", 1)[1], title=d["title"], abstract=d["abstract"])
            label = d["classification"]
            item.classification = Classification(label["kind"], safety=label["safety"])
            items.append(item)
        at, by = datetime(2026, 11, 2, tzinfo=UTC), Reviewer("cli", "bench")
        with Store.open(tmp) as store:
            store.commit("pm", store.diff(items, "pm"), now=at)
            store.record_decisions([Decision(uid, "include" if y else "exclude", by, at)
                                    for uid, y in decisions.items()])
        config = Path(tmp) / "litwatch.toml"
        config.write_text('[slack]\nchannel = "C1"\n\n[[queries]]\nname = "pm"\nsource = "pubmed"\n'
                          'term = "x"\n', encoding="utf-8")
        env = {**os.environ, "LITWATCH_DATA": tmp, "LITWATCH_CONFIG": str(config)}
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "bot", "screen", "--next", "10", "--json"], env=env,
                           check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


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
    tuned = [d for d in sets if d.tuned_on]
    print("\n== Sets the ranker's settings were chosen on (STRUCTURED_WEIGHT, L2): in-sample figures")
    print("   " + ("; ".join(d.name for d in tuned) or "none found"))
    for data in tuned:
        report(data, args.seeds)
    fresh = never_tuned_sets(docs) if docs else []
    print("\n== Sets never used to choose any setting (rules written before their first run): out of sample")
    if not fresh:
        print("   skipped: they need the ADE corpus")
    for data in fresh:
        report(data, args.seeds)
    if sets:
        timing(docs or sets[-1].docs, sets[0].labels)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
