"""The console channel: prints each notification as readable plain text (no token needed)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from bot.notify import Notification
from bot.outbox import Items, PartConfirmed
from bot.render import PLAIN, messages, plain_text


class ConsoleChannel:
    """Prints what the notification's channel would get, part by part; a print cannot fail."""

    scheme = "console"
    label = "the terminal"
    format = PLAIN

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def send(self, notification: Notification, items: Items, start_part: int,
             on_part: PartConfirmed | None = None, *, compact: bool = False) -> None:
        parts = messages(notification, items, self.format)
        for index in range(start_part, len(parts)):
            print(f"--- to {notification.route}", file=self.stream)
            print(plain_text(parts[index]), file=self.stream)
            if on_part:
                on_part(index + 1, parts[index].uids)
        if notification.kind == "digest" and items:
            print(f"(by Slack or e-mail, the {len(items)} items also arrive as a RIS file)", file=self.stream)
            for picture in notification.summary.pictures:
                print(f"picture: {picture}", file=self.stream)
        self.stream.flush()


def render_text(notification: Notification, items: Sequence[Mapping[str, Any]]) -> str:
    """A notification as plain text, parts separated by blank lines."""
    return "\n\n".join(plain_text(m) for m in messages(notification, items, PLAIN))
