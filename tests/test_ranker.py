"""The screening ranker: classifier order before decisions, a model of the team's after."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bot.ranker import FeatureCache, Features, prior, rank, retrain, tokens


def doc(n: int, title: str, abstract: str = "", *, kind: str = "other", safety: bool = False,
        published: str = "2025-01-01") -> dict[str, Any]:  # fmt: skip
    return {"uid": f"pmid:{n}", "source": "pubmed", "title": title, "abstract": abstract,
            "published": published, "first_seen": "2026-01-01T00:00:00+00:00",
            "classification": {"kind": kind, "safety": safety, "reasons": []}}


def invented_set() -> tuple[list[dict[str, Any]], set[str]]:
    """40 records: 10 about scalp exosome injections (wanted), 30 about other things."""
    wanted = [doc(i, f"Exosome injections for androgenetic alopecia, cohort {i}",
                  "Scalp exosome injections increased hair density in patients with alopecia.")
              for i in range(10)]
    topics = ["statin myopathy in older adults", "knee arthroplasty outcomes", "asthma inhaler adherence",
              "sepsis fluid resuscitation", "migraine prophylaxis with beta blockers",
              "dental implant survival"]
    others = [doc(100 + i, f"{topics[i % len(topics)].capitalize()}, report {i}",
                  f"We studied {topics[i % len(topics)]} in a cohort of patients.", kind="clinical")
              for i in range(30)]
    return wanted + others, {d["uid"] for d in wanted}


def test_before_decisions_safety_then_kind_then_recency() -> None:
    """Without an include and an exclude: safety signals first, then clinical, case report, other; newest first."""
    docs = [doc(1, "other", kind="other"), doc(2, "old clinical", kind="clinical", published="2020"),
            doc(3, "new clinical", kind="clinical", published="2024"), doc(4, "case", kind="case_report"),
            doc(5, "harm", kind="other", safety=True)]
    ranked = rank(docs, {"pmid:1": 1})  # a lone include is nothing to learn from
    assert [r.uid for r in ranked] == ["pmid:5", "pmid:3", "pmid:2", "pmid:4", "pmid:1"]
    assert {r.basis for r in ranked} == {"classifier"}
    assert ranked[0].score == prior(docs[4]) == 0.6


def test_ranking_improves_with_decisions() -> None:
    """One include and one exclude lift the wanted records above the rest they were mixed into."""
    docs, wanted = invented_set()
    before = rank(docs, {})
    hits_before = sum(r.uid in wanted for r in before[:10])
    after = rank(docs, {"pmid:0": 1, "pmid:100": 0})
    undecided = [r for r in after if r.uid not in ("pmid:0", "pmid:100")]
    assert hits_before == 0  # the classifier put the clinical "other topics" first
    assert {r.uid for r in undecided[:9]} == wanted - {"pmid:0"}
    assert {r.basis for r in after} == {"model"}


def test_the_queue_follows_what_the_team_includes() -> None:
    """The same records, opposite decisions: including statin papers and excluding exosome ones
    puts the statin papers first."""
    docs, wanted = invented_set()
    statins = {d["uid"] for d in docs if "statin" in d["title"].lower()}
    ranked = rank(docs, {"pmid:100": 1, "pmid:0": 0, "pmid:1": 0})
    undecided = [r.uid for r in ranked if r.uid not in ("pmid:100", "pmid:0", "pmid:1")]
    assert set(undecided[: len(statins) - 1]) == statins - {"pmid:100"}
    assert set(undecided[-8:]) == wanted - {"pmid:0", "pmid:1"}


def test_features_rows_are_tf_idf_unit_vectors_with_structured_features_beside() -> None:
    """Word weights of a row have unit length; kind/flag features carry the fixed weight."""
    docs, _ = invented_set()
    x = Features([tokens(d) for d in docs], structured=0.5)
    dense = np.zeros((x.n, x.dim))
    dense[x.rows, x.cols] = x.data
    structured = dense == 0.5
    words = np.where(structured, 0.0, dense)
    assert np.allclose(np.linalg.norm(words, axis=1), 1.0)
    assert (structured.sum(axis=1) == 2).all()  # kind= and source=
    v = np.arange(x.dim, dtype=np.float64)
    assert np.allclose(x.dot(v), dense @ v)
    assert np.allclose(x.tdot(np.ones(x.n)), dense.sum(axis=0))


def test_retrain_on_a_subset_scores_every_row() -> None:
    """A model fitted on labelled rows gives the held-out wanted rows the top scores."""
    docs, wanted = invented_set()
    x = Features([tokens(d) for d in docs])
    rows = np.array([0, 1, 10, 11, 12], dtype=np.int64)
    scores = retrain(x, rows, np.array([1.0, 1.0, 0.0, 0.0, 0.0]))
    held_out = [i for i in range(len(docs)) if i not in rows]
    top = sorted(held_out, key=lambda i: -scores[i])[:8]
    assert {docs[i]["uid"] for i in top} == wanted - {"pmid:0", "pmid:1"}
    assert ((scores > 0) & (scores < 1)).all()


def test_an_empty_store_ranks_to_nothing() -> None:
    """No records, no queue (and no error)."""
    assert rank([], {"pmid:1": 1, "pmid:2": 0}) == []


def test_a_feature_cache_ranks_the_same_and_rebuilds_only_on_change() -> None:
    """With a cache: same order as without; new decisions reuse the features, a changed record rebuilds them."""
    docs, _ = invented_set()
    cache = FeatureCache()
    labels = {"pmid:0": 1, "pmid:100": 0}
    assert rank(docs, labels, cache) == rank(docs, labels)
    rank(docs, {**labels, "pmid:1": 1}, cache)
    assert cache.builds == 1
    docs[5] = {**docs[5], "abstract": docs[5]["abstract"] + " Changed."}
    rank(docs, labels, cache)
    assert cache.builds == 2


@pytest.mark.parametrize("change", [
    {"keywords": ["new keyword"]}, {"mesh": [{"descriptor": "Alopecia"}]},
    {"publication_types": ["Review"]}, {"classification": {"kind": "other", "possible_safety": True}},
    {"trial": {"conditions": ["alopecia"]}}, {"source": "feeds"},
])  # fmt: skip
def test_the_feature_cache_rebuilds_when_any_field_the_features_read_changes(change: dict) -> None:
    """Not only text: keywords, MeSH, types, trial fields, labels and source are in the key too."""
    docs, _ = invented_set()
    cache = FeatureCache()
    cache.get(docs)
    cache.get([{**docs[0], "fingerprint": "other", "first_seen": "2020"}, *docs[1:]])
    assert cache.builds == 1  # fields the features do not read
    cache.get([{**docs[0], **change}, *docs[1:]])
    assert cache.builds == 2


def test_examples_outside_the_store_teach_the_model_and_are_not_ranked() -> None:
    """An included and an excluded study litwatch never stored are enough to learn from."""
    docs, wanted = invented_set()
    examples = [({"uid": "example:a", "title": "Exosome injections for alopecia",
                  "abstract": "Scalp exosome injections and hair density."}, 1),
                ({"uid": "example:b", "title": "Sepsis fluid resuscitation",
                  "abstract": "We studied sepsis fluid resuscitation in a cohort of patients."}, 0)]
    ranked = rank(docs, {}, examples=examples)
    assert {r.basis for r in ranked} == {"model"}
    assert len(ranked) == len(docs)
    assert {r.uid for r in ranked[:10]} == wanted


def test_before_decisions_the_safety_score_orders_records_of_one_kind() -> None:
    """Unflagged records of one kind: a higher safety score comes first."""
    low, high = doc(1, "a", kind="clinical"), doc(2, "b", kind="clinical")
    high["classification"]["safety_score"] = 0.4
    assert [r.uid for r in rank([low, high], {})] == ["pmid:2", "pmid:1"]
    assert rank([high], {})[0].score == 0.64
