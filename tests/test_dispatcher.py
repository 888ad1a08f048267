"""The command dispatcher's wait: what a stopping daemon waits for among slash-command replies."""

from __future__ import annotations

import threading

from bot.slack.listener import CommandDispatcher


def dispatcher(workers: int = 1) -> CommandDispatcher:
    return CommandDispatcher(services=None, workers=workers)  # type: ignore[arg-type]  # work is given directly


def test_wait_covers_a_command_queued_behind_a_busy_worker() -> None:
    """A command still queued counts as in progress until it has run, and wait then returns True."""
    commands = dispatcher()
    release = threading.Event()
    ran: list[str] = []
    commands.start(lambda: ran.append("first") if release.wait(10) else None)
    commands.start(lambda: ran.append("queued"))
    assert commands.wait(0.1) is False
    release.set()
    assert commands.wait(5) is True
    assert ran == ["first", "queued"]


def test_close_cancels_queued_commands_and_wait_sees_only_the_running_one() -> None:
    """After close, a queued command never runs and no longer counts; the running one does until it ends."""
    commands = dispatcher()
    release = threading.Event()
    started = threading.Event()
    ran: list[str] = []

    def running() -> None:
        started.set()
        release.wait(10)
        ran.append("running")

    commands.start(running)
    commands.start(lambda: ran.append("queued"))
    assert started.wait(5)
    commands.close()
    assert commands.wait(0.1) is False
    release.set()
    assert commands.wait(5) is True
    assert ran == ["running"]


def test_a_failing_command_still_ends_its_count() -> None:
    """A command whose work raises is no longer waited for once it has failed."""
    commands = dispatcher()

    def broken() -> None:
        raise RuntimeError("boom")

    commands.start(broken)
    assert commands.wait(5) is True
