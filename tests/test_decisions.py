"""Screening decisions in the store: durable, append-only, idempotent, only on stored records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.decisions import Decision, Reviewer, current, verdict
from bot.errors import StoreLocked, UnknownRecord
from bot.store import Store
from tests.factories import pubmed_item

ALICE = Reviewer("U0ALICE01", "Alice")
BOB = Reviewer("cli:bob", "Bob")
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def decision(n: int, call: str = "include", by: Reviewer = ALICE, reason: str | None = None) -> Decision:
    return Decision(f"pmid:{30000000 + n}", call, by, AT, "cli", reason)  # type: ignore[arg-type]


def filled(data_dir: Path, count: int = 3) -> Store:
    store = Store.open(data_dir)
    store.commit("pm", store.diff([pubmed_item(n) for n in range(1, count + 1)], "pm"))
    return store


def test_decisions_survive_a_restart(data_dir: Path) -> None:
    """A recorded decision is in the file: a new process reading the store sees it, whole."""
    with filled(data_dir) as store:
        store.record_decisions([decision(1, "exclude", reason="wrong population")])
    with Store.open(data_dir, readonly=True) as reopened:
        assert reopened.decision_history() == [decision(1, "exclude", reason="wrong population")]
        assert reopened.current_decisions()["pmid:30000001"].by == ALICE


def test_a_repeated_decision_is_recorded_once(data_dir: Path) -> None:
    """The same call by the same person twice (a double click) adds nothing and writes nothing."""
    with filled(data_dir) as store:
        assert store.record_decisions([decision(1)]) == [decision(1)]
        writes = store.file_writes
        assert store.record_decisions([decision(1)]) == []
        assert store.file_writes == writes
        assert len(store.decision_history("pmid:30000001")) == 1


def test_changing_ones_mind_keeps_the_history_and_the_latest_counts(data_dir: Path) -> None:
    """Include then exclude: both are kept, in order; the current decision is the exclusion."""
    with filled(data_dir) as store:
        store.record_decisions([decision(2)])
        store.record_decisions([decision(2, "exclude", by=BOB, reason="duplicate")])
        assert [d.decision for d in store.decision_history("pmid:30000002")] == ["include", "exclude"]
        assert store.current_decisions()["pmid:30000002"].reason == "duplicate"


def test_an_unknown_uid_is_an_error_and_nothing_is_recorded(data_dir: Path) -> None:
    """One unknown record among several: UnknownRecord names it and no decision is written."""
    with filled(data_dir) as store:
        bad = Decision("pmid:1", "include", ALICE, AT)
        with pytest.raises(UnknownRecord, match=r"no stored record pmid:1; nothing was recorded"):
            store.record_decisions([decision(1), bad])
        assert store.decision_history() == []


def test_a_second_writer_is_refused_while_one_holds_the_store(data_dir: Path) -> None:
    """Decisions go through the single writer: another open for writing fails on the lock."""
    with filled(data_dir), pytest.raises(StoreLocked, match="in use by another litwatch process"):
        Store.open(data_dir)


def test_verdict_reads_the_spellings_of_screening_tools() -> None:
    """Included / EXCLUDED / irrelevant / Maybe map to include, exclude, exclude, maybe."""
    assert [verdict(w) for w in ("Included", "EXCLUDED", " irrelevant ", "Maybe", "perhaps")] == [
        "include", "exclude", "exclude", "maybe", None]


def test_current_is_the_latest_of_each_record() -> None:
    """current() folds a history into each record's last decision."""
    history = [decision(1), decision(2, "exclude"), decision(1, "maybe")]
    assert {uid: d.decision for uid, d in current(history).items()} == {
        "pmid:30000001": "maybe", "pmid:30000002": "exclude"}


def test_a_decision_round_trips_through_its_stored_form() -> None:
    """to_dict / from_dict keep every field, the reviewer and the time zone."""
    original = decision(3, "exclude", reason="not human")
    assert Decision.from_dict(original.to_dict()) == original


def test_examples_survive_a_restart_and_repeat_once(data_dir: Path) -> None:
    """An example (a decided study litwatch never stored) is kept on disk, once, latest per key."""
    from bot.decisions import Example

    older = Example("pmid 123", "include", "An older study", "Its abstract.", ALICE, AT, "import:r.csv")
    with filled(data_dir) as store:
        assert store.record_examples([older, older]) == [older]
        assert store.record_examples([older]) == []
    with Store.open(data_dir, readonly=True) as reopened:
        assert reopened.examples() == {"pmid 123": older}
