"""Measure the classifier on the hand-labelled evaluation set (bench/eval/labels-*.csv).

Each labelled record is read in place from LITWATCH_FIXTURES (default ../shared/fixtures) and
parsed with the project's own parsers, then classified. Prints per-class precision, recall and
F1 for kind, safety and integrity, the confusion matrix, macro-F1, every wrong record with its
reasons, the targets met or missed, and throughput.

    .venv/bin/python bench/classify.py [--config config/litwatch.toml] [--quiet]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402

from bot.classify import Classifier  # noqa: E402
from bot.config import ClassifySettings, load_settings  # noqa: E402
from bot.models import Classification, Item  # noqa: E402
from bot.sources.ctgov_json import parse_study  # noqa: E402
from bot.sources.feeds import parse_entries  # noqa: E402
from bot.sources.pubmed_xml import parse_efetch  # noqa: E402

FIXTURES = Path(os.environ.get("LITWATCH_FIXTURES") or ROOT.parent / "shared" / "fixtures")
EVAL = ROOT / "bench" / "eval"
KINDS = ("clinical", "case_report", "other")


@dataclass(frozen=True)
class Labelled:
    """One row of a labels file and the parsed record it names."""

    file: str
    id: str
    kind: str
    safety: bool
    integrity: bool
    note: str
    item: Item


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    support: int


def load_labels(folder: Path = EVAL) -> list[dict[str, str]]:
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for path in sorted(folder.glob("labels-*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                rows.setdefault((row["file"], row["id"]), {**row, "labels": path.name})
    return list(rows.values())


def parse_file(path: Path) -> list[Item]:
    """The records of one fixture file, through the parser the bot uses for that source."""
    data = path.read_bytes()
    if path.suffix == ".json":
        return [parse_study(json.loads(data))]
    head = data[:400].lstrip()
    if b"<rss" in head or b"<rdf:RDF" in head or b"<feed" in head:
        parsed = feedparser.parse(io.BytesIO(data))
        return parse_entries(parsed, feed_url=f"https://fixtures.invalid/{path.name}")
    return parse_efetch(data)


def matches(item: Item, wanted: str) -> bool:
    return wanted in (item.id, item.uid, item.url, f"doi:{item.doi}" if item.doi else "")


def load_set(folder: Path = EVAL, fixtures: Path = FIXTURES) -> tuple[list[Labelled], list[str]]:
    parsed: dict[str, list[Item]] = {}
    records, missing = [], []
    for row in load_labels(folder):
        if row["file"] not in parsed:
            path = fixtures / row["file"]
            parsed[row["file"]] = parse_file(path) if path.exists() else []
        item = next((i for i in parsed[row["file"]] if matches(i, row["id"].strip())), None)
        if item is None:
            missing.append(f"{row['file']} {row['id']} ({row['labels']})")
            continue
        records.append(Labelled(
            file=row["file"], id=row["id"].strip(), kind=row["kind"].strip(),
            safety=row["safety"].strip().lower() == "true",
            integrity=row["integrity"].strip().lower() == "true",
            note=row.get("note", ""), item=item,
        ))  # fmt: skip
    return records, missing


def score(expected: Sequence[object], got: Sequence[object], positive: object) -> Score:
    tp = sum(1 for e, g in zip(expected, got, strict=True) if e == positive and g == positive)
    fp = sum(1 for e, g in zip(expected, got, strict=True) if e != positive and g == positive)
    fn = sum(1 for e, g in zip(expected, got, strict=True) if e == positive and g != positive)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1, tp + fn)


@dataclass(frozen=True)
class Report:
    kind: dict[str, Score]
    safety: Score
    integrity: Score
    confusion: dict[tuple[str, str], int]
    wrong: list[tuple[Labelled, Classification]]

    @property
    def macro_f1(self) -> float:
        return sum(s.f1 for s in self.kind.values()) / len(self.kind)

    @property
    def macro_f1_all(self) -> float:
        scores = [*self.kind.values(), self.safety, self.integrity]
        return sum(s.f1 for s in scores) / len(scores)

    def targets(self) -> list[tuple[str, bool]]:
        k, s = self.kind, self.safety
        return [
            (f"safety recall {s.recall:.2f} >= 0.95 at precision {s.precision:.2f} >= 0.60",
             s.recall >= 0.95 and s.precision >= 0.60),
            (f"clinical recall {k['clinical'].recall:.2f} >= 0.95 at precision "
             f"{k['clinical'].precision:.2f} >= 0.85",
             k["clinical"].recall >= 0.95 and k["clinical"].precision >= 0.85),
            (f"case report recall {k['case_report'].recall:.2f} >= 0.93 at precision "
             f"{k['case_report'].precision:.2f} >= 0.90",
             k["case_report"].recall >= 0.93 and k["case_report"].precision >= 0.90),
            (f"other precision {k['other'].precision:.2f} >= 0.90", k["other"].precision >= 0.90),
            (f"integrity recall {self.integrity.recall:.2f} = 1.00", self.integrity.recall >= 1.0),
            (f"macro-F1 (kind) {self.macro_f1:.3f} >= 0.85", self.macro_f1 >= 0.85),
        ]


def evaluate(records: Sequence[Labelled], label: Callable[[Item], Classification]) -> Report:
    got = [label(r.item) for r in records]
    kinds = [r.kind for r in records]
    confusion: dict[tuple[str, str], int] = {}
    for r, g in zip(records, got, strict=True):
        confusion[(r.kind, g.kind)] = confusion.get((r.kind, g.kind), 0) + 1
    wrong = [(r, g) for r, g in zip(records, got, strict=True)
             if (r.kind, r.safety, r.integrity) != (g.kind, g.safety, g.integrity)]
    return Report(
        kind={k: score(kinds, [g.kind for g in got], k) for k in KINDS},
        safety=score([r.safety for r in records], [g.safety for g in got], True),
        integrity=score([r.integrity for r in records], [g.integrity for g in got], True),
        confusion=confusion,
        wrong=wrong,
    )


def throughput(items: Sequence[Item], label: Callable[[Item], Classification],
               seconds: float = 2.0) -> tuple[float, float]:
    """Records per CPU second of this process (one core; other processes on the machine do
    not count against it) and per wall-clock second, over whole passes through the set."""
    done = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while True:
        for item in items:
            label(item)
        done += len(items)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if cpu >= seconds:
            return done / cpu, done / wall


def print_report(report: Report, out: Callable[[str], None] = print, *,
                 wrong: bool = True) -> None:
    out(f"{'':14}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}")
    rows: Iterable[tuple[str, Score]] = [
        *((f"kind {k}", report.kind[k]) for k in KINDS),
        ("safety", report.safety), ("integrity", report.integrity),
    ]
    for name, s in rows:
        out(f"{name:14}{s.precision:>10.2f}{s.recall:>8.2f}{s.f1:>7.2f}{s.support:>9}")
    out(f"macro-F1 (kind): {report.macro_f1:.3f}   "
        f"macro-F1 (kind, safety, integrity): {report.macro_f1_all:.3f}")
    out("")
    out("confusion (rows expected, columns got):")
    out(f"{'':14}" + "".join(f"{k:>13}" for k in KINDS))
    for e in KINDS:
        out(f"{e:14}" + "".join(f"{report.confusion.get((e, g), 0):>13}" for g in KINDS))
    if wrong:
        out("")
        out(f"wrong records ({len(report.wrong)}):")
        for r, g in report.wrong:
            diffs = []
            if r.kind != g.kind:
                diffs.append(f"kind {r.kind} -> {g.kind}")
            if r.safety != g.safety:
                diffs.append(f"safety {str(r.safety).lower()} -> {str(g.safety).lower()}")
            if r.integrity != g.integrity:
                diffs.append(f"integrity {str(r.integrity).lower()} -> {str(g.integrity).lower()}")
            out(f"- {r.file} {r.id}: {'; '.join(diffs)}")
            out(f"    label note: {r.note}")
            for reason in g.reasons:
                out(f"    because {reason}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="also score with this config's [classify] terms")
    parser.add_argument("--quiet", action="store_true", help="do not list the wrong records")
    args = parser.parse_args(argv)

    records, missing = load_set()
    if not records:
        print(f"no labelled records found under {EVAL} with fixtures in {FIXTURES}")
        return 1
    files = len({r.file for r in records})
    print(f"evaluation set: {len(records)} records from {files} files "
          f"({len(missing)} labelled records not found in the fixtures)")
    for m in missing:
        print(f"  not found: {m}")
    builtin = Classifier(ClassifySettings())
    report = evaluate(records, builtin.classify)
    print("\n== built-in rules (ClassifySettings() with no topic terms)")
    print_report(report, wrong=not args.quiet)
    print("\ntargets:")
    for text, ok in report.targets():
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    if args.config:
        settings = load_settings(args.config).classify
        topic = evaluate(records, Classifier(settings).classify)
        print(f"\n== with [classify] terms from {args.config}")
        print_report(topic, wrong=not args.quiet)
    rate, wall = throughput([r.item for r in records], builtin.classify)
    print(f"\nthroughput: {rate:,.0f} records per CPU second on one core "
          f"({'met' if rate >= 2000 else 'MISSED'}: >= 2,000); {wall:,.0f} per wall-clock second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
