"""The sink used without a Slack token: prints each notification readably to a terminal."""

from __future__ import annotations

import sys
from typing import Any, TextIO


class ConsoleSink:
    """Prints what would be posted to Slack; a print cannot fail, so everything is confirmed."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def send(self, notification: dict[str, Any], items: list[dict[str, Any]], start_part: int) -> None:
        kind = notification.get("type", "items")
        summary = notification.get("summary") or {}
        head = f"[{kind}] {notification.get('query', '')} -> {notification.get('channel', '')}"
        lines = [head]
        if kind == "baseline":
            lines.append(f"  baseline: {summary.get('count', len(items))} records stored")
        if summary.get("message"):
            lines.append(f"  {summary['message']}")
        for doc in items if kind != "baseline" else ():
            label = doc.get("classification") or {}
            flags = [label.get("kind", "other")]
            flags += [f for f in ("safety", "integrity") if label.get(f)]
            lines.append(f"  - {doc.get('title', '')} [{', '.join(flags)}]")
            lines.append(f"    {doc.get('url', '')}")
            for reason in label.get("reasons", ())[:3]:
                lines.append(f"    · {reason}")
            for change in doc.get("changes", ()):
                lines.append(f"    Δ {change}")
        print("\n".join(lines), file=self.stream, flush=True)
