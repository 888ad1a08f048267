"""Neutral messages to e-mail (pure): a text part, an HTML part, attachments, safe headers.

Outside text reaches the body only: in the text part as it is, in the HTML part escaped.
Headers hold our own words (the message title, clipped to one line) and addresses that were
validated as one bare address each, so a title with CR/LF can never add a header or a
recipient (and the stdlib's SMTP policy refuses a header with a line break anyway).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from bot.config import now
from bot.markup import Code, Line, Link, Strong, clip, is_safe_url, plain
from bot.render import Context, Divider, Format, Header, Message, Section, plain_text

SUBJECT_CHARS = 200
# RFC 5322's line limit: headers fold only where they must (a List-Unsubscribe stays one line).
POLICY = SMTP.clone(max_line_length=998)
# One e-mail carries a whole notification: no block count, and generous text budgets.
EMAIL = Format(write=plain, section_text=100_000, header_text=SUBJECT_CHARS, max_blocks=100_000,
               message_text=10_000_000, items_per_message=500, fallback_text=SUBJECT_CHARS)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime: str = "application/x-research-info-systems"  # RIS


def html_line(line: Line) -> str:
    """One line of spans as HTML: outside text escaped, links only to http(s)."""
    out: list[str] = []
    for span in line:
        if isinstance(span, str):
            out.append(html.escape(span))
        elif isinstance(span, Link):
            label = html.escape(span.label)
            if is_safe_url(span.url):
                label = f'<a href="{html.escape(span.url.strip(), quote=True)}">{label}</a>'
            out.append(f"<strong>{label}</strong>" if span.bold else label)
        elif isinstance(span, Strong):
            out.append(f"<strong>{html.escape(span.text)}</strong>")
        elif isinstance(span, Code):
            out.append(f"<code>{html.escape(span.text)}</code>")
    return "".join(out).strip()


def html_body(message: Message) -> str:
    out = ['<!DOCTYPE html><html><body style="font-family: sans-serif">']
    for e in message.elements:
        if isinstance(e, Header):
            out.append(f"<h2>{html.escape(e.text)}</h2>")
        elif isinstance(e, Section):
            out.append("<p>" + "<br>\n".join(e.fitted(EMAIL, html_line)) + "</p>")
        elif isinstance(e, Context):
            out.append('<p style="color: #666; font-size: small">'
                       + "<br>\n".join(html_line(line) for line in e.lines) + "</p>")
        elif isinstance(e, Divider):
            out.append("<hr>")
    out.append("</body></html>")
    return "\n".join(out)


def one_line(text: str, limit: int = SUBJECT_CHARS) -> str:
    """Text fit for a header: every run of whitespace (CR and LF included) is one space."""
    return clip(text, limit)


def unsubscribe_link(sender: str, recipient: str) -> str:
    """A mailto: link to the sender asking to unsubscribe `recipient` (List-Unsubscribe)."""
    return f"mailto:{sender}?subject={quote('unsubscribe ' + recipient)}"


def email_message(message: Message, *, sender: str, recipient: str, message_id: str = "",
                  attachments: tuple[Attachment, ...] = (), footer: str = "",
                  unsubscribe: str = "") -> EmailMessage:  # fmt: skip
    """One e-mail to one recipient: multipart text + HTML, then the attachments."""
    mail = EmailMessage(policy=POLICY)
    mail["Subject"] = one_line(message.title)
    mail["From"] = Address(addr_spec=sender)
    mail["To"] = Address(addr_spec=recipient)
    mail["Date"] = format_datetime(now())
    mail["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2])
    mail["Auto-Submitted"] = "auto-generated"  # no out-of-office replies to the sender
    if unsubscribe:
        mail["List-Unsubscribe"] = f"<{unsubscribe}>"
    text = plain_text(message) + (f"\n\n-- \n{footer}\n" if footer else "\n")
    page = html_body(message)
    if footer:
        page = page.replace("</body>", f'<hr><p style="color: #666; font-size: small">{html.escape(footer)}</p></body>')
    mail.set_content(text)
    mail.add_alternative(page, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.mime.partition("/")
        mail.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                            filename=attachment.filename)
    return mail
