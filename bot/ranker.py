"""Rank records for screening: TF-IDF and a logistic regression retrained on the team's decisions.

Pure (numpy only, nothing on disk): the model is rebuilt from the stored decisions every time
it is asked, which on a 10,000-item store takes a fraction of a second (bench/screening.py).
Before the team has decided at least one include and one exclude there is nothing to learn
from, so records are ordered by what the classifier said (its safety score, a flagged signal
counting as 1, then clinical study or case report over other) and then by recency.

What the model sees of a record: the words of its title and abstract, its
keywords, MeSH descriptors, publication types, trial conditions and interventions, and the
classifier's labels (`kind=clinical`, `safety`), so it can learn that a team wants, say, case
reports of harm and no reviews. Maybe decisions are not learned from: they await a second look.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import orjson

Basis = Literal["model", "classifier"]
# Everything but ASCII letters and digits splits words (str.translate: ~8x faster than a regex).
_SPLIT = {c: " " for c in range(128) if not chr(c).isalnum()}
# Function words carry no topic; dropping them keeps the vocabulary and word pairs meaningful.
_STOP_WORDS = (
    "the of and in to a with for was were is are on by as at from or an be this that these we "
    "after than which not no has have had been between during our its their can may"
)
STOP = frozenset(_STOP_WORDS.split())
_DROP = STOP | frozenset("abcdefghijklmnopqrstuvwxyz0123456789")  # and single characters
KIND_PRIOR = {"clinical": 1.0, "case_report": 0.75, "other": 0.0}
L2 = 1e-3  # ridge on the weights; chosen on bench/screening.py's tuned-on sets (never its out-of-sample ones)
# Structured features (`name=value`: kind, flags, MeSH, publication types) are not diluted by a
# long abstract: each weighs this much beside the unit-length word vector. Chosen on
# bench/screening.py's tuned-on sets, not its never-tuned ones (0.2, 0.3 and 0.5 tried): on
# the labelled PubMed set WSS@95 rises from 0.34 with words alone to 0.75; on the ADE kidney set
# 0.5 cost 0.1 of WSS, 0.2 about 0.02.
STRUCTURED_WEIGHT = 0.2
STEPS = 120


@dataclass(frozen=True)
class Ranked:
    """A record's place in the queue: its score (0-1) and what produced it."""

    uid: str
    score: float
    basis: Basis


def tokens(doc: Mapping[str, Any]) -> Counter[str]:
    """The features of one stored record, with their counts (stop words are dropped later, per
    term of the vocabulary rather than per word of every abstract)."""
    words = f"{doc.get('title') or ''} {doc.get('abstract') or ''}".lower().translate(_SPLIT).split()
    words += [f"kw={k.lower()}" for k in doc.get("keywords") or ()]
    words += [f"mesh={m.get('descriptor', '').lower()}" for m in doc.get("mesh") or ()]
    words += [f"pt={p.lower()}" for p in doc.get("publication_types") or ()]
    trial = doc.get("trial")
    if trial:
        words += [f"cond={c.lower()}" for c in trial.get("conditions") or ()]
        words += [f"intv={i.lower()}" for i in trial.get("interventions") or ()]
    label = doc.get("classification") or {}
    words.append(f"kind={label.get('kind', 'other')}")
    if label.get("safety"):
        words.append("flag=safety")
    if label.get("possible_safety"):
        words.append("flag=possible_safety")
    words.append(f"source={doc.get('source', '')}")
    return Counter(words)


def prior(doc: Mapping[str, Any]) -> float:
    """The cold-start score (0-1): the classifier's safety score (1 when flagged) weighs 0.6, its
    kind 0.4, so a flagged record of any kind comes before an unflagged clinical study."""
    label = doc.get("classification") or {}
    try:
        harm = max(float(bool(label.get("safety"))), min(max(float(label.get("safety_score") or 0.0), 0.0), 1.0))
    except (TypeError, ValueError):  # a score of the wrong type in an old or hand-edited store
        harm = float(bool(label.get("safety")))
    return round(0.6 * harm + 0.4 * KIND_PRIOR.get(str(label.get("kind")), 0.0), 6)


def recency(doc: Mapping[str, Any]) -> str:
    """What "newest" means for ordering: the record's date, then when litwatch first saw it."""
    return f"{doc.get('published') or ''}|{doc.get('first_seen') or ''}"


class Features:
    """Rows of L2-normalised TF-IDF word vectors (sublinear tf), each structured feature
    (a token with "=") beside them at `structured`, in compressed sparse row arrays."""

    def __init__(self, token_counts: Iterable[Mapping[str, int]], *, structured: float = STRUCTURED_WEIGHT):
        vocab: dict[str, int] = {}
        first_seen = itertools.count()  # a term's id: its position when first met (C-speed map)
        flat: list[int] = []
        tf: list[int] = []
        lengths: list[int] = []
        for counts in token_counts:
            flat.extend(map(vocab.setdefault, counts, first_seen))
            tf.extend(counts.values())
            lengths.append(len(counts))
        self.n = len(lengths)
        self.dim = max(len(vocab), 1)
        dense = np.zeros(max(len(flat), 1), dtype=np.int64)
        dense[np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))] = np.arange(len(vocab))
        self.cols = dense[np.asarray(flat, dtype=np.int64)]
        self.rows = np.repeat(np.arange(self.n, dtype=np.int64), lengths)
        term_counts = np.asarray(tf, dtype=np.float64)
        df = np.bincount(self.cols, minlength=self.dim)
        idf = np.log((1 + self.n) / (1 + df)) + 1.0
        data = (1.0 + np.log(term_counts)) * idf[self.cols]
        # Term ids follow first appearance, as the vocabulary's keys do.
        marked = np.fromiter(("=" in term for term in vocab), dtype=bool, count=len(vocab))[self.cols]
        dropped = np.fromiter((term in _DROP for term in vocab), dtype=bool, count=len(vocab))[self.cols]
        data[marked | dropped] = 0.0
        norms = np.sqrt(np.bincount(self.rows, weights=data * data, minlength=self.n))
        self.data = data / np.where(norms > 0, norms, 1.0)[self.rows]
        self.data[marked] = structured
        self.indptr = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])

    def subset(self, rows: np.ndarray) -> tuple[Features, np.ndarray]:
        """The given rows, in that order, over only the terms they contain; and those terms'
        columns in the full matrix (a model of the subset has no weight on any other term)."""
        sub = object.__new__(Features)
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        take = np.arange(offsets[-1]) - np.repeat(offsets[:-1] - starts, lengths)
        used, sub.cols = np.unique(self.cols[take], return_inverse=True)
        sub.n, sub.dim = len(rows), max(len(used), 1)
        sub.rows = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        sub.data = self.data[take]
        sub.indptr = offsets
        return sub, used

    def dot(self, w: np.ndarray) -> np.ndarray:
        """X @ w."""
        return np.bincount(self.rows, weights=self.data * w[self.cols], minlength=self.n)

    def tdot(self, r: np.ndarray) -> np.ndarray:
        """X.T @ r."""
        return np.bincount(self.cols, weights=self.data * r[self.rows], minlength=self.dim)


def fit(x: Features, y: np.ndarray, *, l2: float = L2, steps: int = STEPS) -> tuple[np.ndarray, float]:
    """Weights and bias of a class-balanced, L2-regularised logistic regression.

    Nesterov-accelerated gradient descent with the step set by the loss's curvature bound
    (a quarter of the largest eigenvalue of X'WX, by power iteration): no line search.
    """
    n_pos = max(int(y.sum()), 1)
    n_neg = max(len(y) - int(y.sum()), 1)
    # Each class carries half the loss, as if both were equally common (includes are rare).
    weight = np.where(y == 1, 0.5 / n_pos, 0.5 / n_neg)
    step = 1.0 / (0.25 * _top_eigenvalue(x, weight) + l2)
    w = np.zeros(x.dim)
    b = 0.0
    w_prev, b_prev = w, b
    for k in range(1, steps + 1):
        momentum = (k - 1) / (k + 2)
        v = w + momentum * (w - w_prev)
        c = b + momentum * (b - b_prev)
        p = 1.0 / (1.0 + np.exp(-(x.dot(v) + c)))
        residual = (p - y) * weight
        w_prev, b_prev = w, b
        w = v - step * (x.tdot(residual) + l2 * v)
        b = c - step * float(residual.sum())
    return w, b


class FeatureCache:
    """The features of the last set of records ranked, rebuilt only when that set changes:
    a record added, removed or reordered, or any field the features read changed (text,
    keywords, MeSH, publication types, trial fields, the classifier's labels, source).

    The key is those fields themselves, serialised (about 20 ms for 10,000 records, a
    tenth of a rebuild), not a revision number some writer might forget to bump."""

    def __init__(self) -> None:
        self._key: bytes | None = None
        self._features: Features | None = None
        self._lock = threading.Lock()  # two commands at once: one builds, the other waits
        self.builds = 0

    def get(self, docs: Sequence[Mapping[str, Any]]) -> Features:
        key = orjson.dumps([_inputs(d) for d in docs])
        with self._lock:
            if self._features is None or key != self._key:
                self._features = Features(tokens(d) for d in docs)
                self._key = key
                self.builds += 1
            return self._features


def _inputs(doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """Every field of a record that `tokens` reads."""
    label = doc.get("classification") or {}
    trial = doc.get("trial") or {}
    return (doc.get("uid"), doc.get("title"), doc.get("abstract"), doc.get("keywords"),
            [m.get("descriptor") for m in doc.get("mesh") or ()], doc.get("publication_types"),
            trial.get("conditions"), trial.get("interventions"), label.get("kind"),
            bool(label.get("safety")), bool(label.get("possible_safety")), doc.get("source"))


def retrain(x: Features, rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fit on the labelled `rows` (labels `y`), then score every row: chance of inclusion."""
    sub, used = x.subset(rows)
    w_sub, b = fit(sub, y)
    w = np.zeros(x.dim)
    w[used] = w_sub
    return 1.0 / (1.0 + np.exp(-(x.dot(w) + b)))


def _top_eigenvalue(x: Features, weight: np.ndarray, rounds: int = 20) -> float:
    v = np.random.default_rng(0).standard_normal(x.dim)
    value = 1.0
    for _ in range(rounds):
        u = x.tdot(weight * x.dot(v))
        value = float(np.linalg.norm(u))
        if value == 0.0:
            return 1.0
        v = u / value
    return value * 1.05  # power iteration approaches from below


def rank(docs: Sequence[Mapping[str, Any]], labels: Mapping[str, int],
         features: FeatureCache | None = None,
         examples: Sequence[tuple[Mapping[str, Any], int]] = ()) -> list[Ranked]:  # fmt: skip
    """Every doc, best first. `labels`: uid -> 1 (include) or 0 (exclude) for decided records.

    `examples` are decided records outside `docs` (doc, 1 or 0): learned from, never ranked.
    `features` keeps the TF-IDF matrix between calls in a long-running process (the daemon):
    decisions change the model, not the features, so screening one record after another
    retrains without re-reading every abstract.
    """
    corpus = [*docs, *(doc for doc, _ in examples)]
    known = [(i, labels[d["uid"]]) for i, d in enumerate(docs) if d["uid"] in labels]
    known += [(len(docs) + k, y) for k, (_, y) in enumerate(examples)]
    learn = {y for _, y in known} == {0, 1}
    priors = [prior(d) for d in docs]
    if learn:
        x = features.get(corpus) if features is not None else Features(tokens(d) for d in corpus)
        scores = retrain(x, np.array([i for i, _ in known], dtype=np.int64),
                         np.array([y for _, y in known], dtype=np.float64))
    else:
        scores = np.array(priors, dtype=np.float64)
    order = sorted(range(len(docs)), key=lambda i: docs[i]["uid"])
    order.sort(key=lambda i: recency(docs[i]), reverse=True)
    order.sort(key=lambda i: (float(scores[i]), priors[i]), reverse=True)
    scores = scores[: len(docs)]
    basis: Basis = "model" if learn else "classifier"
    return [Ranked(docs[i]["uid"], round(float(scores[i]), 4), basis) for i in order]
