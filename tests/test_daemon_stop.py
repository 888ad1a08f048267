"""Stopping the daemon in process: runs from any thread are abandoned uncommitted, and a
delivery Slack confirmed is marked sent, so a deliberate stop repeats nothing."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bot.config import load_settings, now
from bot.daemon import Daemon, Runner
from bot.errors import StoreError
from bot.notify import Notification
from bot.outbox import PartConfirmed
from bot.render import PLAIN
from bot.store import QueryState, Store
from tests.daemon_kit import CONFIG, ScriptedSource, context, daemon_rig
from tests.factories import pubmed_item


class GatedChannel:
    """A Slack-like channel that holds every send until `release` is set (Slack answering
    slowly), then confirms it; records the item uids of each notification it confirmed."""

    scheme, label, format = "slack", "Slack", PLAIN

    def __init__(self, *, gated: bool = True) -> None:
        self.sending = threading.Event()
        self.release = threading.Event()
        if not gated:
            self.release.set()
        self.confirmed: list[tuple[str, ...]] = []

    def send(self, notification: Notification, items: list[dict[str, Any]], start_part: int,
             on_part: PartConfirmed | None = None) -> None:  # fmt: skip
        self.sending.set()
        assert self.release.wait(10), "the test never let Slack answer"
        self.confirmed.append(notification.uids)
        if on_part is not None:
            uids: Sequence[str] = [doc["uid"] for doc in items]
            on_part(start_part + 1, uids)


def test_stop_during_a_confirmed_delivery_marks_it_and_never_reposts_it(tmp_path: Path) -> None:
    """Regression (stop took the store lock for good, so a delivery Slack had confirmed could
    not be marked and was posted again after restart): the confirmed notification is marked
    sent, the next one is not started, and the restart sends only that one."""
    config = tmp_path / "litwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(config)
    store = Store.open(tmp_path / "data")
    # "pm" is due (a regular run, not a baseline: one alert per safety item); "ct" is not.
    store.save_state("pm", QueryState(watermark=date(2025, 1, 1), last_success="2025-01-01T00:00:00+00:00"))
    store.save_state("ct", QueryState(watermark=now().date(), last_success=now().isoformat()))
    sources = {"pubmed": ScriptedSource(items=[pubmed_item(1, title="Safety signal one"),
                                               pubmed_item(2, title="Safety signal two")]),
               "clinicaltrials": ScriptedSource()}  # fmt: skip
    sink = GatedChannel()
    daemon = Daemon(Runner(context(settings, store, sources, sink)))
    assert daemon.start(catch_up=True) == ["pm"]
    assert sink.sending.wait(10), "the run's delivery never started"
    # Slack confirms the first alert while stop() is already past its drain time.
    threading.Timer(0.5, sink.release.set).start()
    assert daemon.stop(drain=0.2, lock_wait=5.0) is True
    assert len(sink.confirmed) == 1
    with Store.open(tmp_path / "data") as again:  # the next start (the daemon released the lock)
        assert again.query_state("pm").watermark == now().date()  # the run had committed
        left = again.pending()
        assert [n.uids for n in left] != sink.confirmed and len(left) == 1
        restarted = GatedChannel(gated=False)
        Runner(context(settings, again, sources, restarted)).deliver()
        assert again.pending() == []
    assert restarted.confirmed == [left[0].uids]  # the confirmed one was not posted again


def test_stop_during_a_chat_run_abandons_it_uncommitted_after_the_store_closes(tmp_path: Path) -> None:
    """Regression (`/litwatch run` from chat was neither drained nor blocked: stop() said
    "finished" and the run committed after the store's directory lock was released): the
    chat run is waited for, reported abandoned, and commits nothing."""
    gate = threading.Event()
    sources = {"pubmed": ScriptedSource(items=[pubmed_item(1)], gate=gate),
               "clinicaltrials": ScriptedSource()}  # fmt: skip
    with daemon_rig(tmp_path, sources=sources) as rig:
        rig.command("run pm")
        assert sources["pubmed"].started.wait(10)
        assert rig.daemon.stop(drain=0.5, lock_wait=0.5) is False
        assert rig.daemon.abandoned == ["query:pm"]
        with Store.open(tmp_path / "data"):  # the directory lock is free: the next start can open
            pass
        gate.set()  # the fetch ends after the stop
        reply = rig.slack.wait_responses(1)[0]
        assert "litwatch is stopping" in reply.all_text()
        assert [(r.query, r.abandoned) for r in rig.daemon.runner.reports] == [("pm", True)]
        state = rig.store.query_state("pm")
        assert state.watermark is None and state.last_attempt is None
        assert rig.store.get("pmid:30000001") is None and rig.store.pending() == []
        try:
            rig.store.subscribe("C1")
            written = True
        except StoreError:
            written = False
        assert not written, "a closed store accepted a write"
    with Store.open(tmp_path / "data") as disk:  # what the next start finds on disk
        assert disk.query_state("pm").watermark is None and len(disk) == 0


def test_stop_with_nothing_in_flight_finishes_at_once(tmp_path: Path) -> None:
    """An idle daemon stops cleanly: nothing abandoned, the store closed."""
    with daemon_rig(tmp_path) as rig:
        assert rig.daemon.stop(drain=2.0) is True
        assert rig.daemon.abandoned == []
        with Store.open(tmp_path / "data") as store:
            assert store.pending() == []


