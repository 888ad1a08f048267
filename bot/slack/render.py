"""Outbox notifications to Slack Block Kit messages, and the same content as console text (pure).

A notification renders to one or more messages. Slack's limits are respected here, not left
to the API to reject: at most 50 blocks, section text <= 3,000 characters, header <= 150, the
whole message well below 40,000 characters. Long sections are cut with an ellipsis and a
link to the record; long lists are split into numbered parts, deterministically, so a
half-delivered notification can resume at the part that failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot import registry
from bot.models import is_flagged
from bot.slack.markup import (
    ELLIPSIS,
    Code,
    Emoji,
    Line,
    Link,
    Span,
    Strong,
    clip,
    join,
    mrkdwn,
    plain,
)

MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
MESSAGE_TEXT = 24_000  # Slack truncates at 40,000; stay well below
FALLBACK_TEXT = 300
ITEMS_PER_MESSAGE = 20  # readable in one screen; a 500-item run is 25 messages
DIGEST_SAFETY_SHOWN = 20  # safety and integrity items listed in a digest before "N more"
BASELINE_FLAGGED_SHOWN = 10  # a baseline's flagged records listed before "N more"

TITLE_CHARS = 300
FIELD_CHARS = 120
REASON_CHARS = 200
CHANGE_CHARS = 300
LIST_SHOWN = 8  # queries, IDs and diff lines shown per item before "+N more"

KIND_LABEL = {"clinical": "clinical study", "case_report": "case report", "other": "other"}
KIND_PLURAL = {
    "clinical": "clinical studies",
    "case_report": "case reports",
    "other": "other items",
}
PERIOD_LABEL = {"weekly": "Weekly", "daily": "Daily"}


# ---------------------------------------------------------------- neutral message elements


@dataclass
class Header:
    """A header line; our own words only (plain text, never outside text)."""

    text: str


@dataclass
class Section:
    """Lines of mrkdwn; cut at whole lines with an ellipsis and `more_url` when too long."""

    lines: list[Line]
    more_url: str = ""
    _kept: int = field(default=-1, repr=False)
    _mrkdwn: str = field(default="", repr=False)

    @property
    def mrkdwn(self) -> str:
        if self._kept < 0:
            self._layout()
        return self._mrkdwn

    @property
    def plain(self) -> str:
        if self._kept < 0:
            self._layout()
        lines = [plain(line) for line in self.lines[: self._kept]]
        if self._kept < len(self.lines):
            lines.append(plain(self._more()))
        return "\n".join(lines)

    def _more(self) -> Line:
        return (ELLIPSIS, " ", Link(self.more_url, "more")) if self.more_url else (ELLIPSIS,)

    def _layout(self) -> None:
        texts = [mrkdwn(line) for line in self.lines]
        if sum(map(len, texts)) + len(texts) - 1 <= SECTION_TEXT:
            self._kept, self._mrkdwn = len(texts), "\n".join(texts)
            return
        tail = mrkdwn(self._more())
        kept: list[str] = []
        used = len(tail)
        for text in texts:
            if used + len(text) + 1 > SECTION_TEXT:
                break
            kept.append(text)
            used += len(text) + 1
        if not kept:  # one line alone is too long: keep its words, drop its markup
            first = clip(plain(self.lines[0]), SECTION_TEXT // 5 - len(tail))
            self.lines = [(first,), *self.lines[1:]]
            kept = [mrkdwn(self.lines[0])]
        self._kept = len(kept)
        self._mrkdwn = "\n".join([*kept, tail])


@dataclass
class Context:
    """Small grey lines under a header; each line is one element (at most 10)."""

    lines: list[Line]


@dataclass
class Divider:
    pass


Element = Header | Section | Context | Divider


@dataclass
class Draft:
    """One notification's content before it is split into messages."""

    title: str  # header text, our words
    fallback: Line  # notification text (push and screen readers)
    head: list[Element]  # repeated at the top of every part
    units: list[list[Element]]  # items (or digest sections); never split across parts
    tail: list[Element] = field(default_factory=list)  # only on the last part
    unit_uids: list[str] = field(default_factory=list)  # the item of each unit, when units are items


@dataclass
class Message:
    """One message to post: blocks in neutral form and its fallback line."""

    fallback: Line
    elements: list[Element]
    uids: tuple[str, ...] = ()  # the items this message carries (progress is kept by uid)

    def to_slack(self) -> dict[str, Any]:
        blocks = [_block(e).to_dict() for e in self.elements]
        return {"text": clip(mrkdwn(self.fallback), FALLBACK_TEXT), "blocks": blocks}

    def to_text(self) -> str:
        out: list[str] = []
        for e in self.elements:
            if isinstance(e, Header):
                out.append(f"== {e.text} ==")
            elif isinstance(e, Section):
                out.append(e.plain)
            elif isinstance(e, Context):
                out.extend(plain(line) for line in e.lines)
            else:
                out.append("-" * 40)
        return "\n".join(out)


def _block(element: Element) -> Block:
    if isinstance(element, Header):
        return HeaderBlock(text=PlainTextObject(text=clip(element.text, HEADER_TEXT), emoji=True))
    if isinstance(element, Section):
        return SectionBlock(text=MarkdownTextObject(text=element.mrkdwn, verbatim=True))
    if isinstance(element, Context):
        texts = [mrkdwn(line)[:SECTION_TEXT] for line in element.lines[:CONTEXT_ELEMENTS]]
        return ContextBlock(elements=[MarkdownTextObject(text=t, verbatim=True) for t in texts])
    return DividerBlock()


def _size(element: Element) -> int:
    if isinstance(element, Section):
        return len(element.mrkdwn)
    if isinstance(element, Context):
        return sum(len(mrkdwn(line)) for line in element.lines)
    if isinstance(element, Header):
        return len(element.text)
    return 0


# ---------------------------------------------------------------- public API


def render(notification: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Slack messages (`{"text", "blocks"}`) for one notification, in posting order."""
    return [m.to_slack() for m in messages(notification, items)]


def render_text(notification: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> str:
    """The same content as plain text for the console, parts separated by blank lines."""
    return "\n\n".join(m.to_text() for m in messages(notification, items))


def messages(notification: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> list[Message]:
    """The notification's messages in neutral form (shared by Slack and console output)."""
    build = _DRAFTS.get(str(notification.get("type")), _items_draft)
    return paginate(build(notification, list(items)))


def paginate(draft: Draft) -> list[Message]:
    """Split a draft into messages within the block, item and text budgets, numbering parts."""
    head_blocks = 1 + len(draft.head)
    head_size = HEADER_TEXT + sum(_size(e) for e in draft.head) + FALLBACK_TEXT
    chunks: list[list[list[Element]]] = [[]]
    chunk_uids: list[list[str]] = [[]]
    blocks, size = head_blocks, head_size
    for index, unit in enumerate(draft.units):
        unit_blocks, unit_size = len(unit), sum(_size(e) for e in unit)
        current = chunks[-1]
        if current and (
            len(current) >= ITEMS_PER_MESSAGE or blocks + unit_blocks > MAX_BLOCKS or size + unit_size > MESSAGE_TEXT
        ):
            chunks.append([])
            chunk_uids.append([])
            blocks, size = head_blocks, head_size
        chunks[-1].append(unit)
        if index < len(draft.unit_uids):
            chunk_uids[-1].append(draft.unit_uids[index])
        blocks += unit_blocks
        size += unit_size
    tail_blocks, tail_size = len(draft.tail), sum(_size(e) for e in draft.tail)
    if draft.tail and chunks[-1] and (blocks + tail_blocks > MAX_BLOCKS or size + tail_size > MESSAGE_TEXT):
        chunks.append([])
    out: list[Message] = []
    for number, chunk in enumerate(chunks, 1):
        suffix = f" (part {number}/{len(chunks)})" if len(chunks) > 1 else ""
        title = clip(draft.title, HEADER_TEXT - len(suffix)) + suffix
        elements: list[Element] = [Header(title), *draft.head]
        for unit in chunk:
            elements.extend(unit)
        if number == len(chunks):
            elements.extend(draft.tail)
        out.append(Message((*draft.fallback, suffix), elements, tuple(chunk_uids[number - 1])))
    return out


# ---------------------------------------------------------------- items


def item_url(item: Mapping[str, Any]) -> str:
    url = str(item.get("url") or "")
    return url or uid_url(uid_of(item))


def uid_of(item: Mapping[str, Any]) -> str:
    if item.get("uid"):
        return str(item["uid"])
    spec = registry.get(str(item.get("source")))
    return f"{spec.uid_prefix if spec else 'feed'}:{item.get('id', '')}"


def uid_url(uid: str) -> str:
    return registry.uid_url(uid)


def registry_url(trial_id: str) -> str:
    upper = trial_id.upper()
    named = registry.accession_uid(upper)
    if named:
        return registry.uid_url(named)
    if upper.startswith("ISRCTN"):
        return f"https://www.isrctn.com/{upper}"
    return ""


def classification(item: Mapping[str, Any]) -> Mapping[str, Any]:
    return item.get("classification") or {}


def kind_of(item: Mapping[str, Any]) -> str:
    kind = str(classification(item).get("kind") or "other")
    return kind if kind in KIND_LABEL else "other"


def _badge(item: Mapping[str, Any]) -> Line:
    c = classification(item)
    if c.get("safety"):
        return (Emoji("rotating_light"), " ", Strong("safety signal"))
    if c.get("integrity"):
        return (Emoji("warning"), " ", Strong("integrity notice"))
    if c.get("possible_safety"):
        return (Code(KIND_LABEL[kind_of(item)]), " ", Emoji("eyes"), " ", Strong("possible safety signal"))
    if c.get("corrected"):
        return (Code(KIND_LABEL[kind_of(item)]), " ", Code("corrected"))
    return (Code(KIND_LABEL[kind_of(item)]),)


def _meta(item: Mapping[str, Any]) -> Line:
    source = str(item.get("source") or "")
    parts: list[Line] = [(registry.label(source),)]
    venue = item.get("journal") or item.get("feed_title") or ""
    if venue:
        parts.append((clip(str(venue), FIELD_CHARS),))
    if item.get("published"):
        parts.append((clip(str(item["published"]), 20),))
    trial = item.get("trial") or {}
    if trial.get("status"):
        parts.append((clip(str(trial["status"]).replace("_", " ").lower(), 40),))
    if trial.get("phases"):
        parts.append((clip(", ".join(map(str, trial["phases"])), 60),))
    if trial.get("enrollment"):
        parts.append((f"n={trial['enrollment']}",))
    parts.append(_badge(item))
    return join(parts)


def _reasons(item: Mapping[str, Any]) -> Line:
    reasons = [clip(str(r), REASON_CHARS) for r in classification(item).get("reasons") or ()]
    if not reasons:
        return ()
    shown = "; ".join(reasons[:3]) + (f"; +{len(reasons) - 3} more" if len(reasons) > 3 else "")
    c = classification(item)
    label = "Safety" if c.get("safety") else "Integrity" if c.get("integrity") else \
        "Possible safety" if c.get("possible_safety") else "Why"
    return (Strong(label), ": ", shown)


def _more_count(shown: int, total: int) -> Line:
    return (f" +{total - shown} more",) if total > shown else ()


def _identifiers(item: Mapping[str, Any]) -> Line:
    spans: list[Line] = []
    uid = uid_of(item)
    seen = {uid}
    for related in (uid, *(item.get("links") or ())):
        related = str(related)
        if related in seen and related != uid:
            continue
        seen.add(related)
        spec = registry.for_uid(related)
        if spec is not None and spec.id_label:
            spans.append((Link(uid_url(related), spec.id_label.format(related.partition(":")[2])),))
    for trial_id in item.get("trial_ids") or ():
        trial_id = str(trial_id)
        named = registry.accession_uid(trial_id) or trial_id
        if named in seen:
            continue
        seen.add(named)
        url = registry_url(trial_id)
        spans.append((Link(url, clip(trial_id, 40)),) if url else (clip(trial_id, 40),))
    total = len(spans)
    return join(spans[:LIST_SHOWN], ", ") + _more_count(LIST_SHOWN, total)


def _queries(item: Mapping[str, Any]) -> Line:
    names = [str(q) for q in item.get("queries") or ()]
    if not names:
        return ()
    shown = ", ".join(clip(n, 64) for n in names[:LIST_SHOWN])
    return ("Matched ", Code(shown), *_more_count(LIST_SHOWN, len(names)))


def item_section(item: Mapping[str, Any], *, changed: bool = False) -> Section:
    """One item: linked title, source / venue / date / badge, reasons, queries, IDs, diff."""
    url = item_url(item)
    title = clip(str(item.get("title") or uid_of(item)), TITLE_CHARS)
    lines: list[Line] = [(Link(url, title, bold=True),), _meta(item)]
    reasons = _reasons(item)
    if reasons:
        lines.append(reasons)
    footer = join([_queries(item), _identifiers(item)])
    if footer:
        lines.append(footer)
    changes = [str(c) for c in item.get("changes") or ()] if changed else []
    if changes:
        lines.append((Strong("Changed"), ":"))
        lines.extend(("• ", clip(c, CHANGE_CHARS)) for c in changes[:LIST_SHOWN])
        if len(changes) > LIST_SHOWN:
            lines.append((f"+{len(changes) - LIST_SHOWN} more changes",))
    return Section(lines, more_url=url)


def digest_line(item: Mapping[str, Any], *, changed: bool = False) -> Line:
    """One item as a compact bullet: linked title, venue and date, why it stands out."""
    title = clip(str(item.get("title") or uid_of(item)), TITLE_CHARS // 2)
    venue = item.get("journal") or item.get("feed_title") or registry.label(str(item.get("source") or ""))
    detail = join([(clip(str(venue), FIELD_CHARS // 2),), (str(item.get("published") or ""),)], ", ")
    line: list[Span] = ["• ", Link(item_url(item), title)]
    if changed:
        line.append(" (changed)")
    if detail:
        line.extend([" — ", *detail])
    reason = _digest_reason(item)
    if reason:
        line.extend([" — ", clip(reason, REASON_CHARS // 2)])
    return tuple(line)


def _digest_reason(item: Mapping[str, Any]) -> str:
    """A stopped trial's stated reason; else a flagged item's first reason that is not the
    registry status line (which says *that* a trial stopped, not why)."""
    trial = item.get("trial") or {}
    why = str(trial.get("why_stopped") or "")
    if why:
        status = str(trial.get("status") or "stopped").replace("_", " ").lower()
        return f"{status}, why stopped: {why}"
    reasons = [str(r) for r in classification(item).get("reasons") or ()]
    if not (is_flagged(item) and reasons):
        return ""
    return next((r for r in reasons if not r.startswith("registry record")), reasons[0])


def _is_changed(item: Mapping[str, Any], changed_uids: set[str]) -> bool:
    if changed_uids:
        return uid_of(item) in changed_uids
    first, last = item.get("first_seen"), item.get("last_changed")
    return bool(item.get("changes")) and bool(first) and bool(last) and first != last


def _changed_since(item: Mapping[str, Any], since: str) -> bool:
    """In a digest: stored before the digest's period began, changed during it."""
    if not since:
        return _is_changed(item, set())
    return str(item.get("first_seen") or since) <= since


def _query(notification: Mapping[str, Any]) -> str:
    return clip(str(notification.get("query") or "litwatch"), 64)


def _date(value: Any) -> str:
    return str(value or "")[:10]


def _context(notification: Mapping[str, Any], *extra: Line) -> Context:
    base: Line = ("Query ", Code(_query(notification)))
    when = _date(notification.get("created"))
    lines = [join([base, (when,) if when else (), *extra])]
    return Context(lines)


# ---------------------------------------------------------------- drafts per notification type


def _alert_draft(notification: Mapping[str, Any], items: list[Mapping[str, Any]]) -> Draft:
    safety = notification.get("type") == "safety"
    label = "Safety signal" if safety else "Integrity notice"
    emoji = ":rotating_light:" if safety else ":warning:"
    first = clip(str(items[0].get("title") or ""), 150) if items else ""
    units: list[list[Element]] = [[item_section(i, changed=True)] for i in items]
    if not units:
        units = [[Section([("The item is no longer in the store.",)])]]
    return Draft(
        title=f"{emoji} {label} — {_query(notification)}",
        fallback=(f"{label}: ", first) if first else (label,),
        head=[_context(notification)],
        units=units,
        unit_uids=[uid_of(i) for i in items],
    )


def _items_draft(notification: Mapping[str, Any], items: list[Mapping[str, Any]]) -> Draft:
    summary = notification.get("summary") or {}
    changed_uids = {str(u) for u in summary.get("changed_uids") or ()}
    changed = [i for i in items if _is_changed(i, changed_uids)]
    changed_ids = {id(i) for i in changed}
    new = [i for i in items if id(i) not in changed_ids]
    counts = join([(f"{len(new)} new",) if new else (), (f"{len(changed)} changed",) if changed else ()], ", ")
    words = plain(counts) or "no items"
    units: list[list[Element]] = [[item_section(i)] for i in new]
    units += [[item_section(i, changed=True)] for i in changed]
    return Draft(
        title=f"{words} — {_query(notification)}",
        fallback=(f"litwatch: {words} for {_query(notification)}",),
        head=[_context(notification, _kind_counts(items))],
        units=units,
        unit_uids=[uid_of(i) for i in new + changed],
    )


def _kind_counts(items: Iterable[Mapping[str, Any]]) -> Line:
    counts = Counter(kind_of(i) for i in items)
    return join([(f"{KIND_PLURAL[k]} {counts[k]}",) for k in KIND_LABEL if counts[k]], ", ")


def _baseline_draft(notification: Mapping[str, Any], items: list[Mapping[str, Any]]) -> Draft:
    summary = notification.get("summary") or {}
    total = int(summary.get("count") or summary.get("items") or len(items))
    lines: list[Line] = [
        (
            f"First run: {total} existing {'item' if total == 1 else 'items'} stored as the baseline. ",
            "From now on only new and changed items are posted.",
        ),
    ]
    by_kind = _kind_counts(items)
    if by_kind:
        lines.append(("By kind: ", *by_kind))
    flagged = sum(1 for i in items if is_flagged(i))
    if flagged:
        lines.append(
            (
                f"{flagged} {'carries' if flagged == 1 else 'carry'} a safety or integrity flag: "
                "they are listed in one message to the safety channel, and ",
                Code(f"/litwatch flagged {_query(notification)}"),
                " or ",
                Code(f"litwatch export --flagged --query {_query(notification)}"),
                " lists them again.",
            )
        )
    return Draft(
        title=f"Baseline — {_query(notification)}",
        fallback=(f"litwatch: baseline of {total} items for {_query(notification)}",),
        head=[_context(notification)],
        units=[[Section(lines)]],
    )


def _baseline_flagged_draft(notification: Mapping[str, Any], items: list[Mapping[str, Any]]) -> Draft:
    """A baseline's flagged records, listed once (newest first) instead of one alert each."""
    query = _query(notification)
    total = int((notification.get("summary") or {}).get("count") or len(items))
    shown = _newest_first(items)[:BASELINE_FLAGGED_SHOWN]
    noun = "record" if total == 1 else "records"
    heading: Line = (
        Emoji("rotating_light"), " ",
        Strong(f"{total} flagged {noun} in the baseline"),
        " (stored without one alert each; safety and integrity flags, newest first)",
    )
    more: Line = ()
    if total > len(shown):
        more = (f"+{total - len(shown)} more: ", Code(f"/litwatch flagged {query}"), " or ",
                Code(f"litwatch export --flagged --query {query}"))
    return Draft(
        title=f"Baseline — {total} flagged {noun} — {query}",
        fallback=(f"litwatch: {total} flagged {noun} in the baseline of {query}",),
        head=[_context(notification)],
        units=[_bullets(heading, [digest_line(i) for i in shown], more)],
    )


def _problem_text(notification: Mapping[str, Any]) -> str:
    summary = notification.get("summary") or {}
    message = summary.get("message") or summary.get("error") or notification.get("last_error")
    return clip(str(message or "unknown problem"), 1500)


def _problem_draft(notification: Mapping[str, Any], title: str, first: Line, then: Line) -> Draft:
    text = _problem_text(notification)
    return Draft(
        title=f"{title} — {_query(notification)}",
        fallback=(f"litwatch: {_query(notification)}: ", clip(text, 200)),
        head=[_context(notification)],
        units=[[Section([(*first, text), then])]],
    )


def _error_draft(notification: Mapping[str, Any], items: list[Mapping[str, Any]]) -> Draft:
    """A failed query: the message as the pipeline worded it."""
    return _problem_draft(
        notification, "Query failed", (Emoji("x"), " "),
        ("A failed query keeps its watermark; the next run retries. Details: ", Code("litwatch status")),
    )


def _warning_draft(notification: Mapping[str, Any], items: list[Mapping[str, Any]]) -> Draft:
    """A query that ran, with new warnings from its source (unset NCBI_EMAIL, a malformed feed)."""
    return _problem_draft(
        notification, "Query warning", (Emoji("warning"), " "),
        ("The query ran and its results were stored; this is about what the source returned. "
         "Details: ", Code("litwatch status")),
    )


def _newest_first(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(
        items,
        key=lambda i: (str(i.get("published") or ""), str(i.get("first_seen") or "")),
        reverse=True,
    )


def _bullets(heading: Line, lines: list[Line], more: Line) -> list[Element]:
    """A heading and bullet lines packed into as few sections as the text limit allows."""
    sections: list[Element] = []
    current: list[Line] = [heading]
    used = len(mrkdwn(heading))
    for line in [*lines, more] if more else lines:
        size = len(mrkdwn(line)) + 1
        if used + size > SECTION_TEXT:
            sections.append(Section(current))
            current, used = [], 0
        current.append(line)
        used += size
    sections.append(Section(current))
    return sections


def _digest_draft(notification: Mapping[str, Any], items: list[Mapping[str, Any]]) -> Draft:
    summary = notification.get("summary") or {}
    period = str(summary.get("period") or "weekly")
    top = max(1, int(summary.get("top") or 5))
    since = _date(summary.get("since"))
    label = PERIOD_LABEL.get(period, period.title())
    changed = {uid_of(i) for i in items if _changed_since(i, str(summary.get("since") or ""))}
    noun = "item" if len(items) == 1 else "items"
    count_words = f"{len(items)} new {'or changed ' if changed else ''}{noun}"
    flagged = _newest_first(i for i in items if is_flagged(i))
    safety = sum(1 for i in flagged if classification(i).get("safety"))
    counts = join(
        [
            (f"since {since}",) if since else (),
            (f"{len(items) - len(changed)} new, {len(changed)} changed",) if changed else (),
            _kind_counts(items),
            (f"{safety} safety",) if safety else (),
            (f"{len(flagged) - safety} integrity",) if len(flagged) > safety else (),
        ]
    )
    units: list[list[Element]] = []
    hidden = 0
    if flagged:
        shown = flagged[:DIGEST_SAFETY_SHOWN]
        extra = len(flagged) - len(shown)
        hidden += extra
        heading: Line = (
            Emoji("rotating_light"),
            " ",
            Strong(f"Safety and integrity ({len(flagged)})"),
        )
        lines = [digest_line(i, changed=uid_of(i) in changed) for i in shown]
        units.append(_bullets(heading, lines, (f"+{extra} more",) if extra else ()))
    for kind in KIND_LABEL:
        rest = _newest_first(i for i in items if kind_of(i) == kind and not is_flagged(i))
        if not rest:
            continue
        hidden += max(0, len(rest) - top)
        # The counts line totals each kind; flagged items of a kind are listed above instead,
        # so a heading says how its number and the total relate.
        above = sum(1 for i in flagged if kind_of(i) == kind)
        plural = KIND_PLURAL[kind].capitalize()
        heading = (Strong(f"{plural} ({len(rest)} more; {above} flagged, above)" if above
                          else f"{plural} ({len(rest)})"),)
        more: Line = (f"+{len(rest) - top} more",) if len(rest) > top else ()
        lines = [digest_line(i, changed=uid_of(i) in changed) for i in rest[:top]]
        units.append(_bullets(heading, lines, more))
    tail: list[Element] = []
    if not items:
        units.append([Section([(f"Nothing new since {since or 'the last digest'}.",)])])
    elif hidden:
        export = f"litwatch export --since {since} --format ris" if since else "litwatch export --format ris"
        tail = [Divider(), Context([(f"{hidden} more not listed — run ", Code(export), " to get them all.")])]
    return Draft(
        title=f"{label} digest — {count_words}",
        fallback=(f"litwatch {label.lower()} digest: {count_words}",),
        head=[Context([counts])] if counts else [],
        units=units,
        tail=tail,
    )


_DRAFTS = {
    "safety": _alert_draft,
    "integrity": _alert_draft,
    "items": _items_draft,
    "baseline": _baseline_draft,
    "baseline_flagged": _baseline_flagged_draft,
    "error": _error_draft,
    "warning": _warning_draft,
    "digest": _digest_draft,
}
