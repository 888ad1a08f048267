"""Screening: the ranked queue of undecided records, decisions from the CLI and from the CSV
exports of Rayyan and Covidence, and the decisions attached to exported records.

Reads the store and hands decisions to `Store.record_decisions` (the single writer); the
CSV reading itself is pure.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import registry
from bot.decisions import PAST, Decision, Example, Reviewer, Verdict, verdict
from bot.errors import LitwatchError
from bot.ranker import Basis, FeatureCache, rank
from bot.store import Store


@dataclass(frozen=True)
class Queued:
    """One undecided record in the screening queue."""

    uid: str
    title: str
    score: float
    basis: Basis
    url: str = ""
    kind: str = "other"
    safety: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "title": self.title, "score": self.score, "basis": self.basis,
                "url": self.url, "kind": self.kind, "safety": self.safety}


def queue(store: Store, *, query: str | None = None, limit: int = 10,
          features: FeatureCache | None = None) -> list[Queued]:  # fmt: skip
    """The next `limit` undecided records (of `query`, or all), best first.

    The model learns from every decision in the store, whichever query found the record. A
    long-running process passes one `features` cache to every call.
    """
    docs = store.items()
    decided = store.current_decisions()
    labels = {uid: int(d.decision == "include") for uid, d in decided.items() if d.decision != "maybe"}
    examples = [(e.as_doc(), int(e.decision == "include")) for e in store.examples().values()
                if e.decision != "maybe"]
    by_uid = {d["uid"]: d for d in docs}
    out = []
    for ranked in rank(docs, labels, features, examples):
        doc = by_uid[ranked.uid]
        if ranked.uid in decided or (query and query not in doc.get("queries", ())):
            continue
        label = doc.get("classification") or {}
        out.append(Queued(ranked.uid, doc.get("title") or "(untitled)", ranked.score, ranked.basis,
                          doc.get("url") or "", label.get("kind", "other"), bool(label.get("safety"))))
        if len(out) == limit:
            break
    return out


def awaiting(store: Store) -> int:
    """How many stored records have no decision yet."""
    decided = store.current_decisions()
    return len(store) - sum(1 for uid in decided if uid in store)


def with_screening(docs: Iterable[Mapping[str, Any]], decided: Mapping[str, Decision]) -> list[dict[str, Any]]:
    """Docs with `screening`: their current decision's summary, or None when undecided."""
    out = []
    for doc in docs:
        decision = decided.get(doc["uid"])
        out.append({**doc, "screening": decision.summary() if decision else None})
    return out


def describe(decision: Decision) -> str:
    """"✓ Included by Alice", "✗ Excluded by Bob (wrong population)"."""
    mark = {"include": "✓", "exclude": "✗", "maybe": "?"}[decision.decision]
    reason = f" ({decision.reason})" if decision.reason else ""
    return f"{mark} {PAST[decision.decision]} by {decision.by.name or decision.by.id}{reason}"


# ---------------------------------------------------------------- CSV imports


# Column names as the tools export them, compared lower-cased with spaces and dashes as "_".
UID_COLUMNS = ("uid", "litwatch_uid")
PMID_COLUMNS = ("pmid", "pubmed_id", "pubmedid", "pubmed", "accession_number")  # Rayyan, Covidence
DOI_COLUMNS = ("doi",)
NCT_COLUMNS = ("nct", "nct_id", "nct_number", "trial_id")
DECISION_COLUMNS = ("decision", "screening_decision", "screening")
REASON_COLUMNS = ("reason", "exclusion_reason", "exclusion_reasons", "screening_reason")
BY_COLUMNS = ("by", "reviewer", "reviewer_name", "screening_by")
NOTES_COLUMNS = ("notes", "note", "n1")
UID = re.compile(r"^(pmid:\d+|nct:NCT\d{8}|feed:.+)$")
PMID = re.compile(r"^\d{1,9}$")
NCT = re.compile(r"^NCT\d{8}$", re.I)
DOI = re.compile(r"^10\.\d{4,9}/\S+$")
# Rayyan keeps its screening in the notes column:
#   RAYYAN-INCLUSION: {"Alice"=>"Included", "Bob"=>"Excluded"} | RAYYAN-EXCLUSION-REASONS: wrong population
# litwatch's own RIS export writes the same notation with LITWATCH- in front.
RAYYAN_INCLUSION = re.compile(r"(?:RAYYAN|LITWATCH)-INCLUSION:\s*\{([^}]*)\}")
RAYYAN_VOTE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=>\s*"((?:[^"\\]|\\.)*)"')
RAYYAN_REASONS = re.compile(r"(?:RAYYAN|LITWATCH)-EXCLUSION-REASONS:\s*([^|]*)")
# Covidence puts a full-text exclusion in its Notes: "Exclusion reason: Wrong setting; ".
COVIDENCE_REASON = re.compile(r"Exclusion reason:\s*([^;|]+)", re.I)
MAX_ERRORS = 20


@dataclass
class ImportPlan:
    """What a CSV file would record, or why it cannot be imported."""

    decisions: list[Decision] = field(default_factory=list)
    not_stored: list[str] = field(default_factory=list)  # identifiers of records litwatch lacks
    examples: list[Example] = field(default_factory=list)  # those of them with a title to learn from
    errors: list[str] = field(default_factory=list)  # one line each; any error: nothing is imported
    rows: int = 0


def read_decisions_csv(
    path: Path,
    *,
    resolve: Callable[[str, str], str | None],
    now: datetime,
    default: Verdict | None = None,
    by: Reviewer | None = None,
) -> ImportPlan:
    """Decisions from a screening tool's CSV export (pure apart from reading `path`).

    `resolve(kind, value)` maps an identifier ("pmid", "12345") to a stored uid or None.
    A decision comes from a decision column, Rayyan's notes, or `default` (an export of one
    Covidence list: everything in "Included"). Any bad row makes the whole file an error.
    """
    plan = ImportPlan()
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise LitwatchError(f"{path}: file not found") from None
    except OSError as exc:
        raise LitwatchError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise LitwatchError(f"{path}: not UTF-8 text; save the export as CSV (UTF-8)") from None
    if not text.strip():
        raise LitwatchError(f"{path}: the file is empty")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    columns = {_column(c): c for c in reader.fieldnames or () if c}
    id_columns = [(kind, columns[c]) for kind, names in
                  (("uid", UID_COLUMNS), ("pmid", PMID_COLUMNS), ("doi", DOI_COLUMNS), ("nct", NCT_COLUMNS))
                  for c in names if c in columns]  # fmt: skip
    if not id_columns:
        shown = ", ".join(list(columns.values())[:8]) or "none"
        raise LitwatchError(f"{path}: no pmid, doi or uid column (columns: {shown})")
    decision_col = _first(columns, DECISION_COLUMNS)
    notes_col = _first(columns, NOTES_COLUMNS)
    rayyan = notes_col is not None and RAYYAN_INCLUSION.search(text) is not None
    if decision_col is None and not rayyan and default is None:
        raise LitwatchError(
            f"{path}: no decision column (nor Rayyan's RAYYAN-INCLUSION notes); for an export of one "
            f"Covidence list, say which it is: litwatch decide include --from {path}"
        )
    reason_col, by_col = _first(columns, REASON_COLUMNS), _first(columns, BY_COLUMNS)
    title_col, abstract_col = _first(columns, ("title",)), _first(columns, ("abstract",))
    where = f"import:{name}"

    def bad(line: int, message: str) -> None:
        plan.errors.append(f"{name}: line {line}: {message}")

    for line, row in enumerate(reader, start=2):
        if len(plan.errors) >= MAX_ERRORS:
            plan.errors.append(f"{name}: stopped after {MAX_ERRORS} errors")
            break
        if None in row:  # more cells than the header names
            bad(line, f"{len(row) - 1 + len(row[None])} cells for {len(row) - 1} columns; check the quoting")
            continue
        if not any((v or "").strip() for v in row.values()):
            continue  # a blank line
        plan.rows += 1
        ids = [(kind, _identifier(kind, row.get(col) or "")) for kind, col in id_columns]
        ids = [(kind, value) for kind, value in ids if value]
        if not ids:
            bad(line, f"no identifier (fill one of: {', '.join(col for _, col in id_columns)})")
            continue
        problem = next((p for kind, value in ids if (p := _id_problem(kind, value))), None)
        if problem:
            bad(line, problem)
            continue
        notes = (row.get(notes_col) or "") if notes_col else ""
        vote = _rayyan_vote(notes) if rayyan else None
        word = (row.get(decision_col) or "").strip() if decision_col else ""
        if word:
            chosen = verdict(word)
            if chosen is None:
                bad(line, f"decision {word!r} is not include, exclude or maybe")
                continue
            who, conflict = None, ""
        elif vote is not None:
            chosen, who, conflict = vote
        elif default is not None and not rayyan:
            chosen, who, conflict = default, None, ""
        elif rayyan:
            continue  # Rayyan lists records nobody has screened yet: nothing to import
        else:
            bad(line, f"empty decision (fill the {decision_col!r} column with include, exclude or maybe)")
            continue
        named = (row.get(by_col) or "").strip() if by_col else ""
        reviewer = (Reviewer(f"import:{named}", named) if named else who) or by or Reviewer("import", name)
        uid = next((u for kind, value in ids if (u := resolve(kind, value))), None)
        if uid is None:
            key = " / ".join(f"{kind} {value}" for kind, value in ids)
            plan.not_stored.append(key)
            title = (row.get(title_col) or "").strip() if title_col else ""
            if title and chosen != "maybe":
                abstract = (row.get(abstract_col) or "").strip() if abstract_col else ""
                plan.examples.append(Example(key, chosen, title, abstract, reviewer, now, where))
            continue
        reason = _reason(row.get(reason_col) if reason_col else None, notes) if chosen == "exclude" else None
        if conflict:
            reason = conflict
        plan.decisions.append(Decision(uid, chosen, reviewer, now, where, reason))
    if plan.rows == 0 and not plan.errors:
        raise LitwatchError(f"{path}: no records below the header")
    return plan


def resolver(store: Store) -> Callable[[str, str], str | None]:
    """Identifiers from a CSV (pmid, doi, nct, uid) to the uids the store holds."""

    def resolve(kind: str, value: str) -> str | None:
        if kind == "doi":
            return store.uid_for_doi(value)
        if kind == "pmid":
            uid: str | None = registry.uid("pubmed", value)
        elif kind == "nct":
            uid = registry.accession_uid(value.upper())
        else:
            uid = value
        return uid if uid and uid in store else None

    return resolve


def _delimiter(text: str) -> str:
    """Comma, or the semicolon / tab of a header that has those and no comma (Excel's CSV in
    much of Europe). Only the delimiter is guessed: quoting stays Excel's."""
    header = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=lambda d: (header.count(d), d == ","))


def _column(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _first(columns: Mapping[str, str], names: Sequence[str]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


def _identifier(kind: str, cell: str) -> str:
    """A cell as an identifier: a DOI without its resolver prefix (https://doi.org/, doi:)."""
    value = cell.strip()
    if kind == "doi":
        for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
            if value.lower().startswith(prefix):
                return value[len(prefix):].strip()
    return value


def _id_problem(kind: str, value: str) -> str | None:
    if kind == "pmid" and not PMID.match(value):
        return f"PMID {value!r} is not a number"
    if kind == "doi" and not DOI.match(value):
        return f"DOI {value!r} does not look like 10.NNNN/…"
    if kind == "nct" and not NCT.match(value):
        return f"trial ID {value!r} is not an NCT number (NCT followed by 8 digits)"
    if kind == "uid" and not UID.match(value):
        return f"uid {value!r} is not a litwatch uid (pmid:N, nct:NCT…, feed:…)"
    return None


def _rayyan_vote(notes: str) -> tuple[Verdict, Reviewer, str] | None:
    """The team's call in Rayyan's notes: agreed votes give that decision; disagreement, maybe."""
    found = RAYYAN_INCLUSION.search(notes)
    if not found:
        return None
    votes = [(who, verdict(said)) for who, said in RAYYAN_VOTE.findall(found.group(1))]
    calls = {v for _, v in votes if v}
    if not calls:
        return None
    names = ", ".join(who for who, _ in votes)
    reviewer = Reviewer(f"rayyan:{names}", names)
    if len(calls) == 1:
        return calls.pop(), reviewer, ""
    told = ", ".join(f"{who} {PAST[v]}" for who, v in votes if v)
    return "maybe", reviewer, f"Rayyan conflict: {told}"


def _reason(cell: str | None, notes: str) -> str | None:
    found = (RAYYAN_REASONS.search(notes), COVIDENCE_REASON.search(notes))
    for text in (cell or "", *(m.group(1) for m in found if m)):
        if text.strip():
            return " ".join(text.strip().split())
    return None
