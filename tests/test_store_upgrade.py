"""A store written by the previous release (schema 1) opens, upgrades once and keeps working."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.diff import fingerprint
from bot.digest import build_digests
from bot.models import Item
from bot.pipeline import run_query
from bot.store import STORE_FILE, Store
from tests.daemon_kit import label
from tests.factories import context, pubmed_item, write_config
from tests.fakes.feeds import FakeFeeds
from tests.test_feeds import TWO_FEEDS, numbered_feed, source


def old_doc(item: Item, query: str, stamp: str) -> dict[str, Any]:
    """An item as schema 1 stored it."""
    return {**item.to_dict(), "uid": item.uid, "queries": [query], "first_seen": stamp,
            "last_changed": stamp, "fingerprint": fingerprint(item), "changes": []}  # fmt: skip


def write_schema_1(data_dir: Path, items: list[dict[str, Any]], *, outbox: list[dict[str, Any]] = (),  # type: ignore[assignment]
                   subscriptions: list[dict[str, Any]] = ()) -> Path:  # type: ignore[assignment]  # fmt: skip
    """A store file in the previous release's shape, as that release wrote it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    raw = {
        "meta": {"1": {"schema": 1, "delivers_to": "slack"}},
        "items": {str(n): doc for n, doc in enumerate(items, 1)},
        "query_state": {}, "runs": {},
        "outbox": {str(n): note for n, note in enumerate(outbox, 1)},
        "subscriptions": {str(n): sub for n, sub in enumerate(subscriptions, 1)},
    }  # fmt: skip
    path = data_dir / STORE_FILE
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def host_scoped(netloc: str, prefix: str, n: int) -> Item:
    """A feed entry with a bare guid, identified the schema-1 way: by the feed's host."""
    return Item(source="feed", id=f"{netloc}/{n}", title=f"{prefix} notice {n}",
                url=f"https://alerts.example.org/{prefix}/{n}", journal=prefix, feed_title=prefix)


def test_feed_items_of_an_old_store_keep_working_without_a_changed_flood(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (issue 14, finding 9, migration): a schema-1 store's host-scoped feed items
    are renamed to the feed's scope in place (pending notifications follow), so the upgraded
    bot finds every entry unchanged, and the entries the old scheme had lost arrive as new."""
    data = tmp_path / "data"
    with FakeFeeds(validators=False) as fake:
        netloc = fake.url.split("//", 1)[1]
        fake.publish("/recalls.xml", numbered_feed("recall", 5))
        fake.publish("/warnings.xml", numbered_feed("warning", 5))
        # What schema 1 held after both feeds ran: one item per guid, the recall's.
        docs = [old_doc(host_scoped(netloc, "recall", n), "recalls", "2026-02-01T06:00:00+00:00")
                for n in range(1, 6)]  # fmt: skip
        docs.append(old_doc(pubmed_item(1), "pm", "2026-02-01T06:00:00+00:00"))
        note = {"id": "n1", "type": "items", "channel": "C111", "query": "recalls", "created": "2026-02-01",
                "uids": [f"feed:{netloc}/1", "pmid:30000001"], "sent_uids": [f"feed:{netloc}/1"],
                "attempts": 1, "last_error": "not_in_channel", "sent_parts": 0}  # fmt: skip
        write_schema_1(data, docs, outbox=[note])
        settings = load_settings(write_config(tmp_path, TWO_FEEDS.format(url=fake.url)))
        monkeypatch.setenv("LITWATCH_NOW", "2026-03-01T06:00:00+00:00")
        with Store.open(data) as store:
            assert store.get(f"feed:{netloc}/1") is None and store.get("feed:recalls/1") is not None
            assert store.get("pmid:30000001") is not None
            [pending] = store.pending()
            assert pending.uids == ("feed:recalls/1", "pmid:30000001") and pending.route == "slack:C111"
            assert pending.sent_uids == ("feed:recalls/1",)
            assert store.destinations() == {"slack"}  # the rest of meta survives the upgrades
            reports = [run_query(q, context(settings, store, {"feed": source()}, classify=label))
                       for q in settings.queries]  # fmt: skip
    assert [(r.new, r.changed, r.baseline) for r in reports] == [(0, 0, True), (5, 0, True)]
    raw = json.loads((data / STORE_FILE).read_text(encoding="utf-8"))
    assert raw["meta"]["1"]["schema"] == 3


def test_an_old_store_is_read_by_read_only_commands_without_writing_it(tmp_path: Path) -> None:
    """`export` and `status` (read-only) read a schema-1 store, upgraded in memory; the file
    itself is upgraded by the next writer."""
    data = tmp_path / "data"
    path = write_schema_1(data, [old_doc(pubmed_item(1), "pm", "2026-02-01T06:00:00+00:00")])
    before = path.read_bytes()
    with Store.open(data, readonly=True) as store:
        assert store.get("pmid:30000001") is not None and store.sequence() == 1
    assert path.read_bytes() == before


def test_digest_marks_of_an_old_store_carry_over(tmp_path: Path) -> None:
    """Regression (issue 14, finding 10, migration): a subscriber's last digest of a schema-1
    store becomes a commit number, so its next digest holds exactly what came after."""
    data = tmp_path / "data"
    docs = [old_doc(pubmed_item(n), "pm", stamp) for n, stamp in
            ((1, "2026-02-01T06:00:00+00:00"), (2, "2026-02-02T09:00:00+00:00"), (3, "2026-02-03T06:00:00+00:00"))]
    sub = {"target": "#team", "period": "weekly", "created": "2026-01-01T00:00:00+00:00",
           "last_digest": "2026-02-02T09:00:00+00:00"}  # fmt: skip
    write_schema_1(data, docs, subscriptions=[sub])
    settings = load_settings(write_config(tmp_path))
    with Store.open(data) as store:
        [note] = build_digests(store, settings, moment=datetime(2026, 2, 9, 9, 0, tzinfo=UTC) + timedelta(hours=1))
        assert note.uids == ("pmid:30000003",)
        assert store.subscriptions()[0]["last_digest_seq"] == 2


def test_a_store_without_meta_is_read_as_schema_1(tmp_path: Path) -> None:
    """Regression (issue 14, finding 11: a store without `meta` was told "run litwatch once",
    which died with KeyError: 0): it opens as a schema-1 store and is upgraded, nothing lost."""
    data = tmp_path / "data"
    path = write_schema_1(data, [old_doc(pubmed_item(1), "pm", "2026-02-01T06:00:00+00:00")])
    raw = json.loads(path.read_text(encoding="utf-8"))
    del raw["meta"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    with Store.open(data, readonly=True) as store:
        assert len(store) == 1
    with Store.open(data) as store:
        assert len(store) == 1
    assert json.loads(path.read_text(encoding="utf-8"))["meta"]["1"]["schema"] == 3
