"""The record set as JSON, CSV or RIS, for screening tools (Covidence, Rayyan, Zotero). Pure."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

import rispy

from bot import registry
from bot.decisions import PAST

FORMATS = ("json", "csv", "ris")
CSV_COLUMNS = (
    "uid", "source", "id", "title", "url", "kind", "safety", "safety_score", "possible_safety",
    "integrity", "corrected", "reasons", "evidence", "labeller", "queries",
    "first_seen", "last_changed", "journal", "published", "doi", "authors", "trial_status",
    "links", "screening_decision", "screening_by", "screening_at", "screening_reason", "abstract",
)


def export_record(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored item flattened for export: the classification lifted to top-level keys."""
    label = doc.get("classification") or {}
    record = {k: v for k, v in doc.items() if k not in ("classification", "fingerprint")}
    record.update(
        kind=label.get("kind", "other"),
        safety=bool(label.get("safety")),
        integrity=bool(label.get("integrity")),
        reasons=list(label.get("reasons", ())),
        safety_score=float(label.get("safety_score") or 0.0),
        possible_safety=bool(label.get("possible_safety")),
        corrected=bool(label.get("corrected")),
        evidence=list(label.get("evidence", ())),
        labeller=str(label.get("labeller") or ""),  # which classifier gave these labels
        screening=doc.get("screening"),  # {decision, by, at, reason}; None: not screened yet
    )
    return record


def to_json(docs: Iterable[Mapping[str, Any]]) -> str:
    return json.dumps([export_record(d) for d in docs], ensure_ascii=False, indent=2) + "\n"


def to_csv(docs: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for doc in docs:
        record = export_record(doc)
        trial = doc.get("trial") or {}
        record.update(
            reasons="; ".join(record["reasons"]),
            evidence="; ".join(record["evidence"]),
            queries="; ".join(record.get("queries", ())),
            authors="; ".join(record.get("authors", ())),
            links="; ".join(record.get("links", ())),
            trial_status=trial.get("status", ""),
            **{f"screening_{k}": v or "" for k, v in (record["screening"] or {}).items()},
        )
        writer.writerow(record)
    return out.getvalue()


def ris_entry(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One RIS record: TY TI AU PY JO VL IS SP EP SN AB DO UR AN KW, the classification among
    the keywords."""
    record = export_record(doc)
    start_page, end_page = page_range(str(doc.get("pages") or ""))
    keywords = list(doc.get("keywords") or ())
    keywords += [m["descriptor"] for m in doc.get("mesh") or ()]
    keywords.append(f"litwatch:{record['kind']}")
    if record["safety"]:
        keywords.append("litwatch:safety")
    elif record["possible_safety"]:
        keywords.append("litwatch:possible-safety")
    if record["integrity"]:
        keywords.append("litwatch:integrity")
    screening = record["screening"]
    if screening:
        keywords.append(f"litwatch:{PAST[screening['decision']].lower()}")
    spec = registry.get(str(doc.get("source")))
    if record["corrected"]:
        keywords.append("litwatch:corrected")
    entry: dict[str, Any] = {
        "type_of_reference": spec.ris_type if spec else "GEN",
        "title": doc.get("title") or "(untitled)",
        "accession_number": doc.get("id", ""),
        "keywords": keywords,
    }
    optional = {
        "authors": list(doc.get("authors") or ()),
        "year": str(doc.get("published", ""))[:4],
        "journal_name": doc.get("journal") or doc.get("feed_title"),
        "abstract": doc.get("abstract"),
        "doi": doc.get("doi"),
        "volume": doc.get("volume"),
        "number": doc.get("issue"),
        "start_page": start_page,
        "end_page": end_page,
        "issn": doc.get("issn"),
        "urls": [u for u in [doc.get("url"), *(doc.get("alt_urls") or ())] if u],
        "notes": [n for n in ("; ".join(record["reasons"]), screening_note(screening)) if n],
        "name_of_database": spec.ris_database if spec else "",
    }
    entry.update({k: v for k, v in optional.items() if v})
    return entry


def screening_note(screening: Mapping[str, Any] | None) -> str:
    """The decision as an RIS note, in the notation Rayyan keeps in its notes on import and
    export (`LITWATCH-INCLUSION: {"Alice"=>"Included"} | LITWATCH-EXCLUSION-REASONS: …`), which
    `litwatch decide --from` reads back."""
    if not screening:
        return ""
    by = str(screening.get("by") or "").replace('"', "'")
    note = f'LITWATCH-INCLUSION: {{"{by}"=>"{PAST[screening["decision"]]}"}}'
    if screening.get("reason"):
        note += f" | LITWATCH-EXCLUSION-REASONS: {screening['reason']}"
    return note


def page_range(pages: str) -> tuple[str, str]:
    """First and last page of a journal's page string, abbreviations expanded:
    "409-15" -> ("409", "415"), "e1187" -> ("e1187", ""), "12-5, 20" -> ("12", "15")."""
    start, _, end = pages.split(",")[0].partition("-")
    start, end = start.strip(), end.strip()
    if start.isdigit() and end.isdigit() and len(end) < len(start):
        end = start[: len(start) - len(end)] + end  # MEDLINE drops the digits the pages share
    return start, end


class _PlainRisWriter(rispy.RisWriter):
    """rispy numbers each record ("1."); screening tools expect a record to start at TY."""

    def set_header(self, count: int) -> str:
        return ""


def to_ris(docs: Iterable[Mapping[str, Any]]) -> str:
    return str(rispy.dumps([ris_entry(d) for d in docs], implementation=_PlainRisWriter))


def render(docs: Iterable[Mapping[str, Any]], fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    return {"json": to_json, "csv": to_csv, "ris": to_ris}[fmt](docs)
