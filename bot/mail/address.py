"""What counts as an e-mail address here: one bare address, nothing a header could misread."""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address


def mail_address(text: str) -> str | None:
    """`text` as one bare e-mail address (local@domain), or None: no display name, no list,
    no CR/LF, so an address can never add a header or a second recipient."""
    text = text.strip()
    if not text or any(c in text for c in "\r\n,;<>\"() \t") or text.count("@") != 1:
        return None
    try:
        address = Address(addr_spec=text)
    except (HeaderParseError, ValueError, IndexError):
        return None
    if not address.username or "." not in address.domain:
        return None
    return address.addr_spec
