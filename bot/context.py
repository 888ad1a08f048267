"""What one litwatch process runs with, built once by the CLI and handed down whole."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.config import Settings
from bot.links import Links
from bot.models import Classification, Item
from bot.outbox import Channels
from bot.sources import Source
from bot.store import Store

Classify = Callable[[Item], Classification]
# Cross-source linking (bot.links.link_items): given the run's touched items and the store,
# set links on the items and return field updates for stored items plus the new items folded
# into a stored one (same DOI).
Linker = Callable[[list[Item], Store], Links]


@dataclass(frozen=True)
class RunContext:
    """Settings, store, sources, classifier, linker and channels of one process."""

    settings: Settings
    store: Store
    sources: Mapping[str, Source]
    classify: Classify
    channels: Channels
    link: Linker | None = field(default=None)
