"""Message content as neutral spans, written out as Slack mrkdwn or as plain console text.

Every string from outside (titles, authors, feed entries, trial fields, error messages) enters
as a plain `str` span and is escaped on the way out, so it can never become a mention or a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

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
    """An emoji code in Slack; nothing on the console."""

    name: str


Span = str | Link | Strong | Code | Emoji
Line = tuple[Span, ...]

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Characters that would end or split a Slack <url|label> link, or break it across lines.
_URL_UNSAFE = re.compile(r"[<>|\s\"]")
_SAFE_SCHEME = re.compile(r"^https?://[^/\s]", re.IGNORECASE)


def escape(text: str) -> str:
    """Escape the three characters mrkdwn treats as control characters (and nothing else)."""
    return text.translate(_ESCAPES)


def safe_url(url: str) -> str:
    """A URL safe inside `<url|label>`, or "" if it is not an absolute http(s) URL."""
    url = url.strip()
    if not _SAFE_SCHEME.match(url):
        return ""
    url = _URL_UNSAFE.sub(lambda m: quote(m.group(0)), url)
    return url.replace("&", "&amp;")


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to at most `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def mrkdwn(line: Line) -> str:
    out: list[str] = []
    for span in line:
        if isinstance(span, str):
            out.append(escape(span))
        elif isinstance(span, Link):
            label = escape(span.label)
            url = safe_url(span.url)
            text = f"<{url}|{label}>" if url else label
            out.append(f"*{text}*" if span.bold else text)
        elif isinstance(span, Strong):
            out.append(f"*{escape(span.text)}*")
        elif isinstance(span, Code):
            out.append(f"`{escape(span.text)}`")
        else:
            out.append(f":{span.name}:")
    return "".join(out)


def plain(line: Line) -> str:
    out: list[str] = []
    after_emoji = False
    for span in line:
        if isinstance(span, str):
            # An emoji has no console form; drop the space that followed it.
            out.append(span[1:] if after_emoji and span.startswith(" ") else span)
        elif isinstance(span, Link):
            out.append(f"{span.label} <{span.url}>" if safe_url(span.url) else span.label)
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
