"""PRISMA 2020 counts of an update and the pictures drawn from them."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from typing import Any

import pytest
from PIL import Image

from bot.decisions import Decision, Reviewer
from bot.figures import flow_diagram, trend_chart, weekly_counts
from bot.prisma import count

AT = datetime(2026, 11, 25, tzinfo=UTC)
ALICE = Reviewer("U0ALICE01", "Alice")


def doc(uid: str, source: str, first_seen: str, *, queries: tuple[str, ...] = ("pm",), links: tuple[str, ...] = (),
        kind: str = "other", safety: bool = False) -> dict[str, Any]:  # fmt: skip
    return {"uid": uid, "source": source, "first_seen": first_seen, "queries": list(queries),
            "links": list(links), "classification": {"kind": kind, "safety": safety}}


def invented_store() -> tuple[list[dict[str, Any]], dict[str, Decision]]:
    """Previous update: 3 papers (2 included). This update: 3 papers, a trial and a feed entry;
    one paper absorbed a feed record with its DOI, one paper and the trial link each other."""
    old = "2026-10-01T06:00:00+00:00"
    new = "2026-11-10T06:00:00+00:00"
    docs = [
        doc("pmid:1", "pubmed", old), doc("pmid:2", "pubmed", old), doc("pmid:3", "pubmed", old),
        doc("pmid:4", "pubmed", new, links=("feed:abc",)),
        doc("pmid:5", "pubmed", new, links=("nct:NCT01234567",)),
        doc("pmid:6", "pubmed", new),
        doc("nct:NCT01234567", "clinicaltrials", new, queries=("ct",), links=("pmid:5",)),
        doc("feed:xyz", "feed", new, queries=("journal",)),
    ]
    calls = [("pmid:1", "include", None), ("pmid:2", "include", None), ("pmid:3", "exclude", "duplicate"),
             ("pmid:4", "include", None), ("pmid:5", "exclude", "wrong population"),
             ("nct:NCT01234567", "exclude", "wrong population"), ("feed:xyz", "exclude", None),
             ("pmid:6", "maybe", None)]
    return docs, {uid: Decision(uid, call, ALICE, AT, "cli", reason) for uid, call, reason in calls}  # type: ignore[arg-type]


SOURCES = {"pm": "pubmed", "ct": "clinicaltrials", "journal": "feed"}


def test_update_counts_split_at_since() -> None:
    """identified per source (with the folded feed record), duplicates, screened, decisions, previous."""
    docs, decisions = invented_store()
    prisma = count(docs, decisions, since="2026-11-01", query_sources=SOURCES)
    now = prisma.current
    assert now.identified_by_source == {"ClinicalTrials.gov: ct": 1, "Feed": 1, "Feed: journal": 1, "PubMed": 3}
    assert (now.identified, now.duplicates_removed, now.after_duplicates) == (6, 1, 5)
    assert (now.screened, now.included, now.excluded, now.maybe, now.awaiting) == (5, 1, 3, 1, 0)
    assert now.excluded_by_reason == {"wrong population": 2, "no reason given": 1}
    assert prisma.previous is not None
    assert (prisma.previous.identified, prisma.previous.included, prisma.previous.excluded) == (3, 2, 1)
    assert prisma.total_included == 3


def test_no_since_counts_everything_without_a_previous_update() -> None:
    """Without --since the whole store is one update and `previous` is null."""
    docs, decisions = invented_store()
    data = count(docs, {k: v for k, v in decisions.items() if k != "pmid:6"}).to_dict()
    assert data["previous"] is None
    assert (data["identified"], data["screened"], data["awaiting"], data["total_included"]) == (9, 7, 1, 3)


def test_flow_diagram_png_is_a_valid_image() -> None:
    """The PNG opens as an image of a plausible size."""
    docs, decisions = invented_store()
    png = flow_diagram(count(docs, decisions, since="2026-11-01", query_sources=SOURCES), "png")
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG" and image.size[0] > 800 and image.size[1] > 600


def test_flow_diagram_svg_is_xml_with_the_counts_as_text() -> None:
    """The SVG parses as XML and its text names every box's count."""
    docs, decisions = invented_store()
    svg = flow_diagram(count(docs, decisions, since="2026-11-01", query_sources=SOURCES), "svg").decode()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = " ".join("".join(t.itertext()) for t in root.iter() if t.tag.endswith("text"))
    for expected in ("Records identified (n = 6):", "Duplicate records, folded by", "Records screened (n = 5)",
                     "Records excluded (n = 3):", "wrong population (n = 2)", "review (n = 2)",
                     "New studies included in review", "Total studies included in review (n = 3)"):
        assert expected in text


def test_flow_diagram_is_deterministic() -> None:
    """The same counts draw the same SVG bytes (no dates or random ids in the file)."""
    docs, decisions = invented_store()
    prisma = count(docs, decisions, since="2026-11-01")
    assert flow_diagram(prisma, "svg") == flow_diagram(prisma, "svg")


def test_unknown_picture_format_is_refused() -> None:
    """Only png and svg are drawn."""
    docs, decisions = invented_store()
    with pytest.raises(ValueError, match="unknown picture format 'gif'"):
        flow_diagram(count(docs, decisions), "gif")


def test_weekly_counts_by_kind_with_safety() -> None:
    """Records fall into their ISO week; kinds are counted apart; safety flags per week."""
    docs = [doc("pmid:1", "pubmed", "2026-11-16T06:00:00+00:00", kind="clinical", safety=True),
            doc("pmid:2", "pubmed", "2026-11-22T23:00:00+00:00", kind="case_report"),
            doc("pmid:3", "pubmed", "2026-11-24T06:00:00+00:00", kind="clinical"),
            doc("pmid:4", "pubmed", "2025-01-01T06:00:00+00:00"),  # outside the window
            doc("pmid:5", "pubmed", "")]
    mondays, by_kind, safety = weekly_counts(docs, weeks=3, today=date(2026, 11, 25))
    assert mondays == [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    assert by_kind == {"clinical": [0, 1, 1], "case_report": [0, 1, 0], "other": [0, 0, 0]}
    assert safety == [0, 1, 0]


def test_trend_chart_is_png_bytes() -> None:
    """The digest's chart renders to a PNG, with data and without (an empty period)."""
    docs = [doc("pmid:1", "pubmed", "2026-11-16T06:00:00+00:00", kind="clinical", safety=True)]
    for records in (docs, []):
        png = trend_chart(records, today=date(2026, 11, 25))
        assert Image.open(io.BytesIO(png)).format == "PNG"
