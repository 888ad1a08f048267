"""Neutral spans written as Slack mrkdwn: outside text escaped, links only to http(s)."""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.markup import Code, Line, Link, Strong, is_safe_url

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Characters that would end or split a Slack <url|label> link, or break it across lines.
_URL_UNSAFE = re.compile(r"[<>|\s\"]")


def escape(text: str) -> str:
    """Escape the three characters mrkdwn treats as control characters (and nothing else)."""
    return text.translate(_ESCAPES)


def safe_url(url: str) -> str:
    """A URL safe inside `<url|label>`, or "" if it is not an absolute http(s) URL."""
    url = url.strip()
    if not is_safe_url(url):
        return ""
    url = _URL_UNSAFE.sub(lambda m: quote(m.group(0)), url)
    return url.replace("&", "&amp;")


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
