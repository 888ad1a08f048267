"""The delivery channels litwatch knows, one registration line each.

A channel is a module exposing `build_channel(env, settings) -> Channel | None` (None when
this process is not set up for it) and `UNAVAILABLE` (what to say then). The key is the
route scheme it delivers (`slack:C…`, `mailto:…`). The console takes everything else.
"""

from __future__ import annotations

from importlib import import_module
from typing import TextIO

from bot.config import Environment, Settings
from bot.console import ConsoleChannel
from bot.outbox import Channel, Channels, Unavailable

REGISTRY = {
    "slack": "bot.slack.deliver",
    "mailto": "bot.mail.deliver",
}


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
