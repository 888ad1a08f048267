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
    compact_parts = 4  # 20 items after a size refusal: 5 per message

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

    def refuse(self, times: int, *, after: int = 0, too_big: bool = False) -> None:
        self.fake.fail("chat.postMessage", after=after, times=times,
                       error="msg_too_long" if too_big else "invalid_blocks")

    def texts(self) -> list[str]:
        return [m.all_text() for m in self.fake.messages]

    def delivered(self) -> Counter[str]:
        return Counter(re.findall(r"\|PMID (\d+)>", posted_text(self.fake.messages)))


class EmailRig:
    scheme, parts_of = "mailto", 520  # 520 grouped items: two e-mails of at most 500
    compact_parts = 1  # 20 items after a size refusal: still one e-mail (125 per part)

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
        self.fake.data_replies = [""] * confirmed + ["451 4.3.0 try again later"] * 3  # past the 3 attempts

    def refuse(self, times: int, *, after: int = 0, too_big: bool = False) -> None:
        reply = "552 5.3.4 message too big" if too_big else "554 5.6.0 message refused"
        self.fake.data_replies = [""] * after + [reply] * times

    def texts(self) -> list[str]:
        return [r.message.get_body(("plain",)).get_content() for r in self.fake.received]  # type: ignore[union-attr]

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


def test_a_message_refused_twice_is_set_aside_and_later_ones_keep_flowing(rig: Rig) -> None:
    """Issue 14 item 1: a notification the channel refuses for itself is retried once, then set aside
    with its attempts and error and one line saying so; the notifications after it are delivered."""
    store = Store.memory()
    baseline_then(rig.settings, store, [pubmed_item(n, title=f"Exosome safety case {n}") for n in range(1, 4)])
    rig.refuse(2)
    report = flush(store, channels(rig.channel()))
    assert report.delivered == 2 and len(report.set_aside) == 1 and not report.failed
    [refused] = [n for n in store.pending() if n.set_aside]
    assert refused.attempts == 2 and refused.last_error and refused.uids == ("pmid:30000001",)
    assert set(rig.delivered()) == {"30000002", "30000003"}
    [alert] = store.pending()[1:]
    assert alert.kind == "set_aside" and alert.route == refused.route
    flush(store, channels(rig.channel()))  # the one-line alert goes out; the set-aside one stays out of line
    assert [n.id for n in store.pending()] == [refused.id]
    assert any(f"refused the safety notification {refused.id} of pm twice and it was set aside" in t
               for t in rig.texts())
    assert store.retry(refused.id)  # litwatch outbox retry ID
    assert flush(store, channels(rig.channel())).delivered == 1 and store.pending() == []
    assert set(rig.delivered().values()) == {1} and len(rig.delivered()) == 3


def test_a_message_refused_as_too_big_is_sent_again_in_smaller_parts(rig: Rig) -> None:
    """Size refused (Slack msg_too_long, SMTP 552): the one retry splits the items into smaller parts,
    and each item arrives once."""
    store = Store.memory()
    baseline_then(rig.settings, store, [pubmed_item(n) for n in range(1, 21)])
    rig.refuse(1, too_big=True)
    report = flush(store, channels(rig.channel()))
    assert report.delivered == 1 and not report.set_aside and store.pending() == []
    assert len(rig.texts()) == rig.compact_parts
    assert len(rig.delivered()) == 20 and set(rig.delivered().values()) == {1}
