"""Train the safety sentence model shipped in bot/data/ (`make model`), deterministically.

Data: the ADE corpus document view (`../shared/data/ade-corpus-v2/documents.jsonl`, read in
place, never copied) and the project's own labelled records (`model/labels/harms-train.jsonl`,
`model/labels/general-train*.jsonl`; `harms-holdout.jsonl` and `general-holdout.jsonl` are
never read here; `ade-audit.csv` and `ade-negatives.csv`, our reading of the corpus's records
without a drug harm, only choose the case-report thresholds), and the team's word on safety
alerts (`model/labels/team-*.jsonl`, written by
`litwatch labels export`, and any `--feedback FILE`). Every labelled sentence is an example:
the corpus's positive sentences and our sentences marked 1 are harms, those marked 0 are not; a
team record's sentences its reviewers did not judge (`null`: a confirmed alert's sentences
other than the quoted evidence) are its text but no sentence example. The record model learns
every record's `safety` label (the team's word, for team records) from all its text. Team
records weigh as our own (OWN_WEIGHT). Team records that the ADE corpus or the evaluation set
(bench/eval) also hold are left out, so no figure bench/classify.py reports is trained on.

Product names are dropped: every word of the drug names the corpus annotators marked (bar a
few generic words such as "oral" or "vaccine") leaves the vocabulary, so the model must learn
the harm, not the drug. Features are `bot.safety_model.features`, the same code the bot runs.

Thresholds are set out of fold: 5-fold cross-validation grouped by record (no record's
sentences in two folds) gives every training record a score from a model that never saw it;
the safety threshold is the highest that keeps recall >= 0.95 on the ADE records and on ours
(our labelled files and the team's) each, the review threshold the highest that keeps it >= 0.99
over both pooled (never above the safety threshold). One ADE record in five (by a
hash of its PMID) takes no part in choosing anything: bench/classify.py scores it with a
model trained without it. The shipped model is then fitted on every record.

    .venv/bin/python model/train.py [--data ../shared/data] [--out bot/data] [--feedback FILE]...
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.classify import Classifier  # noqa: E402
from bot.models import Classification, Item  # noqa: E402
from bot.safety_model import MODEL_NAME, SHORT, SafetyModel, Thresholds, features, save, words  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
LABELS = ROOT / "model" / "labels"
ADE = Path("ade-corpus-v2") / "documents.jsonl"
C = 4.0  # inverse L2 strength (chosen by grouped cross-validation on the training records)
# Our sentences teach what the corpus lacks (negation, hedging, trials, non-drug harms) and
# are few beside its 20,000: each counts this many times.
OWN_WEIGHT = 5.0
MIN_RECORDS = 2  # a feature must occur in at least this many records to enter the vocabulary
FOLDS = 5
RECALL, REVIEW_RECALL = 0.95, 0.99
# Words of annotated drug names that are not product names: kept as features.
GENERIC = frozenset({
    "drug", "drugs", "medication", "medications", "therapy", "treatment", "oral", "topical",
    "intravenous", "dose", "doses", "high-dose", "low-dose", "injection", "injections",
    "vaccine", "vaccines", "vaccination", "agent", "agents", "and", "of", "the", "with", "in",
    "or", "to", "a", "<num>", "<pct>", "contrast", "steroid", "steroids", "chemotherapy",
    "infusion", "therapeutic", "combination", "plus", "long", "term", "use", "high", "low",
    "against", "induced", "related", "associated",
})  # fmt: skip


@dataclass(frozen=True)
class Record:
    """One labelled record: its sentences (title first where known) and their labels."""

    id: str
    origin: str  # "ade", "own" or "team"
    group: str
    sentences: tuple[str, ...]
    labels: tuple[int | None, ...]  # None: not judged (team records), no training example
    safety: bool
    title: str = ""
    abstract: str = ""
    kind: str = ""
    keys: frozenset[str] = frozenset()  # every identifier of the record, normalised (`record_key`)

    @property
    def item(self) -> Item:
        """The record as the bot sees it (the ADE corpus keeps no title or publication types)."""
        return Item(source="pubmed", id=self.id, title=self.title, abstract=self.abstract)

    @property
    def examples(self) -> list[tuple[str, int]]:
        """The labelled sentences."""
        return [(s, lab) for s, lab in zip(self.sentences, self.labels, strict=True) if lab is not None]

    @property
    def holdout(self) -> bool:
        """ADE records set aside (one in five by a hash of the PMID) for the bench only."""
        return self.origin == "ade" and int(hashlib.sha256(self.id.encode()).hexdigest(), 16) % 5 == 0


# Product names in our own records: as unknown to the model as the corpus's drug names.
OWN_PRODUCTS = frozenset({
    "exosome", "exosomes", "vesicles", "extracellular", "prp", "platelet", "platelet-rich",
    "hyaluronic", "botulinum", "polydioxanone", "poly-l-lactic", "polylactic", "minoxidil",
    "isotretinoin", "dupilumab", "tacrolimus", "deoxycholic", "sibutramine", "atorvastatin",
    "valacyclovir", "triamcinolone", "hyaluronidase", "keratin", "bisphosphonate", "statin",
    "cisplatin", "gentamicin", "aminoglycosides", "vancomycin", "tranexamic", "turmeric-based",
    "henna", "para-phenylenediamine",
})  # fmt: skip
# Our labelled training files (model/labels/README.md): harms and look-alikes, and general
# literature (reviews, basic science, methods, epidemiology, protocols, guidelines).
OWN_FILES = ("harms-train.jsonl", "general-train.jsonl", "general-train-2.jsonl", "general-train-3.jsonl",
             "general-train-4.jsonl", "general-train-5.jsonl", "general-train-6.jsonl")
# Held out: scored by bench/classify.py, never trained on, never used to choose anything.
HOLDOUT_FILES = ("harms-holdout.jsonl", "general-holdout.jsonl")
TEAM_GLOB = "team-*.jsonl"  # `litwatch labels export -o model/labels/team-….jsonl`
EVAL = ROOT / "bench" / "eval"


def load_ade(data: Path = DATA) -> tuple[list[Record], frozenset[str]]:
    """The ADE documents and the product-name words to drop (from the annotated relations)."""
    path = data / ADE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SystemExit(f"ADE corpus not found at {path}: put ../shared beside the repo "
                         "or pass --data") from None
    records, drugs = [], set()
    for line in lines:
        doc = json.loads(line)
        pos, neg = list(doc["positive_sentences"]), list(doc["negative_sentences"])
        for _sentence, _effect, drug in doc["relations"]:
            drugs.update(words(drug))
        records.append(Record(
            id=str(doc["pmid"]), origin="ade", group="drug", sentences=tuple(pos + neg),
            labels=tuple([1] * len(pos) + [0] * len(neg)), safety=bool(doc["ade"]),
            abstract=" ".join(pos + neg), kind="case_report",
        ))  # fmt: skip
    return records, frozenset(drugs - GENERIC)


def our_labels(tune: Sequence[Record], folder: Path = LABELS) -> dict[str, bool]:
    """Safety of the tuned-on ADE records by our definition, by PMID: the corpus's harm records
    are harms; each of its other records is as both our labellers read it, in the audit
    (`ade-audit.csv`) or in `ade-negatives.csv`, and left out where they disagreed. Empty when
    `folder` holds neither file (a labels folder of our own records only)."""
    files = [folder / "ade-audit.csv", folder / "ade-negatives.csv"]
    if not any(f.exists() for f in files):
        return {}
    read: dict[str, tuple[str, str]] = {}
    for path in (f for f in files if f.exists()):
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                read.update({r["pmid"]: (r["safety_a"], r["safety_b"]) for r in csv.DictReader(fh)})
        except (OSError, KeyError, csv.Error, UnicodeDecodeError) as exc:
            raise SystemExit(f"cannot read {path} ({exc}); see model/labels/README.md") from None
    negatives = {r.id for r in tune if not r.safety}
    if not set(read) & negatives:  # labels of another corpus (tests/fixtures/ade-mini): none of ours
        return {}
    if set(read) != negatives:
        raise SystemExit(f"{files[0].name} and {files[1].name} together do not cover the tuned-on ADE records "
                         f"without a drug harm ({len(set(read) ^ negatives)} differ)")
    return {r.id: True for r in tune if r.safety} | {
        pmid: a == "true" for pmid, (a, b) in read.items() if a == b}


def load_own(path: Path, origin: str = "own") -> list[Record]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SystemExit(f"cannot read labels file {path}: {exc.strerror}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            title, title_harm = rec["title"]
            sentences = [title] + [s for s, _ in rec["abstract"]]
            labels = [_harm(title_harm)] + [_harm(h) for _, h in rec["abstract"]]
            names = [rec["id"], rec.get("doi") or "", rec.get("url") or "", *(rec.get("links") or ())]
            record = Record(
                id=str(rec["id"]), origin=origin, group=str(rec["group"]), sentences=tuple(sentences),
                labels=tuple(labels), safety=bool(rec["safety"]), title=title,
                abstract=" ".join(s for s, _ in rec["abstract"]), kind=str(rec["kind"]),
                keys=frozenset(record_key(str(n)) for n in names if str(n).strip()),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{number}: not a labelled record ({exc}); see model/labels/README.md "
                             "for the format") from None
        if origin != "team" and None in labels:
            raise SystemExit(f"{path}:{number}: a null sentence label is for team records only; "
                             "label every sentence 0 or 1")
        records.append(record)
    return records


_PREFIXES = ("pmid:", "pubmed:", "feed:", "nct:", "clinicaltrials:", "doi:")
_DOI_URL = re.compile(r"^(?:https?://)?(?:dx\.)?doi\.org/")


def record_key(value: str) -> str:
    """One identifier in one form, whatever way it was written: "PMID: 3393", "3393" and
    "pmid:3393" are "pmid:3393"; a DOI, bare or as a doi.org link, is "doi:10.…" lower-cased;
    "NCT01234567" is "nct:nct01234567"; anything else is lower-cased without spaces."""
    v = re.sub(r"\s+", "", value).lower()
    for prefix in _PREFIXES:
        if v.startswith(prefix):
            v = v[len(prefix):]
            break
    v = _DOI_URL.sub("", v)
    if v.isdigit():
        return f"pmid:{int(v)}"
    if v.startswith("10.") and "/" in v:
        return f"doi:{v}"
    if re.fullmatch(r"nct\d{8}", v):
        return f"nct:{v}"
    return v


def sentence_key(sentence: str) -> str:
    return " ".join(sentence.lower().split())


def _harm(value: object) -> int | None:
    if value is None:
        return None
    if value in (0, 1):  # True and False too
        return int(value)  # type: ignore[call-overload]
    raise ValueError(f"sentence label {value!r} is not 0, 1 or null")


def known_words(records: Iterable[Record], drop: frozenset[str]) -> frozenset[str]:
    """Words in at least MIN_RECORDS records, product names left out."""
    seen: Counter[str] = Counter()
    for r in records:
        seen.update({w for s in r.sentences for w in words(s)})
    return frozenset(w for w, n in seen.items()
                     if n >= MIN_RECORDS and w not in drop and w not in OWN_PRODUCTS)


def vocabulary(records: Iterable[Record], known: frozenset[str]) -> list[str]:
    seen: Counter[str] = Counter()
    for r in records:
        seen.update({f for s in r.sentences for f in features(s, known)})
    return sorted(f for f, n in seen.items() if n >= MIN_RECORDS)


def matrix(sentences: Sequence[str], index: dict[str, int], known: frozenset[str]) -> sparse.csr_matrix:
    """Rows of count/sqrt(max(k, SHORT)) over a sentence's k features (repeats counted), as
    `SafetyModel.score` computes them."""
    rows, cols, vals = [], [], []
    for row, sentence in enumerate(sentences):
        feats = features(sentence, known)
        if not feats:
            continue
        value = 1.0 / np.sqrt(max(len(feats), SHORT))
        for f in feats:
            i = index.get(f)
            if i is not None:
                rows.append(row)
                cols.append(i)
                vals.append(value)
    # Repeated (row, column) pairs add up: a feature met twice counts twice.
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(sentences), len(index)))


def record_matrix(records: Sequence[Record], index: dict[str, int],
                  known: frozenset[str]) -> sparse.csr_matrix:
    """Rows of each record's feature counts over all its sentences, scaled to unit length, as
    `SafetyModel.record_score` computes them."""
    rows, cols, vals = [], [], []
    for row, r in enumerate(records):
        counts: Counter[int] = Counter()
        for sentence in r.sentences:
            counts.update(i for i in map(index.get, features(sentence, known)) if i is not None)
        norm = np.sqrt(sum(c * c for c in counts.values())) or 1.0
        for i, c in sorted(counts.items()):
            rows.append(row)
            cols.append(i)
            vals.append(c / norm)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(records), len(index)))


def fit(records: Sequence[Record], drop: frozenset[str], c: float = C,
        own_weight: float | None = None) -> SafetyModel:
    """A model trained on `records` (thresholds left at 0.5 until `choose_thresholds`): the
    sentence model on every labelled sentence, the record model on every record's label."""
    known = known_words(records, drop)
    vocab = vocabulary(records, known)
    index = {f: i for i, f in enumerate(vocab)}
    sentences = [s for r in records for s, _ in r.examples]
    y = np.array([lab for r in records for _, lab in r.examples])
    own = OWN_WEIGHT if own_weight is None else own_weight
    # Team records weigh as our own: few, and about what the corpus lacks (the team's topic).
    weight = np.array([own if r.origin != "ade" else 1.0 for r in records for _ in r.examples])
    clf = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=1000,
                             random_state=0)
    clf.fit(matrix(sentences, index, known), y, sample_weight=weight)
    whole = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=1000,
                               random_state=0)
    whole.fit(record_matrix(records, index, known), np.array([r.safety for r in records]),
              sample_weight=np.array([own if r.origin != "ade" else 1.0 for r in records]))
    return SafetyModel(vocab, known, clf.coef_[0].astype(np.float32), float(clf.intercept_[0]),
                       Thresholds(0.5, 0.5), {}, whole.coef_[0].astype(np.float32),
                       float(whole.intercept_[0]))


def folds(records: Sequence[Record], k: int = FOLDS) -> list[int]:
    """Fold of each record, by a hash of its id: grouped by record, the same on every run."""
    return [int(hashlib.sha256(f"fold:{r.id}".encode()).hexdigest(), 16) % k for r in records]


def out_of_fold(records: Sequence[Record], drop: frozenset[str], c: float = C,
                k: int = FOLDS, own_weight: float | None = None) -> list[Classification]:
    """Each record's classification (its safety score and kind) by a model trained on the
    other folds."""
    assigned = folds(records, k)
    labels = [Classification()] * len(records)  # every record is in one fold: each is replaced
    for fold in range(k):
        model = fit([r for r, f in zip(records, assigned, strict=True) if f != fold], drop, c,
                    own_weight)
        classifier = Classifier(model=model)
        for i, (r, f) in enumerate(zip(records, assigned, strict=True)):
            if f == fold:
                labels[i] = classifier.classify(r.item)
    return labels


def threshold_for(scores: Sequence[float], truth: Sequence[bool], recall: float) -> float:
    """The highest threshold whose recall on `truth` is at least `recall`."""
    positives = sorted((s for s, t in zip(scores, truth, strict=True) if t), reverse=True)
    if not positives:
        return 0.5
    need = int(np.ceil(recall * len(positives)))
    return float(positives[need - 1])


def choose_case_thresholds(records: Sequence[Record], doc: Sequence[float], kinds: Sequence[str],
                           ours: Mapping[str, bool]) -> tuple[float | None, float | None]:
    """Thresholds for records read as case reports: the highest keeping recall >= RECALL (and
    REVIEW_RECALL) on the ADE records read as case reports, by our labels (`our_labels`): the
    corpus's harm records and the other records both our labellers read as harm. None without
    our labels."""
    case = [(doc[i], ours[r.id]) for i, r in enumerate(records)
            if r.origin == "ade" and kinds[i] == "case_report" and r.id in ours]
    if not any(truth for _, truth in case):
        return None, None
    scores, truth = [s for s, _ in case], [t for _, t in case]
    safety = threshold_for(scores, truth, RECALL)
    return round(safety, 3), round(min(threshold_for(scores, truth, REVIEW_RECALL), safety), 3)


def choose_thresholds(records: Sequence[Record], doc: Sequence[float]) -> Thresholds:
    """From out-of-fold record scores of every training record. The safety threshold keeps
    recall >= RECALL on each set apart, the ADE records and ours: pooled, the corpus's 846 drug
    harms in case reports would outvote the study-language and non-drug harms of ours, which
    are what a review team's feeds mostly carry."""
    truth = [r.safety for r in records]
    sets = [[i for i, r in enumerate(records) if (r.origin == "ade") == ade] for ade in (True, False)]
    safety = min((threshold_for([doc[i] for i in s], [truth[i] for i in s], RECALL)
                  for s in sets if any(truth[i] for i in s)), default=0.5)
    review = min(threshold_for(doc, truth, REVIEW_RECALL), safety)
    # The classifier decides on the score rounded to 3 decimals (what alerts show), so the
    # threshold is that rounded score itself.
    return Thresholds(safety=round(safety, 3), review=round(review, 3))


def team_files(labels: Path = LABELS, extra: Sequence[Path] = ()) -> list[Path]:
    """model/labels/team-*.jsonl in name order, then each `--feedback FILE` (once each)."""
    files = sorted(labels.glob(TEAM_GLOB)) + [Path(p) for p in extra]
    seen, out = set(), []
    for path in files:
        key = path.resolve()
        if key.name in HOLDOUT_FILES or key.name in OWN_FILES:
            raise SystemExit(f"{path} is not a team labels file (`litwatch labels export` writes those); "
                             "the held-out and training files are never passed as feedback")
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


@dataclass(frozen=True)
class TeamLabels:
    """The team records to train on, and how many were left out and why."""

    records: list[Record]
    files: list[Path]
    replaced: int = 0  # a later file held the same record: its label counts
    in_corpus: int = 0  # the ADE corpus holds the record, by id or by a sentence of its text
    in_eval: int = 0  # bench/eval holds it: the evaluation set is never trained on

    def summary(self) -> str:
        confirmed = sum(r.safety for r in self.records)
        judged = sum(len(r.examples) for r in self.records)
        left = [f"{n} {why}" for n, why in ((self.replaced, "replaced by a later file"),
                                            (self.in_corpus, "in the ADE corpus"),
                                            (self.in_eval, "in the evaluation set bench/eval"))
                if n]  # fmt: skip
        return (f"team labels: {len(self.records)} record(s) from {len(self.files)} file(s) "
                f"({confirmed} confirmed, {len(self.records) - confirmed} not a safety signal; "
                f"{judged} sentence(s) judged)" + (f"; left out: {', '.join(left)}" if left else ""))


def load_team(files: Sequence[Path], ade_ids: Iterable[str], eval_ids: Iterable[str],
              ade_sentences: Iterable[str] = ()) -> TeamLabels:
    """Team records by uid (a later file's label replaces an earlier one's), minus those the
    ADE corpus or the evaluation set hold: matched on every identifier a record carries (its
    uid, DOI, URL and linked records), normalised, and, for the corpus, on its sentences (a
    record of the corpus's held-out fifth must stay unseen, whatever id it came in under)."""
    by_id: dict[str, Record] = {}
    replaced = 0
    for path in files:
        for record in load_own(path, origin="team"):
            if record.id.startswith("lw-"):
                raise SystemExit(f"{path}: {record.id} is one of the project's own records, not a team "
                                 "label; team files come from `litwatch labels export`")
            replaced += record.id in by_id
            by_id.pop(record.id, None)
            by_id[record.id] = record
    corpus = {record_key(i) for i in ade_ids}
    evaluated = {record_key(i) for i in eval_ids}
    texts = {sentence_key(t) for t in ade_sentences if len(t) > 40}  # not "Case report."

    kept: list[Record] = []
    in_corpus = in_eval = 0
    for r in by_id.values():
        if r.keys & corpus or any(sentence_key(t) in texts for t in r.sentences if len(t) > 40):
            in_corpus += 1
        elif r.keys & evaluated:
            in_eval += 1
        else:
            kept.append(r)
    return TeamLabels(kept, list(files), replaced, in_corpus, in_eval)


def team_for(ade: Sequence[Record], labels: Path = LABELS, extra: Sequence[Path] = ()) -> TeamLabels:
    """The team records `make model` trains on beside `ade` (what train.py and the bench load)."""
    return load_team(team_files(labels, extra), (r.id for r in ade), eval_ids(),
                     (t for r in ade for t in r.sentences))


def eval_ids(folder: Path = EVAL) -> set[str]:
    """The record ids of the evaluation set (its `id` column only: its labels are not read)."""
    ids = set()
    for path in sorted(folder.glob("labels-*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if "id" not in (reader.fieldnames or ()):
                raise SystemExit(f"{path} has no `id` column: see bench/eval/GUIDE.md for its format")
            ids.update(row["id"].strip() for row in reader if row.get("id"))
    return ids


def own_training(labels: Path = LABELS) -> list[Record]:
    """Every record of our own training files, in file order."""
    return [r for name in OWN_FILES for r in load_own(labels / name)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding ade-corpus-v2/")
    parser.add_argument("--out", type=Path, default=ROOT / "bot" / "data")
    parser.add_argument("--labels", type=Path, default=LABELS, help="folder of our own and team-*.jsonl labels")
    parser.add_argument("--feedback", type=Path, action="append", default=[], metavar="FILE",
                        help="a team labels file (`litwatch labels export`) beside model/labels/team-*.jsonl")
    args = parser.parse_args(argv)
    ade, drop = load_ade(args.data)
    team = team_for(ade, args.labels, args.feedback)
    print(team.summary())
    records = ade + own_training(args.labels) + team.records
    tune = [r for r in records if not r.holdout]  # the held-out ADE records choose nothing
    labels = out_of_fold(tune, drop)
    doc, kinds = [c.safety_score for c in labels], [c.kind for c in labels]
    ours = our_labels([r for r in tune if r.origin == "ade"], args.labels)
    case_safety, case_review = choose_case_thresholds(tune, doc, kinds, ours)
    if case_safety is None:
        print(f"no labels of this corpus's records in {args.labels} (ade-audit.csv, ade-negatives.csv): "
              "case reports share the other thresholds")
    thresholds = dataclasses.replace(choose_thresholds(tune, doc), case_safety=case_safety,
                                     case_review=case_review)
    model = fit(records, drop)
    counts = Counter(r.origin for r in records)
    info = {
        "trained_on": {
            "ade_corpus_records": counts["ade"], "own_records": counts["own"],
            "sentences": sum(len(r.examples) for r in records),
            "own_labels": [f"model/labels/{name}" for name in OWN_FILES],
            **({"team_records": counts["team"],
                "team_labels": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in team.files}}
               if team.records else {}),
        },
        "features": len(model.index), "product_words_dropped": len(drop),
        "c": C, "min_records": MIN_RECORDS, "short": SHORT,
        "thresholds": thresholds.to_dict(),
        "threshold_rule": f"out-of-fold ({FOLDS} folds grouped by record) recall >= {RECALL} on the "
                          "ADE training records and on ours (our labelled files"
                          + (" with the team's" if team.records else "")
                          + f") each (review: >= {REVIEW_RECALL} on all pooled)"
                          + (f"; case reports: recall >= {RECALL} (review {REVIEW_RECALL}) on the ADE training "
                             "records read as case reports, by our labels (model/labels/ade-negatives.csv, "
                             "ade-audit.csv)" if case_safety is not None else ""),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    npz, meta = args.out / f"{MODEL_NAME}.npz", args.out / f"{MODEL_NAME}.json"
    save(npz, meta, model, info)
    print(f"wrote {npz} ({npz.stat().st_size:,} bytes, {len(model.index):,} features) and {meta.name}: "
          f"safety threshold {thresholds.safety}, review threshold {thresholds.review}"
          + (f"; case reports {case_safety} and {case_review}" if case_safety is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
