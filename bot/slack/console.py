"""The sink used without a Slack token: prints each notification as readable plain text."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from bot.slack.render import messages


class ConsoleSink:
    """Prints what would be posted to Slack, part by part; a print cannot fail."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def send(self, notification: dict[str, Any], items: list[dict[str, Any]], start_part: int) -> None:
        target = notification.get("channel") or "console"
        for message in messages(notification, items)[start_part:]:
            print(f"--- to {target}", file=self.stream)
            print(message.to_text(), file=self.stream)
        if notification.get("type") == "digest" and items:
            print(f"(in Slack, the {len(items)} items also arrive as a RIS file)", file=self.stream)
        self.stream.flush()
