"""Notifications: what the pipeline and the digest queue, typed and routed, naming no channel.

A route says where a notification goes, as `scheme:address`: `slack:C0123456789`,
`slack:#team`, `slack:U0ALICE`, `mailto:alice@example.org`, or `console`. The scheme picks the
channel (bot/outbox.py); what an address may look like is each channel's to say (bot/channels.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Kind = Literal["safety", "integrity", "items", "baseline", "baseline_flagged", "error", "warning", "digest",
               "set_aside"]
KINDS: tuple[str, ...] = ("safety", "integrity", "items", "baseline", "baseline_flagged", "error", "warning",
                          "digest", "set_aside")
CONSOLE = "console"


@dataclass(frozen=True)
class Summary:
    """The counts and words a notification carries besides its items; each kind uses a few."""

    message: str = ""  # error, warning
    count: int = 0  # baseline, digest
    kinds: tuple[tuple[str, int], ...] = ()  # baseline: items per kind
    flagged: int = 0  # baseline: items with a safety or integrity flag
    new: int = 0  # items
    changed: int = 0  # items
    changed_uids: tuple[str, ...] = ()  # items: which of them changed (else read from the item)
    period: str = ""  # digest
    since: str = ""  # digest: half-open window (since, until]
    until: str = ""
    until_seq: int = 0  # digest: the store's commit number it reaches (its window is by number)
    top: int = 5  # digest: items shown per kind
    awaiting: int = 0  # digest: stored records without a screening decision when it was queued
    pictures: tuple[str, ...] = ()  # digest: PNG files drawn when it was queued (trend, PRISMA)


@dataclass(frozen=True)
class Notification:
    """One message to one destination, as queued: kind, route, query, item uids, summary."""

    kind: Kind
    route: str
    query: str | None = None
    uids: tuple[str, ...] = ()
    summary: Summary = field(default_factory=Summary)
    created: str = ""  # set when the store queues it

    @property
    def scheme(self) -> str:
        return scheme_of(self.route)

    @property
    def address(self) -> str:
        return address_of(self.route)


@dataclass(frozen=True)
class Pending:
    """A queued notification with its delivery state (the outbox entry)."""

    id: str
    notification: Notification
    attempts: int = 0
    last_error: str | None = None
    sent_parts: int = 0
    sent_uids: tuple[str, ...] = ()
    set_aside: bool = False  # refused twice by its channel: kept, shown, not sent until retried

    @property
    def route(self) -> str:
        return self.notification.route

    @property
    def kind(self) -> str:
        return self.notification.kind

    @property
    def uids(self) -> tuple[str, ...]:
        return self.notification.uids

    # -- the stored shape (the store keeps plain JSON)

    def to_doc(self) -> dict[str, Any]:
        note = self.notification
        return {
            "id": self.id, "kind": note.kind, "route": note.route, "query": note.query,
            "uids": list(note.uids), "summary": _summary_doc(note.summary), "created": note.created,
            "attempts": self.attempts, "last_error": self.last_error, "sent_parts": self.sent_parts,
            "sent_uids": list(self.sent_uids), "set_aside": self.set_aside,
        }  # fmt: skip

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Pending:
        raw = dict(doc.get("summary") or {})
        known = {k: v for k, v in raw.items() if k in _SUMMARY_FIELDS}
        for key in ("kinds",):
            if key in known:
                known[key] = tuple((str(k), int(v)) for k, v in dict(known[key]).items())
        for key in ("changed_uids", "pictures"):
            if key in known:
                known[key] = tuple(str(v) for v in known[key])
        note = Notification(
            kind=doc.get("kind", "items"), route=str(doc.get("route") or CONSOLE), query=doc.get("query"),
            uids=tuple(doc.get("uids") or ()), summary=Summary(**known), created=str(doc.get("created") or ""),
        )
        return cls(
            id=str(doc["id"]), notification=note, attempts=int(doc.get("attempts") or 0),
            last_error=doc.get("last_error"), sent_parts=int(doc.get("sent_parts") or 0),
            sent_uids=tuple(doc.get("sent_uids") or ()), set_aside=bool(doc.get("set_aside")),
        )


_SUMMARY_FIELDS = frozenset(Summary.__dataclass_fields__)


def _summary_doc(summary: Summary) -> dict[str, Any]:
    doc = asdict(summary)
    doc["kinds"] = dict(summary.kinds)
    defaults = asdict(Summary())
    defaults["kinds"] = {}
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in doc.items() if v != defaults[k]}


def with_created(note: Notification, stamp: str) -> Notification:
    return note if note.created else replace(note, created=stamp)


# ---------------------------------------------------------------- routes


def scheme_of(route: str) -> str:
    scheme, sep, _ = route.partition(":")
    return scheme if sep else route


def address_of(route: str) -> str:
    _, sep, rest = route.partition(":")
    return rest if sep else ""
