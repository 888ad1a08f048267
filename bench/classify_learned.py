"""Would a small learned model beat the rules? Logistic regression on held-out folds.

Features: hashed words and word pairs of title and abstract, plus publication types, MeSH
qualifiers and the source. One-vs-rest logistic regression (numpy, L2, full-batch gradient
descent) for kind, a binary one for safety. Stratified 5-fold cross-validation, three
seeds; every record is scored by a model that never saw it. The rules need no training, so
their held-out score is their score on the whole set.

    .venv/bin/python bench/classify_learned.py
"""

from __future__ import annotations

import itertools
import re
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classify import KINDS, Labelled, load_set, score

from bot.classify import Classifier
from bot.models import Item

DIM = 2**12
WORD = re.compile(r"[a-z][a-z0-9-]+")


def features(item: Item) -> list[str]:
    words = WORD.findall(f"{item.title} {item.abstract}".lower())
    tokens = words + [f"{a}_{b}" for a, b in itertools.pairwise(words)]
    tokens += [f"PT={p}" for p in item.publication_types]
    tokens += [f"Q={q}" for m in item.mesh for q in m.qualifiers]
    tokens += [f"SRC={item.source}", f"ABSTRACT={bool(item.abstract)}"]
    return tokens


def matrix(items: Sequence[Item]) -> np.ndarray:
    x = np.zeros((len(items), DIM), dtype=np.float32)
    for row, item in enumerate(items):
        for token in features(item):
            x[row, zlib.crc32(token.encode()) % DIM] = 1.0
        norm = np.linalg.norm(x[row])
        if norm:
            x[row] /= norm
    return x


def train(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, steps: int = 300,
          rate: float = 20.0) -> np.ndarray:
    """Weights (bias last) of a class-balanced logistic regression."""
    xb = np.hstack([x, np.ones((len(x), 1), dtype=np.float32)])
    w = np.zeros(xb.shape[1], dtype=np.float32)
    pos = max(1, int(y.sum()))
    weight = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * max(1, len(y) - pos)))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        penalty = l2 * w
        penalty[-1] = 0.0  # the bias is not shrunk
        w -= rate * (xb.T @ ((p - y) * weight) / len(y) + penalty)
    return w


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1), dtype=np.float32)]) @ w


def folds(labels: Sequence[str], k: int, seed: int) -> list[np.ndarray]:
    """Stratified: each class spread evenly over the k folds."""
    rng = np.random.default_rng(seed)
    out: list[list[int]] = [[] for _ in range(k)]
    for value in sorted(set(labels)):
        idx = [i for i, v in enumerate(labels) if v == value]
        rng.shuffle(idx)
        for n, i in enumerate(idx):
            out[n % k].append(i)
    return [np.array(sorted(f)) for f in out]


def cross_validate(records: Sequence[Labelled], seed: int, k: int = 5) -> tuple[list[str], list[bool]]:
    x = matrix([r.item for r in records])
    kinds = [r.kind for r in records]
    safety = np.array([r.safety for r in records], dtype=np.float32)
    got_kind = [""] * len(records)
    got_safety = [False] * len(records)
    strata = [f"{r.kind}/{r.safety}" for r in records]
    for test in folds(strata, k, seed):
        trainset = np.setdiff1d(np.arange(len(records)), test)
        scores = []
        for kind in KINDS:
            y = np.array([kinds[i] == kind for i in trainset], dtype=np.float32)
            scores.append(predict(train(x[trainset], y), x[test]))
        best = np.argmax(np.vstack(scores), axis=0)
        s = predict(train(x[trainset], safety[trainset]), x[test])
        for j, i in enumerate(test):
            got_kind[i] = KINDS[best[j]]
            got_safety[i] = bool(s[j] > 0)
    return got_kind, got_safety


def summary(name: str, records: Sequence[Labelled], kinds: Sequence[str],
            safety: Sequence[bool]) -> float:
    expected = [r.kind for r in records]
    per = {k: score(expected, kinds, k) for k in KINDS}
    macro = sum(s.f1 for s in per.values()) / len(per)
    s = score([r.safety for r in records], safety, True)
    cells = "  ".join(f"{k} P {v.precision:.2f} R {v.recall:.2f}" for k, v in per.items())
    print(f"{name:22} macro-F1 {macro:.3f}  {cells}  safety P {s.precision:.2f} "
          f"R {s.recall:.2f}")
    return macro


def main() -> int:
    records, _ = load_set()
    rules = Classifier()
    got = [rules.classify(r.item) for r in records]
    print(f"{len(records)} labelled records; stratified 5-fold cross-validation\n")
    rule_macro = summary("rules", records, [g.kind for g in got], [g.safety for g in got])
    learned = []
    for seed in (1, 2, 3):
        kinds, safety = cross_validate(records, seed)
        learned.append(summary(f"logistic, seed {seed}", records, kinds, safety))
    mean = sum(learned) / len(learned)
    verdict = "rules win" if rule_macro >= mean else "the learned model wins"
    print(f"\nheld-out macro-F1 (kind): rules {rule_macro:.3f}, logistic regression {mean:.3f} "
          f"(mean of 3 seeds): {verdict} by {abs(rule_macro - mean):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
