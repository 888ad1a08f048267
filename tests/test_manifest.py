"""The Slack app manifest asks for the slash command, Socket Mode and only the scopes used."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def manifest_text() -> str:
    return (ROOT / "manifest.yml").read_text(encoding="utf-8")


def test_bot_scopes_are_exactly_the_ones_litwatch_uses() -> None:
    """chat:write, commands, im:write, files:write, and channels:read / groups:read for the
    subscribe check; nothing broader (no chat:write.public)."""
    block = manifest_text().split("    bot:\n", 1)[1].split("settings:", 1)[0]
    scopes = re.findall(r"^\s+- ([a-z:.]+)", block, flags=re.MULTILINE)
    assert sorted(scopes) == ["channels:read", "chat:write", "commands", "files:write", "groups:read", "im:write"]


def test_slash_command_and_socket_mode() -> None:
    """The manifest declares /litwatch and turns Socket Mode on."""
    text = manifest_text()
    assert re.search(r"^\s+- command: /litwatch$", text, flags=re.MULTILINE)
    assert re.search(r"^\s+socket_mode_enabled: true$", text, flags=re.MULTILINE)


def test_interactivity_is_on_for_the_screening_buttons() -> None:
    """The manifest enables interactivity (no request URL: Socket Mode delivers the clicks)."""
    settings = manifest_text().split("\nsettings:\n", 1)[1]
    assert re.search(r"^  interactivity:\n(    #.*\n)*    is_enabled: true$", settings, flags=re.MULTILINE)
    assert "request_url:" not in settings.replace("# request_url:", "")


def test_procfile_runs_one_worker() -> None:
    """The Procfile deploys the daemon as a single worker process."""
    assert (ROOT / "Procfile").read_text(encoding="utf-8").strip() == "worker: litwatch run"
