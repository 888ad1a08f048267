"""The sink used without a Slack token: prints each notification as readable plain text."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from bot.outbox import PartConfirmed
from bot.slack.render import messages


class ConsoleSink:
    """Prints what would be posted to Slack, part by part; a print cannot fail."""

    delivers_to = "console"

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def send(self, notification: dict[str, Any], items: list[dict[str, Any]], start_part: int,
             on_part: PartConfirmed | None = None) -> None:
        target = notification.get("channel") or "console"
        parts = messages(notification, items)
        for index in range(start_part, len(parts)):
            print(f"--- to {target}", file=self.stream)
            print(parts[index].to_text(), file=self.stream)
            if on_part:
                on_part(index + 1, parts[index].uids)
        if notification.get("type") == "digest" and items:
            print(f"(in Slack, the {len(items)} items also arrive as a RIS file)", file=self.stream)
        self.stream.flush()
