"""The outbox's guarantees, run against each channel through its real client and a local fake:
nothing lost in an outage, nothing sent twice after one, split notifications resume after
the last confirmed part, and only a confirmed delivery makes a channel the store's destination."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import SmtpServer, load_settings
from bot.mail.deliver import EmailChannel
from bot.outbox import Channel, flush
from bot.retry import RetryPolicy
from bot.store import Store
from tests.factories import channels, pubmed_item, write_config
from tests.fakes.slack import FakeSlack, posted_text
from tests.fakes.smtp import FakeSmtp
from tests.test_slack_deliver import Pauses, baseline_then, sink_for

EMAIL_CONFIG = """
[email]
from = "litwatch@example.org"
alerts_to = ["team@example.org"]
safety_to = ["safety@example.org"]

[[queries]]
name = "pm"
source = "pubmed"
term = "exosome alopecia"
"""


class SlackRig:
    scheme, parts_of = "slack", 46  # 46 grouped items: three Slack messages

    def __init__(self, tmp_path: Path) -> None:
        self.fake = FakeSlack()
        self.settings = load_settings(write_config(tmp_path))
        self.pauses = Pauses()

    def channel(self) -> Channel:
        return sink_for(self.fake, self.pauses)

    def outage(self) -> None:
        self.fake.fail("chat.postMessage", status=500, times=1000)

    def recover(self) -> None:
        self.fake.faults.clear()

    def fail_after(self, confirmed: int) -> None:
        self.fake.fail("chat.postMessage", after=confirmed, error="fatal_error")

    def delivered(self) -> Counter[str]:
        return Counter(re.findall(r"\|PMID (\d+)>", posted_text(self.fake.messages)))


class EmailRig:
    scheme, parts_of = "mailto", 520  # 520 grouped items: two e-mails of at most 500

    def __init__(self, tmp_path: Path) -> None:
        self.fake = FakeSmtp()
        self.settings = load_settings(write_config(tmp_path, EMAIL_CONFIG))
        self.pauses = Pauses()

    def channel(self) -> Channel:
        policy = RetryPolicy(timeout=5, attempts=3, base_delay=0.001, max_delay=1, jitter=0)
        return EmailChannel(SmtpServer("127.0.0.1", self.fake.port), "litwatch@example.org",
                            policy=policy, sleep=self.pauses)

    def outage(self) -> None:
        self.fake.drop = 1000

    def recover(self) -> None:
        self.fake.drop = 0
        self.fake.data_replies.clear()

    def fail_after(self, confirmed: int) -> None:
        self.fake.data_replies = [""] * confirmed + ["554 5.6.0 message refused"]

    def delivered(self) -> Counter[str]:
        texts = [r.message.get_body(("plain",)).get_content() for r in self.fake.received]  # type: ignore[union-attr]
        return Counter(re.findall(r"PMID (\d+) <", "\n".join(texts)))


Rig = SlackRig | EmailRig


@pytest.fixture(params=["slack", "email"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    made = SlackRig(tmp_path) if request.param == "slack" else EmailRig(tmp_path)
    with made.fake:
        yield made


def test_an_outage_loses_nothing_and_recovery_sends_each_alert_once(rig: Rig) -> None:
    """The channel is down for a whole flush: every alert stays pending with its error; the next
    flush delivers each item exactly once."""
    store = Store.memory()
    later = [pubmed_item(n, title=f"Exosome safety case {n}") for n in range(1, 4)]
    later += [pubmed_item(n) for n in range(4, 30)]
    baseline_then(rig.settings, store, later)
    rig.outage()
    first = flush(store, channels(rig.channel()))
    assert first.delivered == 0 and first.failed and len(store.pending()) == 4
    assert all(note.last_error for note in store.pending()[:1])
    assert rig.pauses.seconds  # retried with backoff before giving up
    rig.recover()
    second = flush(store, channels(rig.channel()))
    assert not second.failed and store.pending() == []
    assert len(rig.delivered()) == 29 and set(rig.delivered().values()) == {1}


def test_a_half_sent_split_notification_resumes_after_the_confirmed_part(rig: Rig) -> None:
    """A failure on part 2 keeps the notification with the first part's items marked sent; the
    next flush sends only the others, so every item arrives exactly once."""
    store = Store.memory()
    baseline_then(rig.settings, store, [pubmed_item(n) for n in range(1, rig.parts_of + 1)])
    rig.fail_after(1)
    report = flush(store, channels(rig.channel()))
    [note] = store.pending()
    assert report.failed and note.sent_parts == 1 and 0 < len(note.sent_uids) < rig.parts_of
    rig.recover()
    flush(store, channels(rig.channel()))
    assert store.pending() == []
    assert len(rig.delivered()) == rig.parts_of and set(rig.delivered().values()) == {1}


def test_only_a_confirmed_delivery_makes_the_channel_a_destination(rig: Rig) -> None:
    """Regression (issue 12 item 5): a flush whose channel never confirmed anything leaves the store
    in terminal mode; the first confirmed delivery makes it a destination."""
    store = Store.memory()
    baseline_then(rig.settings, store, [pubmed_item(1)])
    rig.outage()
    flush(store, channels(rig.channel()))
    assert store.destinations() == set()
    rig.recover()
    flush(store, channels(rig.channel()))
    assert store.destinations() == {rig.scheme}


def test_without_the_channel_a_destination_store_is_previewed_until_sent_to_the_terminal(rig: Rig) -> None:
    """Once delivered through a channel, a shell without it prints its alerts and keeps them pending;
    `forget_destination` (litwatch outbox --to-terminal) makes the terminal the destination again."""
    store = Store.memory()
    baseline_then(rig.settings, store, [pubmed_item(1)])
    flush(store, channels(rig.channel()))
    baseline_then(rig.settings, store, [pubmed_item(2, title="Exosome safety case")])
    out = io.StringIO()
    report = flush(store, channels(console=out))
    assert report.held == {rig.scheme: 1} and len(store.pending()) == 1
    assert "Safety signal — pm" in out.getvalue()
    assert store.forget_destination(rig.scheme)
    report = flush(store, channels(console=out))
    assert report.delivered == 1 and store.pending() == []
