"""The learned harm model: its features, its file, and sentence and record scores in [0, 1].

A sentence scores high when it reports harm that happened to people from an intervention,
product, procedure or exposure. The model is two logistic regressions over the same words and
word pairs, trained by `model/train.py` (`make model`): one scores each sentence, the other the
record's sentences taken together (what a whole abstract says: a cohort counting a disease's
outcomes reads differently from one counting a procedure's complications). They ship as two
files in `bot/data/`: `safety_model.npz` (vocabulary and weights, loaded without pickle) and
`safety_model.json` (format version, SHA-256 of the .npz, thresholds chosen out of fold, what
it was trained on).
A missing, corrupt or mismatched file raises `ModelError` naming it: the bot never runs
with "no safety" by accident.

Features are the same in training and here (this module is the only definition):
- lower-cased words; numbers become `<num>`, percentages `<pct>`;
- words inside a negation's scope ("no serious adverse events", "were not observed") are
  prefixed with `!` ("adverse" and "!adverse" are different features); words inside a
  hedge's scope ("may cause granulomas") give no feature at all: what may happen is no
  report of what did (a count ends either scope);
- pairs of neighbouring words, unless either is negated;
- a word the model does not know becomes `<rare>`. The training script keeps every word of
  the annotated drug names out of the known words, so a drug name, an exosome brand or a new
  device all read as `<rare>`: the model learns "<rare>-induced hepatitis", not the drug.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import operator
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from bot.errors import LitwatchError

FORMAT = "litwatch-safety-model"
VERSION = 3  # 2: a record model beside the sentence model; 3: short sentences scaled as SHORT
MODEL_NAME = "safety_model"

# Words first: they are most tokens, and the scanner tries the alternatives in order; a word
# never gives letters back (possessive `*+`: nothing after it could use them). The look-ahead
# on the characters a token can start with lets the scanner skip spaces and marks in C.
_TOKEN = re.compile(
    r"(?=[a-z\d,;:()])(?:[a-z][a-z0-9]*+(?:'[a-z]+)?|\d+(?:[.,]\d+)?\s?%|\d+(?:[.,]\d+)*|[,;:()])")
_DIGIT = re.compile(r"\d")
_NEGATION = frozenset({
    "no", "not", "without", "none", "never", "neither", "nor", "nobody", "absence", "absent",
    "free", "lack", "lacked", "denied", "nil", "zero", *(_CONTRACTED := (
        "didn't", "wasn't", "weren't", "isn't", "aren't", "hasn't", "haven't", "hadn't", "doesn't",
        "don't", "couldn't", "cannot", "can't", "won't", "wouldn't", "shouldn't")),
})  # fmt: skip
# Words and marks that end a negation's reach: "no fever, but two patients developed rash".
_SCOPE_END = frozenset({
    ",", ";", ":", "(", ")", "but", "however", "although", "though", "whereas", "while",
    "except", "apart", "yet", "despite", "which", "who",
})  # fmt: skip
# Hedges: what may, could or might happen is not what did ("may cause granulomas").
_HEDGE = frozenset({"may", "might", "could", "potential", "potentially", "possible", "possibly",
                    "theoretical", "theoretically", "whether", "if", "should", "would", "will"})
_CUES = _NEGATION | _HEDGE
_COUNTS = frozenset({"<num>", "<pct>"})
# A sentence naming harm only under a negation scores this share of the model's probability:
# the features read negation word by word; this reads it for the sentence.
NEGATED_WEIGHT = 0.5
# A sentence of fewer features is scaled as if it had this many (the rest weighing nothing): a
# title of three words ("Letter on PRP") would otherwise be scored on one function word at full
# weight. Training scales its rows the same way.
SHORT = 12
_HARM_CLASSES = frozenset({"<harm>", "<disorder>"})
# Only a negation that reaches forward denies the harm it names ("no", "none of", "without");
# "not" reaches back over its clause and also says "was not reversible", "has not been
# reported before", "are not unusual", which deny nothing that happened.
_DENYING_WORDS = frozenset({"no", "none", "without", "neither", "nor", "never", "absence", "absent",
                            "free", "lack", "lacked", "denied", "nil", "zero"})
# "… were not reported", "… did not occur": a past observation denied. Not "has not been
# reported before" (a case report's first of its kind) nor "was not reversible".
_NOT_SEEN_BEFORE = frozenset({"was", "were", "did"})
_SEEN = frozenset({"reported", "observed", "seen", "noted", "found", "recorded", "detected",
                   "documented", "identified", "encountered", "occur", "develop", "experience"})
# Words that carry a negated list past its comma: "no fever, rash or adverse events".
_LIST_GOES_ON = frozenset({"or", "nor"})


def _denies(toks: Sequence[str]) -> bool:
    """Whether a run of `tokens` holds a word of `_DENYING_WORDS` (marked or not), or says that
    something was not seen ("adverse events were not reported", "did not occur")."""
    plain = [t.lstrip("!?") for t in toks]
    if not _DENYING_WORDS.isdisjoint(plain):
        return True
    return any(plain[i + 1] in ("not", "never") and plain[i + 2] in _SEEN
               for i, w in enumerate(plain[:-2]) if w in _NOT_SEEN_BEFORE)


_DENIED = frozenset({"!<harm>", "!<disorder>"})
_COUNTED = frozenset({"of", "the", "all", "any"})  # "none of the 20 patients": still negated
_AUXILIARY = frozenset({"was", "were", "is", "are", "been", "be", "has", "have", "had", "did",
                        "does", "do", "could", "can"})
_SCOPE = 12  # words a negation or hedge reaches forward
_WORD_CACHE = 200_000  # tokens whose weights a model keeps at hand
# A token as the model reads it: (word or "<rare>", harm class, mark ("", "!", "?", or "|"
# for a clause mark), the vocabulary indices of the features it yields on its own, -1 for a
# feature outside the vocabulary).
_Word = tuple[str, str, str, tuple[int, ...]]
# What a token adds after the one before it: feature indices, harm flags, what pairs next,
# the summed weight of those features.
_Entry = tuple[tuple[int, ...], int, str | None, float]
_PLAIN_HARM, _NEGATED_HARM = 1, 2


class ModelError(LitwatchError):
    """The shipped safety model cannot be used (missing, corrupt, wrong version)."""


def tokens(sentence: str) -> list[str]:
    """The sentence's words and clause marks, numbers folded, negated words marked with `!`."""
    low = sentence.lower()
    words = _TOKEN.findall(low)
    if _DIGIT.search(low):  # digits and clause marks sort before letters: only they need a look
        words = [w if w >= "a" else _fold(w) for w in words]
    if _CUES.isdisjoint(words):
        return words
    marks = [""] * len(words)
    for i, w in enumerate(words):
        if w not in _CUES:
            continue
        mark = "!" if w in _NEGATION else "?"
        if mark == "?":
            marks[i] = "?"  # the hedge itself too: "<drug> may" is no evidence either
        for j in range(i + 1, min(len(words), i + 1 + _SCOPE)):
            if words[j] == "," and mark == "!" and _LIST_GOES_ON.intersection(words[j + 1:j + 4]):
                continue  # "no allergic reactions, infections or other adverse events": a list
            if words[j] in _SCOPE_END or (words[j] in _COUNTS and words[j - 1] not in _COUNTED):
                break  # a count opens a new statement: "did not improve and 3 patients had …"
            marks[j] = marks[j] or mark
        # "adverse events were not observed", "… were seen in none of …": the negation reaches
        # back over its clause.
        if w in _CONTRACTED or (w in ("not", "never") and i and words[i - 1] in _AUXILIARY) or \
                (w == "none" and i > 1 and words[i - 1] == "in"):
            for j in range(i - 1, max(-1, i - 1 - _SCOPE), -1):
                if words[j] in _SCOPE_END:
                    break
                marks[j] = "!"
    return [m + w for w, m in zip(words, marks, strict=True)]


def _fold(word: str) -> str:
    if not word[0].isdigit():
        return word
    return "<pct>" if word.endswith("%") else "<num>"


def features(sentence: str, known: frozenset[str] | None = None) -> list[str]:
    """The features of one sentence, repeats kept. A word outside `known` (the model's words)
    becomes `<rare>`: product names, rare diseases and new products all look alike. A harm
    word also yields its class, `<harm>` or `<disorder>`, so a harm the training data never
    named ("tram-track scarring") still reads as one. Word pairs join neighbours that are
    neither negated nor split by a clause mark.

    `<rare>` alone is no feature: with product names among the rare words it would stand for
    "a drug was named" (and fire on any text full of technical terms); beside a known word it
    says how the product relates ("<rare> induced", "after <rare>")."""
    out: list[str] = []
    append = out.append
    prev: str | None = None
    prev_class = ""
    for t in tokens(sentence):
        if t in _SCOPE_END:
            prev = None
            continue
        mark = t[0] if t[0] in "!?" else ""
        w = t[1:] if mark else t
        c = _harm_class(w)
        if known is not None and w not in known:
            w = "<rare>"
        if mark == "?":  # a hedged word says nothing of what happened: no feature at all
            prev = None
            continue
        if w != "<rare>":
            append(mark + w)
        if c:
            append(mark + c)
        if mark:
            prev = None
            continue
        if prev is not None and not (prev == w == "<rare>"):
            if not _named_only(prev, w):
                append(f"{prev} {w}")
            if prev_class:
                append(f"{prev_class} {w}")
            if c:
                append(f"{prev} {c}")
        prev, prev_class = w, c
    return out


# Function words that beside an unknown word only say that something was named ("<rare> for",
# "with <rare>", "of <rare>"): with product names among the unknown words such a pair stands
# for "a drug was named", as `<rare>` alone would, so it is no feature. Words that relate a
# product to what followed ("after <rare>", "<rare> induced", "following") stay.
_BARE = frozenset({
    "for", "of", "and", "with", "in", "the", "to", "a", "an", "on", "or", "as", "by", "at",
    "from", "is", "was", "were", "are", "be", "been", "this", "that", "these", "its", "their",
    "his", "her",
})  # fmt: skip


def _named_only(prev: str, w: str) -> bool:
    """A pair of an unknown word and a bare function word."""
    if prev == "<rare>":
        return w in _BARE
    return w == "<rare>" and prev in _BARE


# Harm in general medicine, not any topic's: complications, injuries, reactions. Words the
# ADE corpus names as drug effects teach the model what follows or precedes a harm; the class
# carries that to harms it never saw.
_HARM_WORDS = frozenset({
    "abscess", "abscesses", "anaphylaxis", "anaphylactic", "bleeding", "blindness", "blister",
    "blistering", "blisters", "burn", "burns", "complication", "complications", "death", "deaths",
    "died", "embolism", "embolisation", "embolization", "eruption", "extrusion", "fatal",
    "fracture", "granuloma", "granulomas", "haemorrhage", "hemorrhage", "infection",
    "infections", "injury", "injuries", "ischaemia", "ischemia", "necrosis", "necrotic",
    "nodule", "nodules", "occlusion", "oedema", "edema", "palsy", "perforation", "rash",
    "reaction", "reactions", "scar", "scarring", "scars", "seizure", "seizures", "sepsis",
    "septic", "swelling", "thrombosis", "toxicity", "ulcer", "ulceration", "urticaria",
    "adverse", "harm", "harms", "hypersensitivity", "poisoning", "overdose", "contamination",
    "contaminated", "recall", "recalled", "warning",
})  # fmt: skip
_DISORDER_SUFFIXES = ("itis", "osis", "emia", "aemia", "pathy", "toxicity", "algia", "penia",
                      "plegia", "rrhage", "oma", "trophy", "ectasia")


@lru_cache(maxsize=1 << 16)
def _harm_class(word: str) -> str:
    if word in _HARM_WORDS:
        return "<harm>"
    if len(word) > 6 and word.endswith(_DISORDER_SUFFIXES):
        return "<disorder>"
    return ""


def words(sentence: str) -> list[str]:
    """The plain words of a sentence (negation marks removed, clause marks left out)."""
    return [t.lstrip("!?") for t in tokens(sentence) if t not in _SCOPE_END]


@dataclass(frozen=True)
class Thresholds:
    """Record scores at or above `safety` are safety signals; from `review` up, possible ones.
    A record read as a case report has thresholds of its own (`case_safety`, `case_review`;
    None: the same as the others'): a case report's harm is its subject, and the corpus it is
    measured on holds harms at lower scores than our study-language records."""

    safety: float
    review: float
    case_safety: float | None = None
    case_review: float | None = None

    def for_case_reports(self) -> tuple[float, float]:
        """(safety, review) for a record read as a case report."""
        safety = self.safety if self.case_safety is None else self.case_safety
        review = self.review if self.case_review is None else self.case_review
        return safety, min(review, safety)

    def to_dict(self) -> dict[str, float]:
        extra = {"case_safety": self.case_safety, "case_review": self.case_review}
        return {"safety": self.safety, "review": self.review,
                **{k: v for k, v in extra.items() if v is not None}}


class SafetyModel:
    """Vocabulary, weights and thresholds of one model file; scores sentences and records."""

    def __init__(self, vocabulary: Sequence[str], known: Iterable[str], weights: np.ndarray,
                 bias: float, thresholds: Thresholds, meta: dict[str, object],
                 doc_weights: np.ndarray | None = None, doc_bias: float = 0.0):
        self.index = {f: i for i, f in enumerate(vocabulary)}
        self.known = frozenset(known)
        self.weights = weights.astype(np.float64)
        # Plain floats, indexed by feature: summing a few dozen is faster than numpy. The 0.0
        # appended last is what index -1 (a feature outside the vocabulary) reads.
        self._w = [*self.weights.tolist(), 0.0]
        self.bias = float(bias)
        self.doc_weights = None if doc_weights is None else doc_weights.astype(np.float64)
        self._dw = None if self.doc_weights is None else [*self.doc_weights.tolist(), 0.0]
        self.doc_bias = float(doc_bias)
        self.thresholds = thresholds
        self.meta = meta
        self._words: dict[str, _Word] = {}
        self._entries: dict[tuple[str | None, str], _Entry] = {}  # by the two tokens

    def score(self, sentence: str) -> float:
        """Probability that the sentence reports harm that happened, in [0, 1]; a sentence
        whose every harm word is negated ("none of the women developed anaphylaxis") at
        NEGATED_WEIGHT of it."""
        toks = tokens(sentence)
        ids, flags, total = self._ids(toks)
        return self._probability(total, len(ids), flags, toks)

    def _probability(self, total: float, n: int, flags: int, toks: Sequence[str]) -> float:
        """The sentence model's probability for the run of tokens `toks`, whose `n` features
        have harm `flags` and weights summing to `total` (as `_ids` gives them): at
        NEGATED_WEIGHT of it where every harm word is negated by a denial."""
        if not n:
            return _sigmoid(self.bias)
        p = _sigmoid(self.bias + total / math.sqrt(max(n, SHORT)))
        return p * NEGATED_WEIGHT if flags == _NEGATED_HARM and _denies(toks) else p

    def reference_score(self, sentence: str) -> float:
        """`score` computed the plain way, from `features` (what training sees): the fast
        path must equal it."""
        feats = features(sentence, self.known)
        if not feats:
            return _sigmoid(self.bias)
        total = sum(self._w[self.index[f]] if f in self.index else 0.0 for f in feats)
        p = _sigmoid(self.bias + total / math.sqrt(max(len(feats), SHORT)))
        denied = any(f in _DENIED for f in feats) and not any(f in _HARM_CLASSES for f in feats)
        return p * NEGATED_WEIGHT if denied and _denies(tokens(sentence)) else p

    def record_score(self, ids: Iterable[int]) -> float | None:
        """The record model's probability for the features of a record's sentences together
        (as `feature_ids` gives them): counts over the vocabulary, scaled to unit length.
        None for a model without a record part, or a record with no known feature."""
        if self._dw is None:
            return None
        counts = Counter(ids)
        counts.pop(-1, None)
        if not counts:
            return None
        total = sum(map(operator.mul, map(self._dw.__getitem__, counts), counts.values()))
        return _sigmoid(self.doc_bias + total / math.hypot(*counts.values()))

    def feature_ids(self, sentence: str) -> list[int]:
        """The vocabulary index of each of `features(sentence, self.known)`, in the same order
        (-1 for a feature outside the vocabulary), without building the word features: what a
        token, and a pair of neighbouring tokens, contributes is looked up once per model."""
        return self._ids(tokens(sentence))[0]

    def _ids(self, toks: Sequence[str]) -> tuple[list[int], int, float]:
        """The feature indices of a run of tokens, its harm flags (`_PLAIN_HARM`,
        `_NEGATED_HARM`, or-ed) and the sum of the features' weights."""
        out: list[int] = []
        extend = out.extend
        entries = self._entries
        flags = 0
        total = 0.0
        prev: str | None = None
        for t in toks:
            entry = entries.get((prev, t))
            if entry is None:
                entry = self._entry(prev, t)
            extend(entry[0])
            flags |= entry[1]
            total += entry[3]
            prev = entry[2]
        return out, flags, total

    def _entry(self, prev: str | None, t: str) -> _Entry:
        """What token `t` adds after token `prev` (None: after nothing it pairs with): the
        indices of its own features and of the pair's, whether it names harm plainly or
        negated, and what the next token pairs with."""
        if len(self._entries) >= _WORD_CACHE:  # bounded: new words keep arriving
            self._entries.clear()
        w, c, mark, own = self._info(t)
        if mark:  # negated (its own features only), hedged or a clause mark: no pair
            ids, entry_flags, after = own, _NEGATED_HARM if c and mark == "!" else 0, None
        else:
            pair = () if prev is None else self._pair(*self._info(prev)[:2], w, c)
            ids, entry_flags, after = own + pair, _PLAIN_HARM if c else 0, t
        entry: _Entry = (ids, entry_flags, after, math.fsum(map(self._w.__getitem__, ids)))
        self._entries[(prev, t)] = entry
        return entry

    def _id(self, feature: str) -> int:
        return self.index.get(feature, -1)

    def _pair(self, prev: str, prev_class: str, w: str, c: str) -> tuple[int, ...]:
        """The indices of the pair features of two neighbouring words, as `features` builds
        them; a class comes from the word itself ("<rare>" words differ by it)."""
        if prev == w == "<rare>":
            return ()
        find = self._id
        return ((find(f"{prev} {w}"),) if not _named_only(prev, w) else ()) + \
            ((find(f"{prev_class} {w}"),) if prev_class else ()) + \
            ((find(f"{prev} {c}"),) if c else ())

    def _info(self, token: str) -> _Word:
        """What one token of `tokens` is to this model, as `features` reads it."""
        info = self._words.get(token)
        if info is not None:
            return info
        if len(self._words) >= _WORD_CACHE:
            self._words.clear()
        if token in _SCOPE_END:
            info = "", "", "|", ()
        else:
            mark = token[0] if token[0] in "!?" else ""
            w = token[1:] if mark else token
            c = _harm_class(w)
            if w not in self.known:
                w = "<rare>"
            alone = ([mark + w] if w != "<rare>" else []) + ([mark + c] if c else [])
            info = w, c, mark, tuple(self._id(f) for f in alone) if mark != "?" else ()
        self._words[token] = info
        return info

    def without(self, terms: Iterable[str]) -> SafetyModel:
        """This model reading the words of `terms` as unknown: a topic's watched condition ("hair loss" in a
        hair-loss review) is what is treated, not a harm the treatment caused."""
        unknown = frozenset(w for term in terms for w in words(term))
        if not unknown & self.known:
            return self
        other = copy.copy(self)
        other.known = self.known - unknown
        other._words, other._entries = {}, {}
        return other

    def scores(self, sentences: Iterable[str]) -> list[float]:
        return [self.score(s) for s in sentences]

    def sentence_score(self, sentence: str) -> float:
        """The sentence's score, or its strongest contrasted clause's: "Although well
        tolerated, three patients had folliculitis" is scored on its second half too."""
        return self.scored(sentence)[0]

    def scored(self, sentence: str) -> tuple[float, list[int]]:
        """`sentence_score` and the sentence's `feature_ids` (for `record_score`). A clause
        mark ends every pair and every negation's reach, so the features of a clause are those
        of its run of the sentence's tokens: each clause is scored from them, not read again."""
        toks = tokens(sentence)
        cuts = _cuts(toks)
        if not cuts:
            ids, flags, total = self._ids(toks)
            return self._probability(total, len(ids), flags, toks), ids
        ids, flags, total, parts = [], 0, 0.0, []
        for start, end in zip((0, *(c + 1 for c in cuts)), (*cuts, len(toks)), strict=True):
            run = toks[start:end]
            run_ids, run_flags, run_total = self._ids(run)
            ids += run_ids
            flags |= run_flags
            total += run_total
            if any(t not in _SCOPE_END for t in run):
                parts.append(self._probability(run_total, len(run_ids), run_flags, run))
        best = self._probability(total, len(ids), flags, toks)
        return (max(best, *parts) if len(parts) > 1 else best), ids


# Where a sentence turns, and each side is scored on its own too: "…; …", "…, but …",
# "Although …, …". Every such word ends a negation's reach (`_SCOPE_END`).
_CONTRASTING = frozenset({"but", "however", "yet", "whereas", "while", "although", "though", "except"})
_CONCEDING = frozenset({"although", "though", "while", "whereas", "despite"})


def _cuts(toks: list[str]) -> list[int]:
    """The indices of the tokens (";" or ",") where a sentence of `tokens` is cut into clauses."""
    cuts = [i for i, t in enumerate(toks) if t == ";"] if ";" in toks else []
    commas = toks.count(",")
    if commas:
        last, i = len(toks) - 1, -1
        for _ in range(commas):  # list.index: the search runs in C
            i = toks.index(",", i + 1)
            if i < last and toks[i + 1] in _CONTRASTING:
                cuts.append(i)
        opener = 1 if toks[0] in _CONCEDING else 2 if toks[:2] == ["even", "though"] else 0
        first = toks.index(",")
        if opener and first > opener:  # "Although well tolerated, …"
            cuts.append(first)
    return sorted(set(cuts)) if len(cuts) > 1 else cuts


def _sigmoid(z: float) -> float:
    if z < -40:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


def default_paths() -> tuple[Path, Path]:
    """The model files shipped in the package: (weights .npz, metadata .json)."""
    folder = Path(str(resources.files("bot") / "data"))
    return folder / f"{MODEL_NAME}.npz", folder / f"{MODEL_NAME}.json"


def load(npz: Path | None = None, meta: Path | None = None) -> SafetyModel:
    """Read and check a model; `ModelError` (one line, naming the file) if it cannot be used."""
    default_npz, default_meta = default_paths()
    npz, meta = npz or default_npz, meta or default_meta
    hint = "reinstall litwatch or run `make model`"
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"safety model metadata {meta} is missing: {hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"safety model metadata {meta} is unreadable ({exc}): {hint}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ModelError(f"{meta} is not a litwatch safety model description: {hint}")
    if info.get("version") != VERSION:
        raise ModelError(f"safety model {meta} has version {info.get('version')!r}, this litwatch "
                         f"reads version {VERSION}: {hint}")
    try:
        blob = npz.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"safety model file {npz} is missing: {hint}") from None
    except OSError as exc:
        raise ModelError(f"safety model file {npz} is unreadable ({exc.strerror}): {hint}") from None
    digest = hashlib.sha256(blob).hexdigest()
    if digest != info.get("sha256"):
        raise ModelError(f"safety model file {npz} does not match its checksum in {meta.name} "
                         f"(corrupt or from another build): {hint}")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            vocabulary = bytes(arrays["vocabulary"]).decode("utf-8").split("\n")
            known = bytes(arrays["words"]).decode("utf-8").split("\n")
            weights = np.asarray(arrays["weights"], dtype=np.float32)
            bias = float(arrays["bias"][0])
            doc_weights = np.asarray(arrays["doc_weights"], dtype=np.float32)
            doc_bias = float(arrays["doc_bias"][0])
    except (ValueError, KeyError, OSError, UnicodeDecodeError, IndexError) as exc:
        raise ModelError(f"safety model file {npz} cannot be read ({exc}): {hint}") from None
    if not len(vocabulary) == len(weights) == len(doc_weights):
        raise ModelError(f"safety model file {npz} has {len(vocabulary)} features but "
                         f"{len(weights)} sentence and {len(doc_weights)} record weights: {hint}")
    raw = info.get("thresholds") or {}
    try:
        thresholds = Thresholds(safety=float(raw["safety"]), review=float(raw["review"]),
                                **{k: float(raw[k]) for k in ("case_safety", "case_review") if k in raw})
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"safety model metadata {meta} has no valid thresholds: {hint}") from None
    if not all(0.0 <= v <= 1.0 for v in thresholds.to_dict().values()):
        raise ModelError(f"safety model metadata {meta} has a threshold outside 0..1: {hint}")
    return SafetyModel(vocabulary, known, weights, bias, thresholds, info, doc_weights, doc_bias)


@lru_cache(maxsize=1)
def shipped() -> SafetyModel:
    """The packaged model, read once per process."""
    return load()


def save(npz: Path, meta: Path, model: SafetyModel, info: dict[str, object]) -> None:
    """Write a model the way `load` reads it (used by `model/train.py`); deterministic bytes."""
    if model.doc_weights is None:
        raise ValueError("a model file needs the record model's weights (doc_weights)")
    vocabulary = sorted(model.index, key=model.index.__getitem__)
    arrays: dict[str, np.ndarray] = {
        "vocabulary": np.frombuffer("\n".join(vocabulary).encode("utf-8"), dtype=np.uint8),
        "words": np.frombuffer("\n".join(sorted(model.known)).encode("utf-8"), dtype=np.uint8),
        "weights": np.asarray(model.weights, dtype=np.float32),
        "bias": np.asarray([model.bias], dtype=np.float64),
        "doc_weights": np.asarray(model.doc_weights, dtype=np.float32),
        "doc_bias": np.asarray([model.doc_bias], dtype=np.float64),
    }
    buffer = io.BytesIO()
    # Written entry by entry with a fixed timestamp (np.savez stamps the current time), so the
    # same arrays always give the same bytes and the same checksum.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w") as fh:
                np.lib.format.write_array(fh, array, allow_pickle=False)
    blob = buffer.getvalue()
    npz.write_bytes(blob)
    full = {"format": FORMAT, "version": VERSION, "sha256": hashlib.sha256(blob).hexdigest(), **info}
    meta.write_text(json.dumps(full, indent=2, sort_keys=True) + "\n", encoding="utf-8")
