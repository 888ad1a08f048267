"""The store: one atomic write per commit, an index, a process lock, and no torn files."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.errors import CommitsFrozen, StoreError
from bot.store import STORE_FILE, Diff, DigestMark, QueryState, Store
from tests.conftest import LOCAL_FIXTURES
from tests.factories import notification, pubmed_item, retracted, trial_item

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Store]:
    opened = Store.memory() if request.param == "memory" else Store.open(data_dir)
    with opened:
        yield opened


def reopen(store: Store, data_dir: Path) -> Store:
    """The file store read back from disk; the memory store is itself."""
    if store.path is None:
        return store
    store.close()
    return Store.open(data_dir)


def test_new_items_then_unchanged_on_the_second_look(store: Store, data_dir: Path) -> None:
    """Items committed once are unchanged the next time they are fetched, even after reopening."""
    items = [pubmed_item(n) for n in range(5)]
    diff = store.diff(items, "q")
    assert [i.uid for i in diff.new] == [i.uid for i in items]
    store.commit("q", diff)
    store = reopen(store, data_dir)
    again = store.diff([pubmed_item(n) for n in range(6)], "q")
    assert len(again.unchanged) == 5 and [i.id for i in again.new] == ["30000005"]
    doc = store.get("pmid:30000000")
    assert doc is not None and doc["queries"] == ["q"] and doc["title"].startswith("Exosome therapy")
    store.close()


def test_no_change_diff_writes_nothing(store: Store) -> None:
    """Diffing known items never touches the file."""
    store.commit("q", store.diff([pubmed_item(n) for n in range(3)], "q"))
    writes = store.file_writes
    diff = store.diff([pubmed_item(n) for n in range(3)], "q")
    assert not diff.new and not diff.changed and not diff.joined
    assert store.file_writes == writes


def test_retraction_is_a_change_with_words(store: Store) -> None:
    """A stored paper that gains RetractionIn is changed, and the diff says so."""
    store.commit("q", store.diff([pubmed_item(1)], "q"))
    diff = store.diff([retracted(pubmed_item(1))], "q")
    assert len(diff.changed) == 1
    assert diff.changed[0].changes == [
        "publication type added: Retracted Publication",
        "linked notice added: RetractionIn:39999999",
    ]


def test_trial_status_change_is_reported_field_by_field(store: Store) -> None:
    """RECRUITING -> TERMINATED with a reason reads as a field-level diff; last update alone is silent."""
    store.commit("ct", store.diff([trial_item("NCT00000001", last_update="2024-01-01")], "ct"))
    quiet = store.diff([trial_item("NCT00000001", last_update="2024-06-01")], "ct")
    assert len(quiet.unchanged) == 1
    loud = store.diff([trial_item("NCT00000001", "TERMINATED", why_stopped="safety concerns",
                                  has_results=True)], "ct")
    assert loud.changed[0].changes == ["Status RECRUITING -> TERMINATED", "why stopped: 'safety concerns'",
                                       "results posted"]
    store.commit("ct", loud)
    doc = store.get("nct:NCT00000001")
    assert doc is not None and doc["trial"]["status"] == "TERMINATED"
    assert doc["changes"][0] == "Status RECRUITING -> TERMINATED"
    assert doc["first_seen"] <= doc["last_changed"]


def test_a_second_query_joins_a_known_item(store: Store, data_dir: Path) -> None:
    """An item found by another saved query is not new, but records that query too."""
    store.commit("a", store.diff([pubmed_item(1)], "a"))
    diff = store.diff([pubmed_item(1)], "b")
    assert diff.joined == ["pmid:30000001"] and not diff.new
    store.commit("b", diff)
    store = reopen(store, data_dir)
    assert store.get("pmid:30000001")["queries"] == ["a", "b"]  # type: ignore[index]
    assert [d["uid"] for d in store.items(query="b")] == ["pmid:30000001"]
    store.close()


def test_fields_scans_one_source(store: Store) -> None:
    """`fields` gives the named fields of one source's items, None where a field is absent."""
    store.commit("q", store.diff([pubmed_item(1), trial_item("NCT00000001")], "q"))
    assert store.fields("pubmed", "uid", "no_such_field") == [("pmid:30000001", None)]
    assert store.fields("clinicaltrials", "id") == [("NCT00000001",)]


def test_docs_keeps_the_order_asked_and_skips_unknown_uids(store: Store) -> None:
    """`docs` returns the stored items for the uids given, in their order, without the unknown ones."""
    store.commit("q", store.diff([pubmed_item(1), pubmed_item(2)], "q"))
    docs = store.docs(["pmid:30000002", "pmid:39999999", "pmid:30000001"])
    assert [d["uid"] for d in docs] == ["pmid:30000002", "pmid:30000001"]


def test_items_filters_on_the_later_stamp(store: Store) -> None:
    """`since` and `until` include their bound, `after` excludes it; a change moves an item's stamp."""
    for day, n in ((1, 1), (2, 2), (3, 3)):
        store.commit("q", store.diff([pubmed_item(n)], "q"), now=datetime(2026, 1, day, tzinfo=UTC))
    store.commit("q", store.diff([retracted(pubmed_item(1))], "q"), now=datetime(2026, 1, 4, tzinfo=UTC))

    def uids(**bounds: str) -> list[str]:
        return [d["uid"] for d in store.items(**bounds)]

    assert uids(since="2026-01-02T00:00:00+00:00") == ["pmid:30000001", "pmid:30000002", "pmid:30000003"]
    assert uids(after="2026-01-02T00:00:00+00:00", until="2026-01-03T00:00:00+00:00") == ["pmid:30000003"]
    assert uids(after="2026-01-03T00:00:00+00:00") == ["pmid:30000001"]


def test_commit_is_one_write(store: Store) -> None:
    """Items, outbox, query state and run record of a run land in a single file write."""
    before = store.file_writes
    store.commit("q", store.diff([pubmed_item(n) for n in range(50)], "q"),
                 outbox=[notification("items", "slack:C1", ["pmid:30000001"])],
                 state=QueryState(last_success="2026-01-01T00:00:00"), run={"fetched": 50, "new": 50})
    assert store.file_writes == before + 1
    assert len(store) == 50 and len(store.pending()) == 1 and store.runs("q")[0]["new"] == 50


def test_query_state_round_trips(store: Store, data_dir: Path) -> None:
    """Watermark, errors, warnings and feed validators survive a reopen."""
    from datetime import date

    state = QueryState(watermark=date(2026, 3, 1), last_error="boom", warnings=["PhraseNotFound: x"],
                       validators={"etag": '"abc"'})
    store.commit("q", state=state)
    store = reopen(store, data_dir)
    assert store.query_state("q") == state
    assert store.query_state("other") == QueryState()
    store.close()


def test_outbox_failure_then_delivery(store: Store) -> None:
    """A failed delivery stays pending with its error and progress; a delivered one leaves."""
    store.add_notifications([notification("safety", "slack:C9")])
    note = store.pending()[0]
    store.record_failure(note.id, "channel_not_found", sent_parts=1)
    note = store.pending()[0]
    assert (note.attempts, note.last_error, note.sent_parts) == (1, "channel_not_found", 1)
    store.mark_delivered(note.id)
    assert store.pending() == []


def test_frozen_commits_are_refused_while_delivery_marks_still_land(data_dir: Path) -> None:
    """Regression (a stopping daemon blocked the journal writes of deliveries, so a message
    Slack confirmed was posted again after restart): after `freeze_commits` a run's commit
    raises CommitsFrozen, yet progress and delivery marks are written and survive reopening."""
    store = Store.open(data_dir)
    store.add_notifications([notification("items", "slack:C1"),
                             notification("items", "slack:C2", ["pmid:1", "pmid:2"])])  # fmt: skip
    first, second = store.pending()
    store.freeze_commits()
    with pytest.raises(CommitsFrozen):
        store.commit("pm", Diff(new=[pubmed_item(1)]), state=QueryState(watermark=date(2025, 1, 1)))
    store.mark_delivered(first.id)
    store.record_progress(second.id, 1, ["pmid:1"])
    store.close()
    with Store.open(data_dir) as again:
        assert [(n.id, list(n.sent_uids)) for n in again.pending()] == [(second.id, ["pmid:1"])]
        assert again.query_state("pm").watermark is None and len(again) == 0


def test_a_closed_store_refuses_every_write(store: Store) -> None:
    """Once closed (its directory lock released), no commit, journal or subscription write lands."""
    store.add_notifications([notification("items", "slack:C1")])
    note = store.pending()[0]
    assert store.close() is True
    for write in (lambda: store.commit("pm", state=QueryState(watermark=date(2025, 1, 1))),
                  lambda: store.mark_delivered(note.id),
                  lambda: store.record_progress(note.id, 1),
                  lambda: store.subscribe("C1"), lambda: store.unsubscribe("C1")):  # fmt: skip
        with pytest.raises(StoreError):
            write()
    assert store.pending() == [note] and store.query_state("pm").watermark is None


def test_subscriptions(store: Store) -> None:
    """Subscribing twice updates the period; unsubscribing removes the subscriber."""
    assert store.subscribe("C1", "weekly") is True
    assert store.subscribe("C1", "daily") is False
    assert [(s["target"], s["period"]) for s in store.subscriptions()] == [("C1", "daily")]
    store.commit("", last_digests={"C1": DigestMark("2026-02-02T09:00:00", 7)})
    assert store.subscriptions()[0]["last_digest"] == "2026-02-02T09:00:00"
    assert store.subscriptions()[0]["last_digest_seq"] == 7
    assert store.unsubscribe("C1") is True and store.unsubscribe("C1") is False


def test_second_writer_is_refused_with_the_holders_pid(data_dir: Path) -> None:
    """While one process holds the data dir, another writer gets an error naming that PID."""
    with Store.open(data_dir) as first:
        first.commit("q", first.diff([pubmed_item(1)], "q"))
        code = ("import sys; from bot.store import Store\n"
                f"try:\n  Store.open({str(data_dir)!r})\nexcept Exception as e:\n  print(e); sys.exit(3)\n"
                f"print(len(Store.open({str(data_dir)!r}, readonly=True)))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 3
        assert f"in use by another litwatch process (PID {os.getpid()})" in out.stdout
    # Once released, a new writer gets in.
    with Store.open(data_dir) as again:
        assert len(again) == 1


def test_readonly_store_reads_while_a_writer_holds_the_lock(data_dir: Path) -> None:
    """Export-style readers open the store without the lock and cannot write."""
    with Store.open(data_dir) as writer:
        writer.commit("q", writer.diff([pubmed_item(1)], "q"))
        with Store.open(data_dir, readonly=True) as reader:
            assert reader.get("pmid:30000001") is not None
            with pytest.raises(StoreError, match="read-only"):
                reader.commit("q", reader.diff([pubmed_item(2)], "q"))


@pytest.mark.parametrize("content", [b'{"items": {"1": {"uid": "pmid:1"', b"", b"\x00\xff garbage",
                                     b"[1, 2, 3]"])
def test_corrupt_file_is_refused_and_left_byte_identical(data_dir: Path, content: bytes) -> None:
    """A torn, empty or foreign file is an error naming the file and the way out; it is never overwritten."""
    data_dir.mkdir(parents=True)
    path = data_dir / STORE_FILE
    path.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        Store.open(data_dir)
    assert str(path) in str(caught.value) and "mv " in str(caught.value)
    assert path.read_bytes() == content
    with pytest.raises(StoreError):
        Store.open(data_dir, readonly=True)
    assert path.read_bytes() == content


def test_newer_schema_is_refused(data_dir: Path) -> None:
    """A store written by a newer litwatch is not touched by an older one."""
    data_dir.mkdir(parents=True)
    path = data_dir / STORE_FILE
    path.write_text(json.dumps({"meta": {"1": {"schema": 99}}}))
    with pytest.raises(StoreError, match="schema 99, newer"):
        Store.open(data_dir)


def test_migration_hook_upgrades_old_files(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file with an older schema runs the registered migrations once, then opens."""
    import bot.store as store_module

    seen: list[int] = []

    def upgrade(raw: dict) -> dict:  # type: ignore[type-arg]
        seen.append(1)
        return raw

    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(store_module.MIGRATIONS, 1, upgrade)
    data_dir.mkdir(parents=True)
    (data_dir / STORE_FILE).write_text(json.dumps({"meta": {"1": {"schema": 1}}, "items": {}}))
    with Store.open(data_dir):
        pass
    assert seen == [1]
    assert json.loads((data_dir / STORE_FILE).read_text())["meta"] == {"1": {"schema": 2}}


def test_a_schema_1_store_opens_with_routes_and_its_destination(data_dir: Path) -> None:
    """Stores from before routes keep loading: outbox entries and subscribers become slack: routes,
    their delivery state is kept, and a store that delivered to Slack still does."""
    data_dir.mkdir(parents=True)
    shutil.copy(LOCAL_FIXTURES / "store_schema1.json", data_dir / STORE_FILE)
    with Store.open(data_dir) as store:
        pending = store.pending()
        assert [(n.id, n.kind, n.route) for n in pending] == [
            ("a1", "safety", "slack:C999"), ("b2", "items", "slack:#team"), ("c3", "digest", "slack:U0ALICE")]
        assert pending[0].attempts == 2 and pending[0].last_error is not None
        assert pending[0].last_error.startswith("channel_not_found")
        assert pending[1].notification.summary.new == 1 and pending[2].sent_parts == 1
        assert pending[2].notification.summary.until == "2026-03-01T09:00:00+00:00"
        assert [s["target"] for s in store.subscriptions()] == ["slack:#team", "slack:U0ALICE"]
        assert store.destinations() == {"slack"}
        assert store.query_state("pm").watermark == date(2026, 3, 1) and "pmid:30000001" in store
    raw = json.loads((data_dir / STORE_FILE).read_text())
    assert raw["meta"]["1"]["schema"] == 3 and raw["meta"]["1"]["destinations"] == ["slack"]
    assert "type" not in raw["outbox"]["1"] and "channel" not in raw["outbox"]["1"]


def test_drop_retry_and_forget_destination_are_journalled(data_dir: Path) -> None:
    """An operator can drop a pending notification, clear its error for a retry, and send a
    channel's notifications to the terminal again; each survives a restart."""
    with Store.open(data_dir) as store:
        store.add_notifications([notification("safety", "slack:C999"), notification("items", "slack:C111")])
        first, second = store.pending()
        store.record_failure(second.id, "channel_not_found")
        store.remember_destination("slack")
        assert store.drop(first.id) and not store.drop(first.id)
        assert store.retry(second.id) and not store.retry("nope")
        assert store.forget_destination("slack") and not store.forget_destination("slack")
    with Store.open(data_dir) as again:
        [left] = again.pending()
        assert (left.id, left.attempts, left.last_error) == (second.id, 0, None)
        assert again.destinations() == set()


# Each item carries its batch number in `keywords`, a real field, so the check needs no test-only schema.
CHILD = textwrap.dedent("""
    import sys
    from bot import registry
    from bot.store import Store
    from tests.factories import pubmed_item
    registry.specs()  # the sources load before "ready": kills land in commits, not in imports
    store = Store.open(sys.argv[1])
    batch = max((int(d["keywords"][0]) for d in store.items()), default=-1) + 1
    print("ready", flush=True)
    while True:
        items = [pubmed_item(batch * 1000 + n, keywords=(str(batch),)) for n in range(25)]
        store.commit("crash", store.diff(items, "crash"))
        print(f"ack {batch}", flush=True)
        batch += 1
""")


@pytest.mark.slow
def test_sigkill_at_random_moments_never_tears_or_loses_acknowledged_batches(data_dir: Path) -> None:
    """20 SIGKILLs mid-commit: the file always loads, holds every acknowledged batch, and no partial one."""
    rng = random.Random(20261126)
    acked: set[int] = set()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(20):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir)], cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True, env=env)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        # Kill after the first commit was acknowledged, at a random moment of the ones after it:
        # a loaded machine slows the child, never the guarantee under test.
        first = child.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        out = first + child.stdout.read()
        child.wait()
        acked |= {int(line.split()[1]) for line in out.splitlines() if line.startswith("ack ")}
        sizes: dict[int, int] = {}
        # A child killed before its first commit leaves no file yet: nothing acknowledged, nothing lost.
        if (data_dir / STORE_FILE).exists():
            with Store.open(data_dir, readonly=True) as store:
                for doc in store.items():
                    batch = int(doc["keywords"][0])
                    sizes[batch] = sizes.get(batch, 0) + 1
        assert all(count == 25 for count in sizes.values()), "a batch was torn"
        assert acked <= set(sizes), "an acknowledged batch was lost"
        # Only the batch in flight at the kill may be on disk before its ack was read.
        extra = set(sizes) - acked
        assert len(extra) <= 1 and all(b == max(sizes) for b in extra)
        acked |= extra
    assert len(acked) >= 20  # every child committed at least once before its kill


def test_delivery_marks_are_journalled_not_rewrites(data_dir: Path) -> None:
    """Regression (review finding 9): marking a notification sent appends to a small journal; the store file is untouched."""
    with Store.open(data_dir) as store:
        store.add_notifications([notification("items", "slack:C1") for _ in range(30)])
        writes, before = store.file_writes, (data_dir / STORE_FILE).read_bytes()
        for note in store.pending():
            store.mark_delivered(note.id)
        assert store.file_writes == writes and store.journal_writes == 30
        assert (data_dir / STORE_FILE).read_bytes() == before
        assert store.pending() == []
    with Store.open(data_dir) as again:  # replayed from the journal after a restart
        assert again.pending() == []


def test_journal_replays_progress_and_ignores_a_torn_last_line(data_dir: Path) -> None:
    """Progress and failures survive a crash; a half-written journal line (never acknowledged) is skipped."""
    with Store.open(data_dir) as store:
        store.add_notifications([notification("items", "slack:C1", ["pmid:1", "pmid:2"])])
        note_id = store.pending()[0].id
        store.record_progress(note_id, 1, ["pmid:1"])
        store.record_failure(note_id, "ratelimited", sent_parts=1, sent_uids=["pmid:1"])
    with open(data_dir / "outbox.journal", "ab") as journal:
        journal.write(b'{"op":"delivered","id":"' + note_id.encode())
    with Store.open(data_dir, readonly=True) as reader:
        note = reader.pending()[0]
        assert (list(note.sent_uids), note.attempts, note.last_error) == (["pmid:1"], 1, "ratelimited")


def test_commit_folds_the_journal_into_the_file(data_dir: Path) -> None:
    """The next commit writes the journalled outcomes into the store file and empties the journal."""
    with Store.open(data_dir) as store:
        store.add_notifications([notification("items", "slack:C1")])
        store.mark_delivered(store.pending()[0].id)
        assert (data_dir / "outbox.journal").stat().st_size > 0
        store.commit("q", store.diff([pubmed_item(1)], "q"))
        assert (data_dir / "outbox.journal").stat().st_size == 0
        assert json.loads((data_dir / STORE_FILE).read_text())["outbox"] == {}


def test_stale_temp_files_are_removed_by_the_next_writer(data_dir: Path) -> None:
    """Regression (review finding 11): temp files a crash left behind are deleted when a writer opens the store."""
    with Store.open(data_dir) as store:
        store.commit("q", store.diff([pubmed_item(1)], "q"))
    (data_dir / ".litwatch-abc123.tmp").write_bytes(b"x" * 100)
    with Store.open(data_dir, readonly=True):
        assert (data_dir / ".litwatch-abc123.tmp").exists()  # readers never delete
    with Store.open(data_dir):
        assert not list(data_dir.glob(".litwatch-*.tmp"))


def test_data_dir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    """LITWATCH_DATA pointing at a file names the path and the variable instead of a traceback."""
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a directory: point LITWATCH_DATA at a directory"):
        Store.open(target)
    assert target.read_text() == "x"


# ---------------------------------------------------------------- storage failures (issue 14, finding 11)


@pytest.fixture
def disk_full(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """`disk_full(True)`: every write into the data directory fails with ENOSPC, as on a full
    volume (the kernel's answer to write(2)); writes elsewhere, and reads, still work."""
    real_write = os.write
    full = [False]

    def write(fd: int, data: Any) -> int:
        if full[0] and os.readlink(f"/proc/self/fd/{fd}").startswith(str(data_dir)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    return lambda on: full.__setitem__(0, on)


def test_disk_full_at_commit_is_one_line_keeps_the_file_and_the_next_run_recovers(
        data_dir: Path, disk_full: Callable[[bool], None]) -> None:  # fmt: skip
    """Regression (issue 14, finding 11: a traceback when the disk filled at commit): the
    commit fails with one line naming the file and what to do, the file and memory stay as
    they were, and once there is space the same run commits everything."""
    with Store.open(data_dir) as store:
        store.commit("pm", store.diff([pubmed_item(1)], "pm"))
        before = (data_dir / STORE_FILE).read_bytes()
        disk_full(True)
        with pytest.raises(StoreError) as caught:
            store.commit("pm", store.diff([pubmed_item(2)], "pm"), outbox=[notification("items", "slack:C1")])
        message = str(caught.value)
        assert message.startswith(f"cannot write store file {data_dir / STORE_FILE}: No space left on device")
        assert "free disk space" in message and "\n" not in message
        assert (data_dir / STORE_FILE).read_bytes() == before and list(data_dir.glob(".litwatch-*.tmp")) == []
        assert store.get("pmid:30000002") is None and store.pending() == []  # memory is the file again
        disk_full(False)
        store.commit("pm", store.diff([pubmed_item(2)], "pm"), outbox=[notification("items", "slack:C1")])
    with Store.open(data_dir, readonly=True) as again:
        assert len(again) == 2 and len(again.pending()) == 1


def test_disk_full_while_journalling_keeps_the_notification_pending(
        data_dir: Path, disk_full: Callable[[bool], None]) -> None:  # fmt: skip
    """Regression (issue 14, finding 11): a delivery that cannot be journalled (disk full) is
    one line naming the journal; the notification stays pending, the journal holds no torn
    line, and the mark succeeds once there is space."""
    with Store.open(data_dir) as store:
        store.add_notifications([notification("items", "slack:C1"), notification("items", "slack:C2")])
        first, second = store.pending()
        store.record_progress(first.id, 1)
        disk_full(True)
        with pytest.raises(StoreError, match=r"cannot record a delivery in .*outbox\.journal: No space left"):
            store.mark_delivered(first.id)
        assert [n.id for n in store.pending()] == [first.id, second.id]
        disk_full(False)
        store.mark_delivered(second.id)
    journal = (data_dir / "outbox.journal").read_bytes()
    assert all(json.loads(line) for line in journal.splitlines())
    with Store.open(data_dir) as again:
        assert [n.id for n in again.pending()] == [first.id] and again.pending()[0].sent_parts == 1


def test_a_read_only_file_system_on_the_lock_is_one_line(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (issue 14, finding 11: a traceback on a read-only file system): opening the
    lock file for writing fails with EROFS, reported in one line with what to do."""
    import builtins

    real_open = builtins.open

    def read_only(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("litwatch.lock") and any(m in mode for m in "wa+"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only)
    with pytest.raises(StoreError) as caught:
        Store.open(data_dir)
    assert str(caught.value) == (
        f"cannot write to data directory {data_dir}: Read-only file system (the file system is read-only: "
        "remount it read-write or point LITWATCH_DATA elsewhere) (check LITWATCH_DATA; read-only commands "
        "such as `litwatch export` and `status` still work)")


def test_a_journal_line_that_is_not_an_object_is_skipped(data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Regression (issue 14, finding 11: a journal line `123` crashed every command, even
    export): it is skipped with a warning naming the file and line; the others apply."""
    with Store.open(data_dir) as store:
        store.add_notifications([notification("items", "slack:C1"), notification("items", "slack:C2")])
        first, second = store.pending()
    journal = data_dir / "outbox.journal"
    journal.write_bytes(b'123\n["op"]\n' + json.dumps({"op": "delivered", "id": first.id}).encode() + b"\n")
    with Store.open(data_dir, readonly=True) as reader:
        assert [n.id for n in reader.pending()] == [second.id]
    warnings = [r.getMessage() for r in caplog.records if "not a litwatch record" in r.getMessage()]
    assert len(warnings) == 2 and warnings[0].startswith(f"{journal} line 1 is not a litwatch record")


def test_a_sent_parts_that_is_not_a_number_does_not_stop_delivery(data_dir: Path) -> None:
    """Regression (issue 14, finding 11: `sent_parts` that is not a number crashed every
    `once` at that notification): it reads as 0 and the notification is delivered."""
    from bot.outbox import flush
    from tests.factories import channels

    with Store.open(data_dir) as store:
        store.add_notifications([notification("warning", "slack:C1", message="x")])
    raw = json.loads((data_dir / STORE_FILE).read_text(encoding="utf-8"))
    next(iter(raw["outbox"].values())).update(sent_parts="two", attempts=None, sent_uids="pmid:1")
    (data_dir / STORE_FILE).write_text(json.dumps(raw), encoding="utf-8")
    journal = data_dir / "outbox.journal"
    note_id = next(iter(raw["outbox"].values()))["id"]
    journal.write_text(json.dumps({"op": "progress", "id": note_id, "sent_parts": "3"}) + "\n")
    with Store.open(data_dir) as store:
        [note] = store.pending()
        assert (note.sent_parts, note.attempts, note.sent_uids) == (0, 0, ())
        store.record_failure(note.id, "timeout")  # counts on from 0, no ValueError
        assert store.pending()[0].attempts == 1
        report = flush(store, channels())
        assert report.delivered == 1 and store.pending() == []


def test_the_daemon_logs_a_full_disk_in_one_line_and_keeps_running(
        tmp_path: Path, data_dir: Path, disk_full: Callable[[bool], None],
        caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Regression (issue 14, finding 11): a scheduled run whose commit hits a full disk is a
    failed run with one log line (no traceback from the scheduler thread); the next run, with
    space again, stores everything."""
    from bot.config import load_settings
    from bot.daemon import Runner
    from tests.daemon_kit import CONFIG, ScriptedSource, context

    config = tmp_path / "litwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(config)
    pubmed = ScriptedSource(items=[pubmed_item(1), pubmed_item(2)])
    with Store.open(data_dir) as store:
        runner = Runner(context(settings, store, {"pubmed": pubmed, "clinicaltrials": ScriptedSource()}))
        disk_full(True)
        report = runner.run(settings.queries[0])
        assert report is not None and report.failed and "No space left on device" in (report.error or "")
        [line] = [r for r in caplog.records if "No space left" in r.getMessage()]
        assert line.exc_info is None and "\n" not in line.getMessage()
        disk_full(False)
        again = runner.run(settings.queries[0])
        assert again is not None and not again.failed and len(store) == 2


@pytest.mark.parametrize(("table", "record"), [("meta", 5), ("items", {"title": "no uid"}), ("outbox", [1])])
def test_a_record_that_is_not_an_object_is_one_line_naming_the_file(data_dir: Path, table: str, record: Any) -> None:
    """A store record of the wrong shape (hand-edited) is an error naming the file, the table
    and the record, never a traceback; the file is left untouched."""
    with Store.open(data_dir) as store:
        store.commit("pm", store.diff([pubmed_item(1)], "pm"))
    path = data_dir / STORE_FILE
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw.setdefault(table, {})["7"] = record
    path.write_text(json.dumps(raw), encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(StoreError, match=rf"^store file {path}: {table} record 7 is not a litwatch record\."):
        Store.open(data_dir)
    assert path.read_bytes() == before


def test_a_failure_after_the_new_file_is_in_place_does_not_undo_the_commit(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """If emptying the journal fails once the new store file is in place (an I/O error), the
    commit still counts, a warning says so, and the journal replays harmlessly on the next start."""
    with Store.open(data_dir) as store:
        store.add_notifications([notification("items", "slack:C1")])
        store.record_progress(store.pending()[0].id, 1)
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").endswith("outbox.journal"):
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        store.commit("pm", store.diff([pubmed_item(1)], "pm"))
        monkeypatch.setattr(os, "fsync", real_fsync)
    assert any("tidying after it failed" in r.getMessage() for r in caplog.records)
    with Store.open(data_dir) as again:
        assert len(again) == 1 and again.pending()[0].sent_parts == 1
