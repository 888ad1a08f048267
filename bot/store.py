"""The embedded TinyDB store: items, query state, outbox, subscriptions and run history.

The only module that imports tinydb. The file is TinyDB's JSON layout, written with orjson
(a 100k-item store is ~200 MB; the stdlib encoder takes seconds for what orjson does in a
fraction of one). TinyDB's stock JSONStorage rewrites the whole file on
every insert and re-reads it on every query; here the file is read once, kept in memory
with a `uid` index, and written atomically once per commit. Limits, stated plainly:
one process writes (a file lock on the data directory enforces it); threads in that
process share one Store and serialise through `Store.lock`.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import fcntl
import gc
import logging
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import MemoryStorage, Storage
from tinydb.table import Table

from bot.decisions import Decision, Example, SafetyFeedback, current
from bot.diff import describe_changes, fingerprint
from bot.errors import CommitsFrozen, StoreError, StoreLocked, UnknownRecord
from bot.models import Item
from bot.notify import Notification, Pending, with_created

log = logging.getLogger(__name__)
SCHEMA_VERSION = 3
STORE_FILE = "litwatch.json"
LOCK_FILE = "litwatch.lock"
# Delivery outcomes (sent, failed, part confirmed) between commits: a small append-only file,
# fsynced per record, folded into the store file by the next commit.
JOURNAL_FILE = "outbox.journal"


# ---------------------------------------------------------------- migrations

# A feed entry id that names itself (URL, URN, tag:, doi:), and schema 1's host:port prefix,
# which looks like one ("localhost:8080/17").
_GLOBAL_ID = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_HOST_PORT = re.compile(r"^[a-z0-9.-]+:\d+/", re.IGNORECASE)


def _feed_ids_per_feed(raw: dict[str, Any]) -> None:
    """Schema 1 scoped a bare feed guid by the feed's host (`host/17`), so two feeds on one host
    collided; schema 2 scopes it by the saved query that found it (`query/17`). Entries keep
    their items: the id is rewritten in place, and in every pending notification naming it."""
    items = raw.get("items", {})
    taken = {str(doc.get("uid")) for doc in items.values()}
    renamed: dict[str, str] = {}
    for doc in items.values():
        old = str(doc.get("id") or "")
        queries = doc.get("queries") or []
        if doc.get("source") != "feed" or "/" not in old or not queries:
            continue
        if _GLOBAL_ID.match(old) and not _HOST_PORT.match(old):
            continue  # a URL or URN: the same in every feed, never scoped
        new_id = f"{queries[0]}/{old.split('/', 1)[1]}"
        if f"feed:{new_id}" in taken:
            continue  # a host-scoped id that two feeds shared: the first keeps it
        renamed[str(doc.get("uid"))] = f"feed:{new_id}"
        taken.add(f"feed:{new_id}")
        doc["id"], doc["uid"] = new_id, f"feed:{new_id}"
    for note in raw.get("outbox", {}).values():
        for key in ("uids", "sent_uids"):
            if isinstance(note.get(key), list):
                note[key] = [renamed.get(uid, uid) for uid in note[key]]


def _commit_sequence(raw: dict[str, Any]) -> None:
    """Schema 2 numbers commits: an item carries the sequence number of the commit that last
    added or changed it, and a subscriber the number its last digest reached, so a digest
    window is (last seq, seq now] and no item stamped in a digest's own second falls between
    two digests. Existing items are numbered by their stamps; equal stamps share a number."""
    items = raw.get("items", {})
    stamps = sorted({item_stamp(doc) for doc in items.values()})
    number = {stamp: n for n, stamp in enumerate(stamps, 1)}
    for doc in items.values():
        doc["seq"] = number[item_stamp(doc)]
    for sub in raw.get("subscriptions", {}).values():
        last = str(sub.get("last_digest") or "")
        sub["last_digest_seq"] = bisect.bisect_right(stamps, last) if last else 0
    raw["meta"] = {"1": {**next(iter(raw.get("meta", {}).values()), {}), "seq": len(stamps)}}


def _schema_2(raw: dict[str, Any]) -> dict[str, Any]:
    _feed_ids_per_feed(raw)
    _commit_sequence(raw)
    return raw


def _routes_for_notifications(raw: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 -> 3: outbox entries and subscribers name a route (`slack:C…`) instead of a
    bare Slack channel, entries have a `kind` instead of a `type`, and "this store delivers
    to Slack" becomes the set of destinations a delivery was confirmed through."""
    for note in raw.get("outbox", {}).values():
        if "type" in note:
            note["kind"] = note.pop("type")
        if "channel" in note:
            channel = str(note.pop("channel") or "")
            note["route"] = f"slack:{channel}" if channel else "console"
    for sub in raw.get("subscriptions", {}).values():
        target = str(sub.get("target") or "")
        if target and ":" not in target:
            sub["target"] = f"slack:{target}"
    for meta in raw.get("meta", {}).values():
        if meta.pop("delivers_to", None) == "slack":
            meta["destinations"] = ["slack"]
    return raw


# Migrations upgrade the raw file contents from version N to N+1, in order.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _schema_2, 2: _routes_for_notifications}


@dataclass(frozen=True)
class DigestMark:
    """How far a subscriber's last digest reached: its moment (shown) and commit number (used)."""

    until: str
    seq: int


# ---------------------------------------------------------------- storages


class AtomicJSONStorage(Storage):
    """A TinyDB storage that reads its file once and writes it only on `flush()`, atomically.

    `write()` (called by TinyDB on every table operation) only updates memory; `flush()`
    writes a temp file in the same directory, fsyncs it, `os.replace`s the target and
    fsyncs the directory, so a crash leaves either the old file or the new one.
    """

    def __init__(self, path: Path):
        self.path = path
        self.journal_path = path.with_name(JOURNAL_FILE)
        self._data: dict[str, dict[str, Any]] | None = None
        self.dirty = False
        self.writes = 0  # file writes so far: benchmarks and tests count them
        self.journal_writes = 0

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self._data is None:
            self._data = _load_file(self.path)
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data
        self.dirty = True

    def flush(self) -> None:
        if not self.dirty or self._data is None:
            return
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=".litwatch-", suffix=".tmp", dir=directory)
        try:
            try:
                _write_all(fd, orjson.dumps(self._data))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self.dirty = False
        self.writes += 1
        try:
            _fsync_dir(directory)
            # The file now holds everything the journal recorded; a crash before this truncate
            # only replays records that are already applied (each is idempotent).
            if self.journal_path.exists() and self.journal_path.stat().st_size:
                with open(self.journal_path, "wb") as handle:
                    os.fsync(handle.fileno())
        except OSError as exc:  # the new file is in place: this write counts, say what was left
            log.warning("store file %s written, but tidying after it failed (%s); its journal is "
                        "replayed on the next start, which is harmless", self.path, _os_problem(exc))

    def discard(self) -> None:
        """Forget what memory holds: the next `read` loads the file again (after a failed flush)."""
        self._data = None
        self.dirty = False

    def append_journal(self, record: Mapping[str, Any]) -> None:
        """Durably note one delivery outcome without rewriting the whole store file.

        A write that fails (disk full) is cut off again, and a line torn by an earlier crash
        is ended first, so a failure never glues two records into one unreadable line.
        """
        line = orjson.dumps(record) + b"\n"
        fd = os.open(self.journal_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.lseek(fd, 0, os.SEEK_END)
            if start and os.pread(fd, 1, start - 1) != b"\n":
                line = b"\n" + line
            try:
                _write_all(fd, line)
                os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)
        self.journal_writes += 1

    def read_journal(self) -> list[dict[str, Any]]:
        try:
            lines = self.journal_path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot read journal {self.journal_path}: {exc.strerror or exc}; "
                             "fix its permissions (litwatch needs to read and write it) and run again") from None
        records = []
        for number, line in enumerate(lines, 1):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line torn by a crash was never acknowledged
            if not isinstance(record, dict):
                log.warning("%s line %d is not a litwatch record (%s); ignored, nothing else is affected",
                            self.journal_path, number, line[:40].decode("utf-8", "replace"))
                continue
            records.append(record)
        return records

    def remove_stale_temp_files(self) -> None:
        """Temp files left by a crash mid-write (only the lock holder calls this)."""
        for stale in self.path.parent.glob(".litwatch-*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    def close(self) -> None:
        pass


class BufferedMemoryStorage(MemoryStorage):
    """In-memory storage with the same flush protocol, for tests and ad hoc use."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.journal_writes = 0

    def flush(self) -> None:
        self.writes += 1

    def append_journal(self, record: Mapping[str, Any]) -> None:
        self.journal_writes += 1

    def read_journal(self) -> list[dict[str, Any]]:
        return []


def store_file(data_dir: Path) -> Path | None:
    """The store file in `data_dir`, or None while there is none; StoreError when the
    directory cannot be searched or is not a directory at all."""
    path = Path(data_dir) / STORE_FILE
    try:
        path.stat()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise StoreError(not_a_directory(Path(data_dir))) from None
    except OSError as exc:
        raise StoreError(
            f"cannot read data directory {data_dir}: {exc.strerror}; give this user access to "
            f"it (ls -ld {data_dir}) or point LITWATCH_DATA at another directory"
        ) from None
    return path


def not_a_directory(data_dir: Path) -> str:
    return (f"data directory {data_dir} is a file, not a directory: point LITWATCH_DATA at a "
            "directory (it is created if missing)")


def _load_file(path: Path) -> dict[str, dict[str, Any]] | None:
    if not path.exists():
        return None
    way_out = (
        f"The file was left untouched. Restore it from a backup (README, 'Data and backups'), "
        f"or move it aside to start a fresh store: mv {path} {path}.broken"
    )
    try:
        blob = path.read_bytes()
    except PermissionError as exc:  # nothing wrong with the file: this user may not read it
        raise StoreError(f"cannot read store file {path}: {exc.strerror}; give this user read "
                         f"access (ls -l {path}) or run litwatch as its owner") from None
    except OSError as exc:
        raise StoreError(f"cannot read store file {path}: {exc}. {way_out}") from None
    if not blob.strip():
        raise StoreError(f"store file {path} is empty. {way_out}")
    try:
        with paused_gc():
            data = orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"store file {path} is not valid JSON ({exc}). {way_out}") from None
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise StoreError(f"store file {path} is not a litwatch store. {way_out}")
    for name, table in data.items():
        bad = next((doc_id for doc_id, doc in table.items() if not isinstance(doc, dict)
                    or (name == "items" and not isinstance(doc.get("uid"), str))), None)  # fmt: skip
        if bad is not None:
            raise StoreError(f"store file {path}: {name} record {bad} is not a litwatch record. {way_out}")
    return data


# ---------------------------------------------------------------- records


@dataclass
class QueryState:
    """Where a saved query stands: its watermark moves only after a fully successful fetch."""

    watermark: date | None = None
    last_success: str | None = None
    last_attempt: str | None = None
    last_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    validators: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["watermark"] = self.watermark.isoformat() if self.watermark else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueryState:
        mark = data.get("watermark")
        return cls(
            watermark=date.fromisoformat(mark) if mark else None,
            last_success=data.get("last_success"),
            last_attempt=data.get("last_attempt"),
            last_error=data.get("last_error"),
            warnings=list(data.get("warnings") or []),
            validators=dict(data.get("validators") or {}),
        )


@dataclass
class Change:
    """A stored item whose watched fields changed, with the field-level diff in words."""

    item: Item
    old: dict[str, Any]
    changes: list[str]


@dataclass
class Diff:
    """Fetched items sorted against the store."""

    new: list[Item] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    unchanged: list[Item] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)  # stored uids this query matches for the first time

    @property
    def touched(self) -> list[Item]:
        return self.new + [c.item for c in self.changed]


# ---------------------------------------------------------------- store


class Store:
    """All persistent state. Every public method takes `lock`; commits are one write."""

    def __init__(self, storage: AtomicJSONStorage | BufferedMemoryStorage, *, readonly: bool = False,
                 lock_handle: Any = None, path: Path | None = None):
        self.lock = threading.RLock()
        self.readonly = readonly
        self.path = path
        self._storage = storage
        self._lock_handle = lock_handle
        self._commits_frozen = False
        self._closed = False
        self._db = TinyDB(storage=lambda: storage)
        self._db.default_table_name = "_unused"
        self._items = self._table("items")
        self._states = self._table("query_state")
        self._outbox = self._table("outbox")
        self._subs = self._table("subscriptions")
        self._runs = self._table("runs")
        self._meta = self._table("meta")
        self._decisions = self._table("decisions")
        self._examples = self._table("examples")
        self._safety_feedback = self._table("safety_feedback")
        self._current: dict[str, Decision] | None = None  # built on first use, kept on writes
        self._index: dict[str, tuple[int, str]] = {}  # uid -> (doc_id, fingerprint)
        self._doi: dict[str, str] = {}  # doi -> uid, for cross-source merges
        self._load(write_migration=not readonly)
        if not readonly and isinstance(storage, AtomicJSONStorage):
            storage.remove_stale_temp_files()
        # The loaded store lives as long as the process and holds no reference cycles (its
        # documents are freed by refcount when replaced): keep it out of every later
        # collection instead of rescanning millions of objects in a long-running daemon.
        gc.freeze()

    # -- opening

    def _load(self, *, write_migration: bool) -> None:
        """Read the file, upgrade it, replay the journal and index the items."""
        self._check_schema(write=write_migration)
        self._current = None
        for record in self._storage.read_journal():
            self._apply_journal(record)
        raw_items = self._raw("items")
        with paused_gc():
            self._index = {doc["uid"]: (int(doc_id), doc.get("fingerprint", "")) for doc_id, doc in raw_items.items()}
            self._doi = {str(doc["doi"]).lower(): doc["uid"] for doc in raw_items.values() if doc.get("doi")}

    def _flush(self) -> None:
        """Write memory to the file in one atomic step. If that fails (disk full, read-only or
        failing disk), memory goes back to what the file holds and the error is one line:
        nothing half-written, nothing of this change kept, the next run does it again."""
        try:
            self._storage.flush()
        except OSError as exc:
            if isinstance(self._storage, AtomicJSONStorage):
                self._storage.discard()
                self._load(write_migration=False)  # a pending upgrade is written by the next flush
            raise StoreError(f"cannot write store file {self.path}: {_os_problem(exc)}; the file was left "
                             "as it was and this change was not saved, so the next run does it again") from None

    @classmethod
    def open(cls, data_dir: Path | str, *, readonly: bool = False) -> Store:
        """Open the store in `data_dir`; a writer takes the directory's process lock."""
        data_dir = Path(data_dir)
        path = data_dir / STORE_FILE
        if readonly:
            if store_file(data_dir) is None:
                raise StoreError(f"no store at {path} yet: run `litwatch once` first")
            return cls(AtomicJSONStorage(path), readonly=True, path=path)
        store_file(data_dir)  # unreadable or not a directory: say so before anything else
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(data_dir, os.W_OK | os.X_OK):  # fail before a run fetches anything
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            handle = _take_dir_lock(data_dir)
        except (FileExistsError, NotADirectoryError):
            raise StoreError(not_a_directory(data_dir)) from None
        except OSError as exc:  # permissions, a read-only file system, a failing disk
            raise StoreError(
                f"cannot write to data directory {data_dir}: {_os_problem(exc)} (check LITWATCH_DATA; "
                "read-only commands such as `litwatch export` and `status` still work)"
            ) from None
        try:
            return cls(AtomicJSONStorage(path), lock_handle=handle, path=path)
        except BaseException:
            handle.close()
            raise

    @classmethod
    def memory(cls) -> Store:
        return cls(BufferedMemoryStorage())

    def freeze_commits(self) -> None:
        """Refuse every later `commit` (a stopping daemon abandons its runs), while
        delivery outcomes are still journalled: a message Slack confirmed is marked sent.

        A commit already under way finishes; `close` waits for it.
        """
        self._commits_frozen = True  # read by `commit` under the store lock

    def close(self, timeout: float | None = None) -> bool:
        """Take no more writes and release the directory lock; False if a write still in
        progress kept the store lock past `timeout` s (the lock then goes with the process)."""
        if not self.lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            return False
        try:
            self._closed = True
            if self._lock_handle is not None:
                self._lock_handle.close()
                self._lock_handle = None
            return True
        finally:
            self.lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def file_writes(self) -> int:
        return self._storage.writes

    @property
    def journal_writes(self) -> int:
        return self._storage.journal_writes

    # -- items

    def get(self, uid: str) -> dict[str, Any] | None:
        with self.lock:
            entry = self._index.get(uid)
            if entry is None:
                return None
            doc = self._items.get(doc_id=entry[0])
            return dict(doc) if doc is not None else None

    def docs(self, uids: Iterable[str]) -> list[dict[str, Any]]:
        """The stored items among `uids`, in that order (uids no longer stored are skipped)."""
        with self.lock:
            return [doc for uid in uids if (doc := self.get(uid)) is not None]

    def uid_for_doi(self, doi: str) -> str | None:
        with self.lock:
            return self._doi.get(doi.lower())

    def __contains__(self, uid: object) -> bool:
        with self.lock:
            return uid in self._index

    def __len__(self) -> int:
        with self.lock:
            return len(self._index)

    def items(self, query: str | None = None, since: str | None = None, *,
              after: str | None = None, until: str | None = None,
              after_seq: int | None = None, until_seq: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Stored items, oldest first, filtered on their `item_stamp` (ISO strings): from
        `since` on (inclusive), later than `after` (exclusive), up to `until` (inclusive);
        or on the commit number that last added or changed them: (after_seq, until_seq]."""

        def wanted(doc: Mapping[str, Any]) -> bool:
            if query and query not in doc.get("queries", ()):
                return False
            if after_seq is not None or until_seq is not None:
                number = doc.get("seq", 0)
                return ((after_seq is None or number > after_seq)
                        and (until_seq is None or number <= until_seq))  # fmt: skip
            if not (since or after or until):
                return True
            stamp = item_stamp(doc)
            return ((not since or stamp >= since) and (not after or stamp > after)
                    and (not until or stamp <= until))  # fmt: skip

        with self.lock:  # only the items kept are copied
            docs = [dict(d) for d in self._raw("items").values() if wanted(d)]
        docs.sort(key=lambda d: (d.get("first_seen", ""), d["uid"]))
        return docs

    def ids(self, source: str, query: str | None = None) -> set[str]:
        """Source ids (PMIDs, NCT IDs) stored for `source`, optionally only those `query` matched."""
        with self.lock:
            return {
                doc["id"] for doc in self._raw("items").values()
                if doc.get("source") == source and (query is None or query in doc.get("queries", ()))
            }

    def fields(self, source: str, *names: str) -> list[tuple[Any, ...]]:
        """The named fields of every item stored for `source`, in storage order.

        A scan for hot paths: no document is copied or sorted. Values are the stored
        objects themselves, so callers must only read them.
        """
        with self.lock:
            return [
                tuple(doc.get(name) for name in names)
                for doc in self._raw("items").values() if doc.get("source") == source
            ]

    def diff(self, items: Iterable[Item], query: str | None = None) -> Diff:
        """Sort fetched items into new / changed / unchanged by content fingerprint (no I/O)."""
        result = Diff()
        with self.lock:
            for item in items:
                entry = self._index.get(item.uid)
                if entry is None:
                    result.new.append(item)
                    continue
                doc_id, stored_print = entry
                if fingerprint(item) == stored_print:
                    result.unchanged.append(item)
                    if query:
                        doc = self._raw("items")[str(doc_id)]
                        if query not in doc.get("queries", ()):
                            result.joined.append(item.uid)
                    continue
                old = dict(self._raw("items")[str(doc_id)])
                result.changed.append(Change(item, old, describe_changes(old, item)))
        return result

    # -- the one write of a run

    def commit(
        self,
        query: str,
        diff: Diff | None = None,
        *,
        outbox: Sequence[Notification] = (),
        state: QueryState | None = None,
        run: Mapping[str, Any] | None = None,
        updates: Mapping[str, Mapping[str, Any]] | None = None,
        last_digests: Mapping[str, DigestMark] | None = None,
        now: datetime | None = None,
        baseline: bool = False,
    ) -> None:
        """Write new and changed items, notifications, query state and run record at once.

        `updates` maps stored uids to fields to overwrite (cross-source links);
        `last_digests` moves subscribers' digest marks; `baseline` marks the new items as a
        query's first run (digests leave them out). Nothing reaches the file until
        everything is in memory; then one atomic write.
        """
        diff = diff or Diff()
        stamp = (now or _utcnow()).isoformat(timespec="seconds")
        with self.lock:
            if self._commits_frozen:  # checked first: a stopping daemon freezes, then closes
                raise CommitsFrozen("litwatch is stopping: this run was abandoned before its commit")
            self._writable()
            # Every commit that adds or changes items gets the next number: a digest's window
            # is a range of these, which no clock resolution or pinned clock can blur.
            seq = self.sequence() + 1 if (diff.new or diff.changed) else self.sequence()
            new_docs = []
            for item in diff.new:
                if item.uid in self._index:
                    continue  # the same uid twice in one fetch: the first copy wins
                doc = item.to_dict()
                doc.update(uid=item.uid, queries=[query], first_seen=stamp, last_changed=stamp,
                           fingerprint=fingerprint(item), changes=[], seq=seq)
                if baseline:  # a later change gets a later number: then it is news again
                    doc["baseline_seq"] = seq
                new_docs.append(doc)
                self._index[item.uid] = (-1, doc["fingerprint"])  # placeholder until inserted
            if new_docs:
                ids = self._items.insert_multiple(new_docs)
                for doc_id, doc in zip(ids, new_docs, strict=True):
                    self._index_doc(doc_id, doc)

            patches: dict[str, dict[str, Any]] = {}
            for change in diff.changed:
                doc = change.item.to_dict()
                doc.update(last_changed=stamp, fingerprint=fingerprint(change.item),
                           changes=change.changes, seq=seq)
                patches[change.item.uid] = doc
            for uid in diff.joined:
                patches.setdefault(uid, {})
            for uid, fields in (updates or {}).items():
                patches.setdefault(uid, {}).update(fields)
            self._patch_items(patches, query)

            for note in outbox:
                self._outbox.insert(Pending(uuid.uuid4().hex, with_created(note, stamp)).to_doc())
            if state is not None:
                self._put_state(query, state)
            if run is not None:
                self._runs.insert({"query": query, "at": stamp, **run})
            for target, mark in (last_digests or {}).items():
                self._subs.update({"last_digest": mark.until, "last_digest_seq": mark.seq},
                                  doc_ids=self._sub_ids(target))
            if seq != self.sequence():
                self._meta.update({"seq": seq})
            self._flush()

    def _patch_items(self, patches: Mapping[str, Mapping[str, Any]], query: str) -> None:
        known = {uid: self._index[uid][0] for uid in patches if uid in self._index}
        if not known:
            return
        by_id = {doc_id: patches[uid] for uid, doc_id in known.items()}

        def apply(doc: MutableMapping[str, Any]) -> None:
            doc_id = known[doc["uid"]]
            fields = by_id[doc_id]
            first_seen, queries = doc.get("first_seen"), list(doc.get("queries", ()))
            doc.update(fields)
            doc["first_seen"] = first_seen
            if query and query not in queries:
                queries.append(query)
            doc["queries"] = queries

        self._items.update(apply, doc_ids=list(by_id))
        for doc_id in by_id:
            self._index_doc(doc_id, self._raw("items")[str(doc_id)])

    def sequence(self) -> int:
        """The number of the last commit that added or changed items (0 for a new store)."""
        with self.lock:
            meta: dict[str, Any] = next(iter(self._raw("meta").values()), {})
            return int(meta.get("seq", 0))

    # -- query state and runs

    def query_state(self, name: str) -> QueryState:
        with self.lock:
            doc = next((d for d in self._raw("query_state").values() if d.get("query") == name), None)
            return QueryState.from_dict(doc) if doc else QueryState()

    def save_state(self, name: str, state: QueryState) -> None:
        with self.lock:
            self._writable()
            self._put_state(name, state)
            self._flush()

    def runs(self, query: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            runs = [dict(r) for r in self._raw("runs").values()]
        return [r for r in runs if query is None or r.get("query") == query]

    # -- outbox

    def pending(self) -> list[Pending]:
        """Notifications not yet confirmed by their channel, oldest first; those of one commit
        in the order they were queued (document ids only grow).

        A counter that is not a count (a hand-edited file) reads as 0, with one warning, so
        one bad field never stops delivery: the notification is sent again from its start."""
        with self.lock:
            docs = sorted(self._raw("outbox").items(), key=lambda kv: (str(kv[1].get("created", "")), int(kv[0])))
            return [Pending.from_doc(self._checked(dict(doc))) for _, doc in docs]

    def _checked(self, note: dict[str, Any]) -> dict[str, Any]:
        for key in ("attempts", "sent_parts"):
            if key in note and not _is_count(note[key]):
                log.warning("store file %s: notification %s has %s = %r, not a count; read as 0",
                            self.path or "(memory)", note.get("id"), key, note[key])  # fmt: skip
                note[key] = 0
        if "sent_uids" in note and not _is_uid_list(note["sent_uids"]):
            log.warning("store file %s: notification %s has sent_uids = %r, not a list of ids; read as none",
                        self.path or "(memory)", note.get("id"), note["sent_uids"])  # fmt: skip
            note["sent_uids"] = []
        return note

    def add_notifications(self, notes: Sequence[Notification]) -> None:
        self.commit("", outbox=notes)

    def mark_delivered(self, note_id: str) -> None:
        """Its channel confirmed it: the notification leaves the outbox (journalled, not a rewrite)."""
        self._journal({"op": "delivered", "id": note_id})

    def drop(self, note_id: str) -> bool:
        """Remove a pending notification unsent (an operator's decision); False if unknown."""
        with self.lock:
            known = self._note(note_id) is not None
            if known:
                self._journal({"op": "dropped", "id": note_id})
            return known

    def retry(self, note_id: str) -> bool:
        """Clear a pending notification's error and attempt count (its progress is kept) and put
        it back in line if it was set aside; False if unknown."""
        with self.lock:
            known = self._note(note_id) is not None
            if known:
                self._journal({"op": "progress", "id": note_id, "attempts": 0, "last_error": None,
                               "set_aside": False})
            return known

    def set_aside(self, note_id: str) -> None:
        """Keep a notification its channel refused twice, out of line: flushes skip it until
        `retry`; `status` and `litwatch outbox` show it."""
        self._journal({"op": "progress", "id": note_id, "set_aside": True})

    def record_failure(self, note_id: str, error: str, sent_parts: int | None = None,
                       sent_uids: Sequence[str] | None = None) -> None:
        """Keep the notification pending with its error, attempt count and progress."""
        with self.lock:
            note = self._note(note_id)
            if note is None:
                return
            record: dict[str, Any] = {"op": "progress", "id": note_id,
                                      "attempts": int(note.get("attempts", 0)) + 1, "last_error": error}
            if sent_parts is not None:
                record["sent_parts"] = sent_parts
            if sent_uids is not None:
                record["sent_uids"] = list(sent_uids)
            self._journal(record)

    def record_progress(self, note_id: str, sent_parts: int, sent_uids: Sequence[str] = ()) -> None:
        """One part of a split notification is confirmed: a resumed delivery skips it."""
        self._journal({"op": "progress", "id": note_id, "sent_parts": sent_parts, "sent_uids": list(sent_uids)})

    def _journal(self, record: dict[str, Any]) -> None:
        with self.lock:
            self._writable()
            if record.get("op") != "destination" and not self._outbox_ids(str(record.get("id"))):
                return  # the notification is already gone
            # On disk first: memory never says "sent" when the journal does not.
            try:
                self._storage.append_journal(record)
            except OSError as exc:
                journal = getattr(self._storage, "journal_path", JOURNAL_FILE)
                raise StoreError(f"cannot record a delivery in {journal}: {_os_problem(exc)}; the "
                                 "notification stays pending (its channel may show it twice after the fix)") from None
            self._apply_journal(record)

    def _apply_journal(self, record: Mapping[str, Any]) -> bool:
        """Apply one journal record to memory; False when it changes nothing."""
        if record.get("op") == "destination":
            return self._set_destination(str(record.get("scheme")), bool(record.get("on")))
        doc_ids = self._outbox_ids(str(record.get("id")))
        if not doc_ids:
            return False
        if record.get("op") in ("delivered", "dropped"):
            self._outbox.remove(doc_ids=doc_ids)
            return True
        fields = {k: v for k, v in record.items() if _JOURNAL_FIELDS.get(k, _never)(v)}
        self._outbox.update(fields, doc_ids=doc_ids)
        return True

    def _note(self, note_id: str) -> dict[str, Any] | None:
        return next((self._checked(dict(v)) for v in self._raw("outbox").values() if v.get("id") == note_id), None)

    # -- where notifications go

    def destinations(self) -> set[str]:
        """The channels (route schemes: "slack", "mailto") a delivery was ever confirmed
        through. A shell without that channel only previews their notifications."""
        with self.lock:
            return {str(d) for m in self._raw("meta").values() for d in m.get("destinations") or ()}

    def remember_destination(self, scheme: str) -> None:
        """A delivery through `scheme` was confirmed: from now on a shell without that channel
        previews its notifications instead of consuming them (journalled, no rewrite)."""
        with self.lock:
            if scheme not in self.destinations():
                self._journal({"op": "destination", "scheme": scheme, "on": True})

    def forget_destination(self, scheme: str) -> bool:
        """Make the terminal the destination again for `scheme`'s notifications when that
        channel is not configured; False if it was not a destination."""
        with self.lock:
            if scheme not in self.destinations():
                return False
            self._journal({"op": "destination", "scheme": scheme, "on": False})
            return True

    def _set_destination(self, scheme: str, on: bool) -> bool:
        known = self.destinations()
        wanted = known | {scheme} if on else known - {scheme}
        if wanted == known:
            return False
        if self._raw("meta"):
            self._meta.update({"destinations": sorted(wanted)})
        else:
            self._meta.insert({"schema": SCHEMA_VERSION, "destinations": sorted(wanted)})
        return True

    # -- subscriptions

    def subscribe(self, target: str, period: str = "weekly", *, now: datetime | None = None) -> bool:
        """Subscribe a channel or user to a digest; False if it already was (period updated)."""
        stamp = (now or _utcnow()).isoformat(timespec="seconds")
        with self.lock:
            self._writable()
            existing = self._sub_ids(target)
            if existing:
                self._subs.update({"period": period}, doc_ids=existing)
            else:
                # A new subscriber's first digest covers what arrives from now on.
                self._subs.insert({"target": target, "period": period, "created": stamp,
                                   "last_digest": stamp, "last_digest_seq": self.sequence()})
            self._flush()
            return not existing

    def unsubscribe(self, target: str) -> bool:
        with self.lock:
            self._writable()
            existing = self._sub_ids(target)
            if existing:
                self._subs.remove(doc_ids=existing)
                self._flush()
            return bool(existing)

    def drop_digests(self, target: str) -> int:
        """Remove the digests still pending for `target` (it unsubscribed); how many there were."""
        with self.lock:
            self._writable()
            ids = [int(k) for k, v in self._raw("outbox").items()
                   if v.get("kind") == "digest" and v.get("route") == target]  # fmt: skip
            if ids:
                self._outbox.remove(doc_ids=ids)
                self._flush()
            return len(ids)

    def subscriptions(self) -> list[dict[str, Any]]:
        with self.lock:
            return sorted((dict(s) for s in self._raw("subscriptions").values()),
                          key=lambda s: s["target"])

    # -- screening decisions (append-only: a change of mind is a new decision)

    def record_decisions(self, decisions: Sequence[Decision]) -> list[Decision]:
        """Append decisions in one write; the ones recorded (a repeat of a record's current
        decision by the same person is a double click and adds nothing).

        Every uid must be stored, or nothing is written (UnknownRecord names them).
        """
        with self.lock:
            self._writable()
            unknown = list(dict.fromkeys(d.uid for d in decisions if d.uid not in self._index))
            if unknown:
                shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
                raise UnknownRecord(f"no stored record {shown}; nothing was recorded "
                                    "(`litwatch export` lists the uids litwatch holds)")
            latest = self._current_map()
            recorded = []
            for decision in decisions:
                if decision.same_call(latest.get(decision.uid)):
                    continue
                recorded.append(decision)
                latest[decision.uid] = decision
            if recorded:
                self._decisions.insert_multiple([d.to_dict() for d in recorded])
                self._flush()  # a failed write reloads memory, and the decisions cache with it
            return recorded

    def decision_history(self, uid: str | None = None) -> list[Decision]:
        """Every decision recorded (on `uid`, or all), oldest first."""
        with self.lock:
            rows = sorted(self._raw("decisions").items(), key=lambda kv: int(kv[0]))
            return [Decision.from_dict(doc) for _, doc in rows if uid is None or doc.get("uid") == uid]

    def current_decisions(self) -> dict[str, Decision]:
        """Each decided record's latest decision, by uid."""
        with self.lock:
            return dict(self._current_map())

    def record_examples(self, examples: Sequence[Example]) -> list[Example]:
        """Append decided records litwatch does not hold (their text trains the ranker) in one
        write; an example the same as the current one for its key adds nothing."""
        with self.lock:
            self._writable()
            latest = self.examples()
            recorded = []
            for example in examples:
                known = latest.get(example.key)
                if known is not None and (known.decision, known.title, known.abstract) == (
                        example.decision, example.title, example.abstract):  # fmt: skip
                    continue
                recorded.append(example)
                latest[example.key] = example
            if recorded:
                self._examples.insert_multiple([e.to_dict() for e in recorded])
                self._flush()
            return recorded

    def examples(self) -> dict[str, Example]:
        """The latest example for each key."""
        with self.lock:
            rows = sorted(self._raw("examples").items(), key=lambda kv: int(kv[0]))
            return {doc["key"]: Example.from_dict(doc) for _, doc in rows}

    def record_safety_feedback(self, feedback: SafetyFeedback) -> bool:
        """Append a reviewer's word on a safety alert (a label for the next `make model`);
        False when it repeats that person's latest word on the record (a double click).

        The record must be stored (UnknownRecord otherwise, nothing written)."""
        with self.lock:
            self._writable()
            if feedback.uid not in self._index:
                raise UnknownRecord(f"no stored record {feedback.uid}; nothing was recorded")
            latest = self.safety_feedback().get(feedback.uid)
            if latest is not None and (latest.signal, latest.by.id) == (feedback.signal, feedback.by.id):
                return False
            self._safety_feedback.insert(feedback.to_dict())
            self._flush()
            return True

    def safety_feedback(self) -> dict[str, SafetyFeedback]:
        """The latest word on each record's safety alert, by uid (table `safety_feedback`)."""
        with self.lock:
            rows = sorted(self._raw("safety_feedback").items(), key=lambda kv: int(kv[0]))
            return {doc["uid"]: SafetyFeedback.from_dict(doc) for _, doc in rows}

    def _current_map(self) -> dict[str, Decision]:
        if self._current is None:
            self._current = current(self.decision_history())
        return self._current

    # -- internals

    def _table(self, name: str) -> Table:
        return self._db.table(name, cache_size=0)

    def _raw(self, table: str) -> dict[str, Any]:
        # Read-only view of a table's documents, without TinyDB's per-document copies.
        data = self._storage.read() or {}
        return data.get(table, {})

    def _index_doc(self, doc_id: int, doc: Mapping[str, Any]) -> None:
        self._index[doc["uid"]] = (doc_id, doc.get("fingerprint", ""))
        if doc.get("doi"):
            self._doi[str(doc["doi"]).lower()] = doc["uid"]

    def _check_schema(self, *, write: bool) -> None:
        raw = self._storage.read()
        if raw is None or not raw:
            if not self.readonly:
                self._meta.insert({"schema": SCHEMA_VERSION})
            return
        version = self._schema_version(raw)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store file {self.path} has schema {version}, newer than this litwatch "
                f"understands ({SCHEMA_VERSION}); upgrade litwatch"
            )
        if version < SCHEMA_VERSION:
            for step in range(version, SCHEMA_VERSION):
                raw = MIGRATIONS[step](raw)
            meta: dict[str, Any] = next(iter(raw.get("meta", {}).values()), {})
            raw["meta"] = {"1": {**meta, "schema": SCHEMA_VERSION}}
            self._storage.write(raw)
            if write:  # a reader (or a retry after a failed write) upgrades its copy in memory only
                self._flush()

    def _schema_version(self, raw: Mapping[str, Any]) -> int:
        """The file's schema; a file whose `meta` was lost is read as schema 1, the first one."""
        meta = raw.get("meta")
        if not meta:
            log.warning("store file %s has no meta table; reading it as schema 1 and upgrading it", self.path)
            return 1
        version = next(iter(meta.values())).get("schema", 1)  # every record is a dict (_load_file)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise StoreError(
                f"store file {self.path}: meta.schema is {version!r}, not a schema number. The file was "
                f"left untouched: fix the value (1 for a store from before this release) or restore a backup"
            )
        return version

    def _put_state(self, name: str, state: QueryState) -> None:
        doc = {"query": name, **state.to_dict()}
        ids = [int(k) for k, v in self._raw("query_state").items() if v.get("query") == name]
        if ids:
            self._states.update(doc, doc_ids=ids)
        else:
            self._states.insert(doc)

    def _outbox_ids(self, note_id: str) -> list[int]:
        return [int(k) for k, v in self._raw("outbox").items() if v.get("id") == note_id]

    def _sub_ids(self, target: str) -> list[int]:
        return [int(k) for k, v in self._raw("subscriptions").items() if v.get("target") == target]

    def _writable(self) -> None:
        """Called under the store lock, so no write can slip in after `close`."""
        if self.readonly:
            raise StoreError("the store was opened read-only (another process is writing)")
        if self._closed:
            raise StoreError("the store is closed (litwatch is stopping)")


def _never(value: Any) -> bool:
    return False


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_uid_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(uid, str) for uid in value)


# What a journal record may set on its notification, and the shape each value must have.
_JOURNAL_FIELDS: dict[str, Callable[[Any], bool]] = {
    "attempts": _is_count,
    "sent_parts": _is_count,
    "sent_uids": _is_uid_list,
    "last_error": lambda value: value is None or isinstance(value, str),
    "set_aside": lambda value: isinstance(value, bool),
}

# What to do about an OS error on the data directory, by errno.
_REMEDIES = {
    errno.ENOSPC: "free disk space on that volume",
    errno.EDQUOT: "raise the disk quota or free space",
    errno.EROFS: "the file system is read-only: remount it read-write or point LITWATCH_DATA elsewhere",
    errno.EACCES: "give the litwatch user write permission there",
    errno.EPERM: "give the litwatch user write permission there",
    errno.EIO: "the disk reports I/O errors: check it, or move LITWATCH_DATA to a healthy disk",
    errno.EFBIG: "the file is over this process's file-size limit: raise it (ulimit -f)",
}


def _os_problem(exc: OSError) -> str:
    """An OSError as one line: what happened and what to do."""
    what = exc.strerror or str(exc)
    remedy = _REMEDIES.get(exc.errno or 0)
    return f"{what} ({remedy})" if remedy else what


def item_stamp(doc: Mapping[str, Any]) -> str:
    """When an item last arrived or changed: the later of its first_seen and last_changed."""
    return max(str(doc.get("first_seen") or ""), str(doc.get("last_changed") or ""))


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Build many long-lived containers without the cyclic GC rescanning the store each time.

    Loading a 100k-item store allocates millions of dicts and lists, none of them garbage;
    with the collector running, repeated full scans of the growing heap cost more than the
    parse itself (2.2 s vs 0.8 s for orjson.loads alone, measured here).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _write_all(fd: int, data: bytes) -> None:
    """`os.write` until every byte is written (a write may take fewer than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _take_dir_lock(data_dir: Path) -> Any:
    path = data_dir / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the store's life
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise StoreLocked(
            f"data directory {data_dir} is in use by another litwatch process (PID {holder}); "
            "stop it first, or use read-only commands such as `litwatch export`"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _utcnow() -> datetime:
    from bot.config import now

    return now()
