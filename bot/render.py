"""Notifications to messages in a neutral form (pure): each channel writes them in its format.

A notification renders to a `Draft` (its content) and is split into one or more `Message`s
by `paginate`, within the size limits of the channel it goes to (`Format`): Slack's blocks
and text budgets, or an e-mail's much larger ones. Long sections are cut with an ellipsis
and a link to the record; long lists are split into numbered parts, deterministically, so a
half-delivered notification can resume at the part that failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from bot import registry
from bot.markup import (
    ELLIPSIS,
    Code,
    Emoji,
    Line,
    Link,
    Span,
    Strong,
    Write,
    clip,
    join,
    plain,
)
from bot.models import is_flagged
from bot.notify import Notification, Summary

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


@dataclass(frozen=True)
class Format:
    """How a channel writes lines and how much one of its messages may hold."""

    write: Write  # measures and writes a line (Slack: mrkdwn; e-mail and console: plain)
    section_text: int = 3000
    header_text: int = 150
    max_blocks: int = 50
    message_text: int = 24_000
    items_per_message: int = 20
    fallback_text: int = 300
    buttons: bool = False  # the channel shows each item's screening choices (Slack's buttons)


def compact(fmt: Format) -> Format:
    """A quarter of `fmt`'s budgets: the retry of a message its channel refused as too big."""
    return replace(fmt, section_text=max(500, fmt.section_text // 2), max_blocks=max(5, fmt.max_blocks // 2),
                   message_text=max(2000, fmt.message_text // 4),
                   items_per_message=max(1, fmt.items_per_message // 4))


PLAIN = Format(write=plain)  # console text: the same parts as Slack, so a preview matches


# ---------------------------------------------------------------- neutral message elements


@dataclass(frozen=True)
class Header:
    """A header line; our own words only (plain text, never outside text)."""

    text: str
    emoji: str = ""  # shown where the channel has emoji (Slack), dropped elsewhere


@dataclass(frozen=True)
class Section:
    """Lines of text; cut at whole lines with an ellipsis and `more_url` when too long."""

    lines: tuple[Line, ...]
    more_url: str = ""

    def text(self, fmt: Format) -> str:
        """The section written by `fmt`, cut to its section budget."""
        return "\n".join(self.fitted(fmt, fmt.write))

    def fitted(self, fmt: Format, write: Write) -> list[str]:
        """The lines that fit `fmt`'s budget (measured with its writer), then the "more"
        tail if some were cut, each written with `write` (an HTML writer, say)."""
        return list(_fitted(self, fmt, write))

    def _more(self) -> Line:
        return (ELLIPSIS, " ", Link(self.more_url, "more")) if self.more_url else (ELLIPSIS,)


@lru_cache(maxsize=4096)  # paginating measures each section, writing it renders it again
def _fitted(section: Section, fmt: Format, write: Write) -> tuple[str, ...]:
    texts = [fmt.write(line) for line in section.lines]
    if sum(map(len, texts)) + len(texts) - 1 <= fmt.section_text:
        return tuple(texts if write is fmt.write else [write(line) for line in section.lines])
    more = section._more()
    used = len(fmt.write(more))
    kept: list[Line] = []
    for line, text in zip(section.lines, texts, strict=True):
        if used + len(text) + 1 > fmt.section_text:
            break
        kept.append(line)
        used += len(text) + 1
    if not kept:  # one line alone is too long: keep its words, drop its markup
        kept = [(clip(plain(section.lines[0]), fmt.section_text // 5 - len(fmt.write(more))),)]
    return tuple(write(line) for line in (*kept, more))


def clear_render_cache() -> None:
    """Forget the sections already laid out (benchmarks measure a cold render)."""
    _fitted.cache_clear()


def section(lines: Iterable[Line], more_url: str = "") -> Section:
    return Section(tuple(lines), more_url)


@dataclass(frozen=True)
class Context:
    """Small grey lines under a header; each line is one element (at most 10)."""

    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Divider:
    pass


@dataclass(frozen=True)
class Choices:
    """The screening choices on the item just above (include, exclude, maybe), where the
    channel has buttons; a safety alert's item can also be confirmed or dismissed as a signal."""

    uid: str
    safety: bool = False


Element = Header | Section | Context | Divider | Choices


BUTTON_VALUE = 2000  # Slack's limit on a button's value


def choices(item: Mapping[str, Any], fmt: Format, *, safety: bool = False) -> list[Element]:
    """The item's `Choices` when `fmt` shows buttons; nothing otherwise. A safety-flagged item,
    or a possible safety signal, gets Confirm / Not a safety signal wherever it is listed
    (alert, per-run alert, digest, the baseline's flagged list, the screening queue): the
    team's word on either is a label for the next `make model`. `safety` adds them to any item."""
    if not fmt.buttons or len(uid_of(item)) > BUTTON_VALUE:
        return []  # a button names its item in `value`: an id Slack cannot carry gets none
    labels = classification(item)
    return [Choices(uid_of(item), safety or bool(labels.get("safety") or labels.get("possible_safety")))]


@dataclass
class Draft:
    """One notification's content before it is split into messages."""

    title: str  # header text, our words
    fallback: Line  # notification text (push and screen readers)
    head: list[Element]  # repeated at the top of every part
    units: list[list[Element]]  # items (or digest sections); never split across parts
    tail: list[Element] = field(default_factory=list)  # only on the last part
    unit_uids: list[str] = field(default_factory=list)  # the item of each unit, when units are items
    emoji: str = ""  # the header's emoji, where the channel has them


@dataclass(frozen=True)
class Message:
    """One message to send: elements in neutral form and its fallback line."""

    fallback: Line
    elements: tuple[Element, ...]
    uids: tuple[str, ...] = ()  # the items this message carries (progress is kept by uid)

    @property
    def title(self) -> str:
        return next((e.text for e in self.elements if isinstance(e, Header)), plain(self.fallback))


def message(fallback: Line, elements: Iterable[Element]) -> Message:
    return Message(fallback, tuple(elements))


def size(element: Element, fmt: Format) -> int:
    """How much of a message's text budget `element` takes when `fmt` writes it."""
    if isinstance(element, Section):
        return len(element.text(fmt))
    if isinstance(element, Context):
        return sum(len(fmt.write(line)) for line in element.lines)
    if isinstance(element, Header):
        return len(element.text)
    return 0


def plain_text(message: Message) -> str:
    """A message as plain text: the console's output and the e-mail's text part."""
    out: list[str] = []
    for e in message.elements:
        if isinstance(e, Header):
            out.append(f"== {e.text} ==")
        elif isinstance(e, Section):
            out.append("\n".join(e.fitted(PLAIN, plain)))
        elif isinstance(e, Context):
            out.extend(plain(line) for line in e.lines)
        elif isinstance(e, Divider):
            out.append("-" * 40)
    return "\n".join(out)


# ---------------------------------------------------------------- public API


def messages(notification: Notification, items: Sequence[Mapping[str, object]], fmt: Format = PLAIN) -> list[Message]:
    """The notification's messages in neutral form, split within `fmt`'s limits."""
    build = _DRAFTS.get(notification.kind, _items_draft)
    return paginate(build(notification, list(items), fmt), fmt)


def paginate(draft: Draft, fmt: Format = PLAIN) -> list[Message]:
    """Split a draft into messages within the block, item and text budgets, numbering parts."""
    head_blocks = 1 + len(draft.head)
    head_size = fmt.header_text + sum(size(e, fmt) for e in draft.head) + fmt.fallback_text
    chunks: list[list[list[Element]]] = [[]]
    chunk_uids: list[list[str]] = [[]]
    blocks, used = head_blocks, head_size
    for index, unit in enumerate(draft.units):
        unit_blocks, unit_size = len(unit), sum(size(e, fmt) for e in unit)
        current = chunks[-1]
        if current and (
            len(current) >= fmt.items_per_message or blocks + unit_blocks > fmt.max_blocks
            or used + unit_size > fmt.message_text
        ):
            chunks.append([])
            chunk_uids.append([])
            blocks, used = head_blocks, head_size
        chunks[-1].append(unit)
        if index < len(draft.unit_uids):
            chunk_uids[-1].append(draft.unit_uids[index])
        blocks += unit_blocks
        used += unit_size
    tail_blocks, tail_size = len(draft.tail), sum(size(e, fmt) for e in draft.tail)
    if draft.tail and chunks[-1] and (blocks + tail_blocks > fmt.max_blocks or used + tail_size > fmt.message_text):
        chunks.append([])
    out: list[Message] = []
    for number, chunk in enumerate(chunks, 1):
        suffix = f" (part {number}/{len(chunks)})" if len(chunks) > 1 else ""
        reserved = len(suffix) + (len(draft.emoji) + 3 if draft.emoji else 0)
        title = clip(draft.title, fmt.header_text - reserved) + suffix
        elements: list[Element] = [Header(title, draft.emoji), *draft.head]
        for unit in chunk:
            elements.extend(unit)
        if number == len(chunks):
            elements.extend(draft.tail)
        out.append(Message((*draft.fallback, suffix), tuple(elements), tuple(chunk_uids[number - 1])))
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
    return section(lines, more_url=url)


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


def _query(notification: Notification) -> str:
    return clip(notification.query or "litwatch", 64)


def _date(value: Any) -> str:
    return str(value or "")[:10]


def _context(notification: Notification, *extra: Line) -> Context:
    base: Line = ("Query ", Code(_query(notification)))
    when = _date(notification.created)
    return Context((join([base, (when,) if when else (), *extra]),))


# ---------------------------------------------------------------- drafts per notification type


def _alert_draft(notification: Notification, items: list[Mapping[str, Any]], fmt: Format) -> Draft:
    safety = notification.kind == "safety"
    label = "Safety signal" if safety else "Integrity notice"
    emoji = "rotating_light" if safety else "warning"
    first = clip(str(items[0].get("title") or ""), 150) if items else ""
    units: list[list[Element]] = [[item_section(i, changed=True), *choices(i, fmt, safety=safety)] for i in items]
    if not units:
        units = [[section([("The item is no longer in the store.",)])]]
    return Draft(
        title=f"{label} — {_query(notification)}",
        emoji=emoji,
        fallback=(f"{label}: ", first) if first else (label,),
        head=[_context(notification)],
        units=units,
        unit_uids=[uid_of(i) for i in items],
    )


def _items_draft(notification: Notification, items: list[Mapping[str, Any]], fmt: Format) -> Draft:
    changed_uids = set(notification.summary.changed_uids)
    changed = [i for i in items if _is_changed(i, changed_uids)]
    changed_ids = {id(i) for i in changed}
    new = [i for i in items if id(i) not in changed_ids]
    counts = join([(f"{len(new)} new",) if new else (), (f"{len(changed)} changed",) if changed else ()], ", ")
    words = plain(counts) or "no items"
    units: list[list[Element]] = [[item_section(i), *choices(i, fmt)] for i in new]
    units += [[item_section(i, changed=True), *choices(i, fmt)] for i in changed]
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


def _baseline_draft(notification: Notification, items: list[Mapping[str, Any]], fmt: Format) -> Draft:
    total = notification.summary.count or len(items)
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
        units=[[section(lines)]],
    )


def _baseline_flagged_draft(notification: Notification, items: list[Mapping[str, Any]], fmt: Format) -> Draft:
    """A baseline's flagged records, listed once (newest first) instead of one alert each."""
    query = _query(notification)
    total = notification.summary.count or len(items)
    shown = newest_first(items)[:BASELINE_FLAGGED_SHOWN]
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
        units=_listed(heading, shown, [digest_line(i) for i in shown], more, fmt),
    )


def _problem_text(notification: Notification) -> str:
    return clip(notification.summary.message or "unknown problem", 1500)


def _problem_draft(notification: Notification, title: str, first: Line, then: Line) -> Draft:
    text = _problem_text(notification)
    return Draft(
        title=f"{title} — {_query(notification)}",
        fallback=(f"litwatch: {_query(notification)}: ", clip(text, 200)),
        head=[_context(notification)],
        units=[[section([(*first, text), then])]],
    )


def _error_draft(notification: Notification, items: list[Mapping[str, Any]], fmt: Format) -> Draft:
    """A failed query: the message as the pipeline worded it."""
    return _problem_draft(
        notification, "Query failed", (Emoji("x"), " "),
        ("A failed query keeps its watermark; the next run retries. Details: ", Code("litwatch status")),
    )


def _warning_draft(notification: Notification, items: list[Mapping[str, Any]], fmt: Format) -> Draft:
    """A query that ran, with new warnings from its source (unset NCBI_EMAIL, a malformed feed)."""
    return _problem_draft(
        notification, "Query warning", (Emoji("warning"), " "),
        ("The query ran and its results were stored; this is about what the source returned. "
         "Details: ", Code("litwatch status")),
    )


def newest_first(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Items by publication date, then arrival, newest first."""
    return sorted(
        items,
        key=lambda i: (str(i.get("published") or ""), str(i.get("first_seen") or "")),
        reverse=True,
    )


def _bullets(heading: Line, lines: list[Line], more: Line, fmt: Format) -> list[Element]:
    """A heading and bullet lines packed into as few sections as the text limit allows."""
    sections: list[Element] = []
    current: list[Line] = [heading]
    used = len(fmt.write(heading))
    for line in [*lines, more] if more else lines:
        cost = len(fmt.write(line)) + 1
        if used + cost > fmt.section_text:
            sections.append(section(current))
            current, used = [], 0
        current.append(line)
        used += cost
    sections.append(section(current))
    return sections


def _listed(heading: Line, items: list[Mapping[str, Any]], lines: list[Line], more: Line,
            fmt: Format) -> list[list[Element]]:
    """A digest's list: packed bullets, or where the channel has buttons one unit per item
    (its line and its choices; the heading rides on the first, "+N more" on the last)."""
    if not fmt.buttons or not items:
        return [_bullets(heading, lines, more, fmt)]
    units: list[list[Element]] = [[section([line]), *choices(item, fmt)]
                                  for item, line in zip(items, lines, strict=True)]
    units[0].insert(0, section([heading]))
    if more:
        units[-1].append(section([more]))
    return units


def _digest_draft(notification: Notification, items: list[Mapping[str, Any]], fmt: Format) -> Draft:
    summary: Summary = notification.summary
    period = summary.period or "weekly"
    top = max(1, summary.top)
    since = _date(summary.since)
    label = PERIOD_LABEL.get(period, period.title())
    changed = {uid_of(i) for i in items if _changed_since(i, summary.since)}
    noun = "item" if len(items) == 1 else "items"
    count_words = f"{len(items)} new {'or changed ' if changed else ''}{noun}"
    flagged = newest_first(i for i in items if is_flagged(i))
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
        units.extend(_listed(heading, shown, lines, (f"+{extra} more",) if extra else (), fmt))
    for kind in KIND_LABEL:
        rest = newest_first(i for i in items if kind_of(i) == kind and not is_flagged(i))
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
        units.extend(_listed(heading, rest[:top], lines, more, fmt))
    tail: list[Element] = []
    if not items:
        units.append([section([(f"Nothing new since {since or 'the last digest'}.",)])])
    elif hidden:
        export = f"litwatch export --since {since} --format ris" if since else "litwatch export --format ris"
        tail = [Divider(), Context(((f"{hidden} more not listed — run ", Code(export), " to get them all."),))]
    if summary.awaiting:
        noun = "record awaits" if summary.awaiting == 1 else "records await"
        tail.append(Context(((f"{summary.awaiting} {noun} screening: ", Code("/litwatch screen"), " or ",
                              Code("litwatch screen"), " lists them, best first."),)))
    return Draft(
        title=f"{label} digest — {count_words}",
        fallback=(f"litwatch {label.lower()} digest: {count_words}",),
        head=[Context((counts,))] if counts else [],
        units=units,
        tail=tail,
    )


def _set_aside_draft(notification: Notification, items: list[Mapping[str, Any]], fmt: Format) -> Draft:
    """A notification the channel refused twice was set aside; later ones keep flowing."""
    return _problem_draft(
        notification, "Notification set aside", (Emoji("no_entry"), " "),
        ("Later notifications keep flowing. ", Code("litwatch outbox"), " lists it; ",
         Code("litwatch outbox retry ID"), " sends it again."),
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
    "set_aside": _set_aside_draft,
}
