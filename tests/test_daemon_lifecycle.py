"""The daemon as a process: catch-up on start, SIGTERM mid-run, restart without loss or repeats."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from tests.conftest import ROOT
from tests.factories import pubmed_item
from tests.fakes.http import FakeServer, Request, Response, closed_port

pytestmark = pytest.mark.slow

CONFIG = """
[slack]
channel = "C0ALERTS1"

[[queries]]
name = "pm"
source = "pubmed"
term = "exosome alopecia"
schedule = "0 6 * * *"
"""
DAY0 = "2025-03-10T12:00:00+00:00"
DAY2 = "2025-03-12T12:00:00+00:00"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} "  # how every line the daemon writes starts


class Upstream:
    """The test source's server: which items it returns and how slowly."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.delay = 0.0
        self.fetched = threading.Event()

    def __call__(self, request: Request) -> Response:
        self.fetched.set()
        return Response(200, json.dumps(self.items), {"Content-Type": "application/json"},
                        delay=self.delay)  # fmt: skip


class Daemon:
    """A `tests.daemon_proc` child process whose stdout is collected line by line."""

    def __init__(self, tmp_path: Path, source_url: str, now: str, **extra_env: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(LITWATCH_CONFIG=str(tmp_path / "litwatch.toml"),
                   LITWATCH_DATA=str(tmp_path / "data"), LITWATCH_NOW=now, PYTHONUNBUFFERED="1",
                   **extra_env)  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.daemon_proc", source_url], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, needle: str, timeout: float = 20.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: needle in "\n".join(self.lines), timeout)

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, as a platform sends on deploy; the exit code (fails past `timeout`)."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(5)
        return code


@contextmanager
def upstream() -> Iterator[tuple[Upstream, str]]:
    source = Upstream()
    with FakeServer(source) as server:
        yield source, server.url


def test_sigterm_mid_fetch_then_restart_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    """SIGTERM during a fetch exits in time without moving the watermark; the next start
    catches up and alerts the new record exactly once."""
    (tmp_path / "litwatch.toml").write_text(CONFIG, encoding="utf-8")
    first, second, new = (pubmed_item(n).to_dict() for n in (1, 2, 3))
    new["title"] = "A brand-new exosome trial"
    with upstream() as (source, url):
        # 1. First start: catch-up runs the never-run query as a baseline.
        source.items = [first, second]
        daemon = Daemon(tmp_path, url, DAY0)
        assert daemon.wait_for("pm: fetched 2, baseline"), daemon.output
        assert daemon.terminate() == 0
        assert "catching up: pm" in daemon.output

        # 2. Two days later: catch-up starts, the fetch hangs, the platform sends SIGTERM.
        source.items, source.delay = [first, second, new], 60.0
        source.fetched.clear()
        daemon = Daemon(tmp_path, url, DAY2)
        assert source.fetched.wait(20), daemon.output
        assert daemon.terminate(timeout=10) == 0, daemon.output
        assert "abandoned the running fetch (watermark unchanged)" in daemon.output
        with Store.open(tmp_path / "data", readonly=True) as store:
            state = store.query_state("pm")
            assert state.watermark == date(2025, 3, 10)
            assert state.last_success is not None and state.last_success.startswith("2025-03-10")
            assert store.get("pmid:30000003") is None and store.pending() == []

        # 3. Restart: catch-up runs it again, to completion this time.
        source.delay = 0.0
        daemon = Daemon(tmp_path, url, DAY2)
        assert daemon.wait_for("pm: fetched 3, new 1, changed 0"), daemon.output
        assert daemon.wait_for("A brand-new exosome trial")
        assert daemon.terminate() == 0
        third_output = daemon.output

        # 4. And once more: nothing is due, nothing is re-sent.
        daemon = Daemon(tmp_path, url, DAY2)
        assert daemon.wait_for("catching up: nothing"), daemon.output
        assert daemon.terminate() == 0
        fourth_output = daemon.output
    assert third_output.count("A brand-new exosome trial") == 1
    assert "A brand-new exosome trial" not in fourth_output
    with Store.open(tmp_path / "data", readonly=True) as store:
        assert store.query_state("pm").watermark == date(2025, 3, 12)
        assert store.get("pmid:30000003") is not None and store.pending() == []


def test_sigint_when_idle_exits_cleanly_and_releases_the_store(tmp_path: Path) -> None:
    """Ctrl-C on an idle daemon stops it at once and frees the data directory for the CLI."""
    (tmp_path / "litwatch.toml").write_text(CONFIG, encoding="utf-8")
    with upstream() as (source, url):
        source.items = [pubmed_item(1).to_dict()]
        daemon = Daemon(tmp_path, url, DAY0)
        assert daemon.wait_for("pm: fetched 1, baseline"), daemon.output
        daemon.proc.send_signal(signal.SIGINT)
        assert daemon.proc.wait(timeout=10) == 0
    assert "SIGINT: stopping" in "\n".join(daemon.lines)
    with Store.open(tmp_path / "data") as store:  # a writer: the daemon's lock is gone
        assert len(store) == 1


def test_slack_unreachable_at_start_the_schedule_runs_and_sigterm_while_retrying_exits(tmp_path: Path) -> None:
    """Regression (`SLACK_APP_TOKEN=... litwatch run` with Slack unreachable crashed at start
    with a URLError traceback, a crash loop on a platform): the catch-up run happens, each
    failed connect is one log line, and SIGTERM during the retry pause exits cleanly; the
    daemon's own lines, printed or logged, carry a time stamp."""
    (tmp_path / "litwatch.toml").write_text(CONFIG, encoding="utf-8")
    with upstream() as (source, url):
        source.items = [pubmed_item(1).to_dict()]
        daemon = Daemon(tmp_path, url, DAY0, SLACK_APP_TOKEN="xapp-1",
                        SLACK_API_URL=f"http://127.0.0.1:{closed_port()}/api/")  # fmt: skip
        assert daemon.wait_for("pm: fetched 1, baseline"), daemon.output
        assert daemon.wait_for("; retrying in 2 s"), daemon.output  # SIGTERM lands in that pause
        assert daemon.terminate(timeout=10) == 0
    output = daemon.output
    assert "Traceback" not in output and "URLError" not in output, output
    assert "slash commands over Socket Mode (connecting in the background)" in output
    unavailable = [line for line in daemon.lines if "slash commands unavailable: cannot reach Slack" in line]
    assert unavailable and all("could not connect to 127.0.0.1: [Errno 111] Connection refused" in line
                               for line in unavailable)  # fmt: skip
    assert "SIGTERM: stopping" in output and "abandoned" not in output
    # Issue 12: time stamps. Searched, not matched per line: another thread's print may
    # land between a line and its newline.
    for words in ("litwatch running", "pm: fetched 1", "WARNING slash commands unavailable", "SIGTERM: stopping"):
        assert re.search(STAMP + re.escape(words), output), (words, output)
    with Store.open(tmp_path / "data") as store:
        assert store.get("pmid:30000001") is not None
