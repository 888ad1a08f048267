"""Message content as neutral spans: each channel writes them out in its own format.

Every string from outside (titles, authors, feed entries, trial fields, error messages) enters
as a plain `str` span and is escaped on the way out by the channel's writer (Slack mrkdwn,
e-mail HTML), so it can never become a mention, a tag or a link. `plain` is the text form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Link:
    """A link whose label is outside text; a URL that is not http(s) is dropped, the label kept."""

    url: str
    label: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Strong:
    text: str


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Emoji:
    """An emoji code in Slack; nothing in plain text or e-mail."""

    name: str


Span = str | Link | Strong | Code | Emoji
Line = tuple[Span, ...]
Write = Callable[[Line], str]  # a channel's writer: one line of spans in its own format

_SAFE_SCHEME = re.compile(r"^https?://[^/\s]", re.IGNORECASE)


def is_safe_url(url: str) -> bool:
    """Whether `url` is an absolute http(s) URL (anything else is never written as a link)."""
    return bool(_SAFE_SCHEME.match(url.strip()))


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to at most `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def plain(line: Line) -> str:
    out: list[str] = []
    after_emoji = False
    for span in line:
        if isinstance(span, str):
            # An emoji has no console form; drop the space that followed it.
            out.append(span[1:] if after_emoji and span.startswith(" ") else span)
        elif isinstance(span, Link):
            out.append(f"{span.label} <{span.url.strip()}>" if is_safe_url(span.url) else span.label)
        elif isinstance(span, Strong | Code):
            out.append(span.text)
        after_emoji = isinstance(span, Emoji)
    return "".join(out).strip()


def join(parts: list[Line], sep: str = " · ") -> Line:
    """Concatenate non-empty lines with a separator between them."""
    out: list[Span] = []
    for part in parts:
        if not part:
            continue
        if out:
            out.append(sep)
        out.extend(part)
    return tuple(out)
