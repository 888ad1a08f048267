"""Pictures: the PRISMA 2020 flow diagram of an update, and the digest's weekly trend chart.

Pure functions from counts or stored records to PNG / SVG bytes, drawn with matplotlib's
object API on the Agg canvas (no pyplot, no display, no global figure state, no network), so
the daemon's threads can draw side by side.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import MaxNLocator

from bot.prisma import Prisma

FORMATS = ("png", "svg")
# PRISMA 2020 template colours: phase bars, the previous-studies column, boxes.
PHASE = "#9dc3e6"
PREVIOUS = "#d9d9d9"
EDGE = "#404040"
KIND_COLOURS = {"clinical": "#2f6eba", "case_report": "#f0a030", "other": "#b0b0b0"}
KIND_NAMES = {"clinical": "Clinical studies", "case_report": "Case reports", "other": "Other"}


def _render(fig: Figure, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"unknown picture format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    out = io.BytesIO()
    # Text stays text in SVG; no timestamps or random ids, so the same counts give the same file.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "litwatch"}):
        metadata = {"Date": None} if fmt == "svg" else {"Software": "litwatch"}
        fig.savefig(out, format=fmt, dpi=110, metadata=metadata)
    return out.getvalue()


def _box(ax: Any, x: float, y: float, w: float, h: float, text: str, *, fill: str = "white",
         size: float = 8.5, weight: str = "normal") -> None:  # fmt: skip
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                                facecolor=fill, edgecolor=EDGE, linewidth=1.0))
    ax.text(x + 0.12, y + h / 2, text, ha="left", va="center", fontsize=size, weight=weight,
            linespacing=1.35, wrap=False)


def _arrow(ax: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": EDGE, "lw": 1.0, "shrinkA": 0, "shrinkB": 0})


def _lines(counts: Mapping[str, int], limit: int = 6, width: int = 46) -> list[str]:
    """One line per entry, largest first; past `limit`, the rest summed on one line."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > limit + 1:
        items = [*items[:limit], (f"{len(items) - limit} more", sum(n for _, n in items[limit:]))]
    return [f"  {name if len(name) <= width else name[: width - 1] + '…'} (n = {n})" for name, n in items]


def flow_diagram(prisma: Prisma, fmt: str = "png", *, title: str = "") -> bytes:
    """The PRISMA 2020 flow diagram for an updated review (new studies via databases and
    registers), with the previous version's studies in the grey column on the left."""
    now, before = prisma.current, prisma.previous
    sources = _lines(now.identified_by_source) or ["  (none)"]
    reasons = _lines(now.excluded_by_reason) or []
    tall = max(len(sources), len(reasons), 2)
    row_h = 0.9 + 0.19 * tall
    inc_h = 0.75
    # One unit is one inch: title and headers, two rows, two included boxes, gaps, margins.
    height = 0.35 + 1.25 + 0.35 + 2 * row_h + 0.45 + 0.45 + 0.4 + 2 * inc_h + 0.3
    fig = Figure(figsize=(11, height))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, height)
    ax.axis("off")

    top = height - 0.35
    heading = title or "PRISMA 2020 flow diagram: updated review"
    period = f"records identified from {prisma.since} on" if prisma.since else "all records litwatch holds"
    ax.text(5.5, top, heading, ha="center", va="top", fontsize=12, weight="bold")
    ax.text(5.5, top - 0.38, period, ha="center", va="top", fontsize=9, color="#555555")

    # Column headers.
    head_y = top - 1.25
    _box(ax, 0.75, head_y, 2.6, 0.55, "Previous studies", fill=PREVIOUS, weight="bold", size=9)
    _box(ax, 3.65, head_y, 7.05, 0.55, "Identification of new studies via databases and registers",
         fill="#fff2cc", weight="bold", size=9)

    # Identification row.
    y1 = head_y - 0.35 - row_h
    prev_included = before.included if before else 0
    _box(ax, 0.75, y1, 2.6, row_h, f"Studies included in\nprevious version of\nreview (n = {prev_included})",
         fill=PREVIOUS)
    _box(ax, 3.65, y1, 3.5, row_h, "\n".join([f"Records identified (n = {now.identified}):", *sources]))
    _box(ax, 7.55, y1, 3.15, row_h,
         f"Records removed before\nscreening:\n  Duplicate records, folded by\n  cross-source links "
         f"(n = {now.duplicates_removed})")
    _arrow(ax, (7.15, y1 + row_h / 2), (7.55, y1 + row_h / 2))

    # Screening row.
    y2 = y1 - 0.45 - row_h
    _box(ax, 3.65, y2, 3.5, row_h,
         f"Records screened (n = {now.screened})\n\nAwaiting screening (n = {now.awaiting})\n"
         f"Maybe: full text to check (n = {now.maybe})")
    _box(ax, 7.55, y2, 3.15, row_h,
         "\n".join([f"Records excluded (n = {now.excluded}):", *reasons]))
    _arrow(ax, (5.4, y1), (5.4, y2 + row_h))
    _arrow(ax, (7.15, y2 + row_h / 2), (7.55, y2 + row_h / 2))

    # Included row.
    y3 = y2 - 0.45 - inc_h
    _box(ax, 3.65, y3, 3.5, inc_h, f"New studies included in review\n(n = {now.included})")
    _arrow(ax, (5.4, y2), (5.4, y3 + inc_h))
    y4 = y3 - 0.4 - inc_h
    _box(ax, 0.75, y4, 6.4, inc_h, f"Total studies included in review (n = {prisma.total_included})",
         weight="bold")
    _arrow(ax, (5.4, y3), (5.4, y4 + inc_h))
    _arrow(ax, (2.05, y1), (2.05, y4 + inc_h))

    # Phase bars on the left.
    for label, lo, hi in (("Identification", y1, y1 + row_h), ("Screening", y2, y2 + row_h),
                          ("Included", y4, y3 + inc_h)):  # fmt: skip
        ax.add_patch(FancyBboxPatch((0.15, lo), 0.4, hi - lo, boxstyle="round,pad=0,rounding_size=0.08",
                                    facecolor=PHASE, edgecolor=EDGE, linewidth=1.0))
        ax.text(0.35, (lo + hi) / 2, label, rotation=90, ha="center", va="center", fontsize=9, weight="bold")
    return _render(fig, fmt)


def weekly_counts(docs: Iterable[Mapping[str, Any]], *, weeks: int, today: date
                  ) -> tuple[list[date], dict[str, list[int]], list[int]]:  # fmt: skip
    """New records per ISO week (Mondays) by kind, and safety flags per week, for `weeks`
    weeks up to the one holding `today`."""
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    index = {m: i for i, m in enumerate(mondays)}
    by_kind = {kind: [0] * weeks for kind in KIND_COLOURS}
    safety = [0] * weeks
    for doc in docs:
        try:
            seen = datetime.fromisoformat(str(doc.get("first_seen") or "")).date()
        except ValueError:
            continue
        slot = index.get(seen - timedelta(days=seen.weekday()))
        if slot is None:
            continue
        label = doc.get("classification") or {}
        kind = str(label.get("kind") or "other")
        kind = kind if kind in by_kind else "other"
        by_kind[kind][slot] += 1
        safety[slot] += bool(label.get("safety"))
    return mondays, by_kind, safety


def trend_chart(docs: Iterable[Mapping[str, Any]], *, today: date, weeks: int = 12, title: str = "") -> bytes:
    """PNG: new records per week, stacked by kind, with the week's safety signals marked."""
    mondays, by_kind, safety = weekly_counts(docs, weeks=weeks, today=today)
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    xs = list(range(len(mondays)))
    bottom = [0] * len(xs)
    for kind, counts in by_kind.items():
        ax.bar(xs, counts, bottom=bottom, color=KIND_COLOURS[kind], label=KIND_NAMES[kind], width=0.7)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    flagged = [(x, b, n) for x, b, n in zip(xs, bottom, safety, strict=True) if n]
    if flagged:
        peak = max(bottom) or 1
        ax.scatter([x for x, _, _ in flagged], [b + peak * 0.06 for _, b, _ in flagged], marker="v",
                   color="#c00000", s=46, zorder=3, label="Safety signals")
        for x, b, n in flagged:
            ax.text(x, b + peak * 0.11, str(n), ha="center", va="bottom", fontsize=8, color="#c00000")
    ax.set_xticks(xs, [m.strftime("%d %b") for m in mondays], fontsize=8, rotation=45, ha="right")
    ax.set_ylabel("New records", fontsize=9)
    ax.set_ylim(0, max(max(bottom) * 1.3, 1))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title or f"New records per week (weeks from {mondays[0].isoformat()})", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left", ncols=4)
    fig.tight_layout()
    return _render(fig, "png")


def digest_pictures(docs: Iterable[Mapping[str, Any]], decisions: Mapping[str, Any], *, since: str,
                    today: date, query_sources: Mapping[str, str], directory: Path, stem: str) -> tuple[str, ...]:
    """Draw a digest's two PNGs into `directory`: the trend chart (new records per week by
    kind, safety flags marked) and the PRISMA flow of the period from `since`; their paths.

    A digest keeps only the paths, and shares the files when it is delivered, which may be
    after the next digest was drawn (a crash, an outage): so a name already taken (a second
    digest the same day) is never drawn over; the next free `stem-2`, `stem-3`… is used.
    """
    from bot.prisma import count

    docs = list(docs)
    directory.mkdir(parents=True, exist_ok=True)
    trend, flow = next(pair for pair in _names(directory, stem) if not any(p.exists() for p in pair))
    trend.write_bytes(trend_chart(docs, today=today, title=f"New records per week, to {today.isoformat()}"))
    prisma = count(docs, decisions, since=since[:10], query_sources=query_sources)
    flow.write_bytes(flow_diagram(prisma, "png", title=f"PRISMA 2020 flow, update from {since[:10]}"))
    return (str(trend), str(flow))


def _names(directory: Path, stem: str) -> Iterator[tuple[Path, Path]]:
    """The trend chart's and the PRISMA diagram's file names for `stem`, then `stem-2`, …"""
    for number in itertools.count(1):
        numbered = stem if number == 1 else f"{stem}-{number}"
        yield directory / f"{numbered}-trend.png", directory / f"{numbered}-prisma.png"
