"""Shared set-up for daemon tests and the commands benchmark: fakes wired to a real Daemon."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.config import SavedQuery, Settings, load_settings
from bot.context import RunContext
from bot.daemon import Daemon, Runner
from bot.errors import SourceError
from bot.models import Classification, FetchResult, Item, Window
from bot.outbox import Channel
from bot.slack.deliver import SlackChannel
from bot.slack.listener import CommandDispatcher, SocketModeListener
from bot.slack.reach import cannot_post
from bot.store import Store
from tests import factories
from tests.conftest import LOCAL_FIXTURES
from tests.fakes.slack import APP_TOKEN, FakeSlack
from tests.fakes.socket_mode import FakeSocketMode

CONFIG = """
[slack]
channel = "C0ALERTS1"

[digest]
schedule = "0 9 * * mon"
timezone = "Europe/Berlin"

[[queries]]
name = "pm"
source = "pubmed"
term = "exosome alopecia"
schedule = "0 6 * * *"

[[queries]]
name = "ct"
source = "clinicaltrials"
term = "exosome"
schedule = "30 6 * * mon-fri"
"""


def socket_mode_message(path: Path) -> dict[str, Any]:
    """A Socket Mode message read from a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def fake_socket_mode(hello: Path | None = None, envelope: Path | None = None) -> FakeSocketMode:
    """A fake Socket Mode endpoint greeting with `hello` and re-addressing `envelope`.

    The defaults are the project's own messages (tests/fixtures), so the daemon tests run in a
    clone with nothing beside it; a test passes the recorded real pair to check they agree.
    """
    return FakeSocketMode(
        socket_mode_message(hello or LOCAL_FIXTURES / "socketmode_hello.json"),
        socket_mode_message(envelope or LOCAL_FIXTURES / "socketmode_envelope_slash_command.json"),
    )


def label(item: Item) -> Classification:
    """Test classifier: 'safety' in the title is a safety signal, everything else clinical."""
    return Classification(kind="clinical", safety="safety" in item.title.lower(),
                          reasons=("test rule: title",))  # fmt: skip


@dataclass
class ScriptedSource:
    """A source whose fetches and searches return what the test set, optionally slowly.

    `gate`, when set, makes fetch wait for it (a long scheduled run); `started` is set
    when a fetch begins; `search_started` records when each search began.
    """

    items: list[Item] = field(default_factory=list)
    search_items: list[Item] = field(default_factory=list)
    search_error: Exception | None = None
    search_delay: float = 0.0
    before_search: Callable[[], None] | None = None
    gate: threading.Event | None = None
    overlap: timedelta = timedelta(days=7)
    started: threading.Event = field(default_factory=threading.Event)
    fetches: list[Window] = field(default_factory=list)
    searches: list[tuple[str, int, date | None, float]] = field(default_factory=list)

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
        self.fetches.append(window)
        self.started.set()
        if self.gate is not None and not self.gate.wait(30):
            raise SourceError("gate never opened", query=query.name, retryable=True)
        return FetchResult(items=[Item.from_dict(i.to_dict()) for i in self.items])

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]:
        self.searches.append((terms, limit, since, time.monotonic()))
        if self.before_search is not None:
            self.before_search()
        time.sleep(self.search_delay)
        if self.search_error is not None:
            raise self.search_error
        return [Item.from_dict(i.to_dict()) for i in self.search_items][:limit]


@dataclass
class Rig:
    """A running daemon with its fakes."""

    daemon: Daemon
    slack: FakeSlack
    socket: FakeSocketMode
    store: Store
    settings: Settings
    sources: dict[str, ScriptedSource]
    console: io.StringIO

    def command(self, text: str, *, user_id: str = "U111", channel_id: str = "C0ALERTS1",
                envelope_id: str | None = None) -> str:  # fmt: skip
        """Send `/litwatch <text>` from Slack (by default in the config's alert channel);
        return the envelope id."""
        return self.socket.slash_command(text, response_url=self.slack.response_url(),
                                         user_id=user_id, channel_id=channel_id,
                                         envelope_id=envelope_id)  # fmt: skip


def context(settings: Settings, store: Store, sources: dict[str, Any], *available: Channel,
            console: io.StringIO | None = None) -> RunContext:
    """A daemon's run context with the test classifier, `available` channels and the console."""
    return factories.context(settings, store, sources, *available, classify=label, console=console)


@contextmanager
def daemon_rig(tmp_path: Path, *, config: str = CONFIG, catch_up: bool = False,
               sources: dict[str, ScriptedSource] | None = None,
               slack_sink: bool = False,
               socket_mode: tuple[Path, Path] | None = None) -> Iterator[Rig]:  # fmt: skip
    """A Daemon on a real store in `tmp_path`, with Socket Mode through the fakes; alerts go
    to the console, or with `slack_sink` through the real SlackChannel to the fake Slack (and
    `subscribe` then asks the fake whether the bot can post to the target).
    `socket_mode` names the (hello, slash envelope) files the fake speaks with."""
    config_path = tmp_path / "litwatch.toml"
    config_path.write_text(config, encoding="utf-8")
    settings = load_settings(config_path)
    sources = sources or {"pubmed": ScriptedSource(), "clinicaltrials": ScriptedSource()}
    console = io.StringIO()
    store = Store.open(tmp_path / "data")
    with FakeSlack() as slack, fake_socket_mode(*(socket_mode or ())) as socket:
        slack.route("apps.connections.open", socket.connections_open)
        via = (SlackChannel(slack.client(), pace=0),) if slack_sink else ()
        runner = Runner(context(settings, store, sources, *via, console=console))

        def listen(dispatcher: CommandDispatcher) -> SocketModeListener:
            return SocketModeListener(APP_TOKEN, dispatcher, api_url=slack.api_url)

        client = slack.client()
        daemon = Daemon(runner, listen=listen, slack_api_url=slack.api_url,
                        cannot_post=(lambda target: cannot_post(client, target)) if slack_sink else None)  # fmt: skip
        daemon.start(catch_up=catch_up)
        assert socket.wait_connected(10), "the Socket Mode client never connected"
        try:
            yield Rig(daemon, slack, socket, store, settings, sources, console)
        finally:
            daemon.stop(drain=5)
