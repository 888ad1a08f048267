"""The delivery channels litwatch knows, one registration line each.

A channel is a module exposing `build_channel(env, settings) -> Channel | None` (None when
this process is not set up for it), `UNAVAILABLE` (what to say then), and for the addresses
people type (`litwatch subscribe`) `parse_address(text) -> str | None` and `ADDRESS_HELP`.
The key is the route scheme it delivers (`slack:C…`, `mailto:…`). The console takes
everything else.
"""

from __future__ import annotations

from importlib import import_module
from typing import TextIO

from bot.config import Environment, Settings
from bot.console import ConsoleChannel
from bot.notify import CONSOLE
from bot.outbox import Channel, Channels, Unavailable

REGISTRY = {
    "slack": "bot.slack.deliver",
    "mailto": "bot.mail.deliver",
}
# A bare `#name` or `C…` (typed before routes existed) means this scheme.
BARE = "slack"


def build_channels(env: Environment, settings: Settings, *, console: TextIO | None = None) -> Channels:
    """Every registered channel this process is set up for; the console for the rest."""
    available: dict[str, Channel] = {}
    unavailable: dict[str, Unavailable] = {}
    for scheme, module_name in REGISTRY.items():
        module = import_module(module_name)
        channel = module.build_channel(env, settings)
        if channel is None:
            unavailable[scheme] = module.UNAVAILABLE
        else:
            available[scheme] = channel
    return Channels(console=ConsoleChannel(console), available=available, unavailable=unavailable)


def parse_route(text: str) -> str | None:
    """A route from what a person typed: `scheme:address` for a registered channel, `console`,
    or a bare address of the `BARE` channel. None when the channel would not know it."""
    value = text.strip()
    if value == CONSOLE:
        return CONSOLE
    scheme, sep, rest = value.partition(":")
    scheme = scheme.lower() if sep else BARE
    if scheme not in REGISTRY:
        return None
    address = import_module(REGISTRY[scheme]).parse_address(rest if sep else value)
    return f"{scheme}:{address}" if address else None


def route_problem(text: str) -> str:
    """The one line that says what a destination may look like."""
    forms = "; or ".join(import_module(m).ADDRESS_HELP for m in REGISTRY.values())
    return f"{text!r} is not a destination: use {forms}"
