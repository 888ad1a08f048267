"""The learned safety model: its file checks, its scores, and how the classifier uses them."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from bot import safety_model
from bot.classify import Classifier
from bot.config import ClassifySettings
from bot.models import Item
from bot.safety_model import ModelError, Thresholds, load


@pytest.fixture
def model_files(tmp_path: Path) -> tuple[Path, Path]:
    npz, meta = safety_model.default_paths()
    shutil.copy(npz, tmp_path / npz.name)
    shutil.copy(meta, tmp_path / meta.name)
    return tmp_path / npz.name, tmp_path / meta.name


def pubmed(title: str, abstract: str = "") -> Item:
    return Item(source="pubmed", id="1", title=title, abstract=abstract)


def test_shipped_model_loads_with_its_thresholds() -> None:
    """The packaged model passes its checksum and carries thresholds in [0, 1], review below safety."""
    model = load()
    assert 0 < model.thresholds.review <= model.thresholds.safety < 1
    assert len(model.index) > 1000


def test_missing_model_file_is_an_error_naming_it(model_files: tuple[Path, Path]) -> None:
    """A missing weights file is a ModelError naming the file, never a silent 'no safety'."""
    npz, meta = model_files
    npz.unlink()
    with pytest.raises(ModelError, match=rf"safety model file {npz} is missing"):
        load(npz, meta)


def test_missing_metadata_is_an_error_naming_it(model_files: tuple[Path, Path]) -> None:
    """A missing metadata file is a ModelError naming it."""
    npz, meta = model_files
    meta.unlink()
    with pytest.raises(ModelError, match=rf"metadata {meta} is missing"):
        load(npz, meta)


def test_corrupt_model_file_fails_its_checksum(model_files: tuple[Path, Path]) -> None:
    """A weights file changed by one byte fails the checksum check, naming the file."""
    npz, meta = model_files
    blob = bytearray(npz.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    npz.write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="does not match its checksum"):
        load(npz, meta)


def test_model_of_another_version_is_refused(model_files: tuple[Path, Path]) -> None:
    """Metadata of another format version is refused with the version named."""
    npz, meta = model_files
    info = json.loads(meta.read_text())
    meta.write_text(json.dumps({**info, "version": 99}))
    with pytest.raises(ModelError, match="version 99"):
        load(npz, meta)


def test_error_is_one_line() -> None:
    """The error a user sees is one line."""
    with pytest.raises(ModelError) as caught:
        load(Path("/nonexistent/model.npz"), Path("/nonexistent/model.json"))
    assert "\n" not in str(caught.value)


def test_saving_is_deterministic(model_files: tuple[Path, Path], tmp_path: Path) -> None:
    """The same model saved twice gives the same bytes, and loads back with the same scores."""
    model = load(*model_files)
    out = tmp_path / "out"
    out.mkdir()
    first, second = (out / "a.npz", out / "a.json"), (out / "b.npz", out / "b.json")
    safety_model.save(*first, model, {"thresholds": {"safety": 0.5, "review": 0.2}})
    safety_model.save(*second, model, {"thresholds": {"safety": 0.5, "review": 0.2}})
    assert first[0].read_bytes() == second[0].read_bytes()
    again = load(*first)
    sentence = "Two patients developed granulomas after filler injection."
    assert again.score(sentence) == pytest.approx(model.score(sentence))


def test_product_names_do_not_change_a_score() -> None:
    """A sentence scores the same whatever product it names: names the model does not know read alike."""
    model = load()
    one = model.score("Hepatitis developed three weeks after starting zorbitamab.")
    other = model.score("Hepatitis developed three weeks after starting quelvoxin.")
    assert one == other


HARMS = [
    "Two weeks after the injections she developed painful granulomas at every site.",
    "A 40-year-old woman developed skin necrosis after filler injection into the nose.",
    "Three patients developed severe allergic reactions after the first infusion.",
]
NEGATED = [
    "No serious adverse events were observed.",
    "None of the 20 patients experienced serious adverse events.",
    "The treatment was well tolerated, with no adverse events.",
    "Adverse events were seen in none of the 30 patients.",
]
HEDGED = [
    "Exosomes may cause adverse events in some patients.",
    "Poor hygiene could lead to infection and deep needling might cause scarring.",
]


@pytest.mark.parametrize("sentence", HARMS)
def test_stated_harm_scores_above_the_safety_threshold(sentence: str) -> None:
    """A harm stated as having happened scores at or above the shipped safety threshold."""
    model = load()
    assert model.sentence_score(sentence) >= model.thresholds.safety


@pytest.mark.parametrize("sentence", NEGATED)
def test_negated_harm_scores_below_the_review_threshold(sentence: str) -> None:
    """Negated harms ('no', 'none of', 'in none of', 'well tolerated') stay below review."""
    model = load()
    assert model.sentence_score(sentence) < model.thresholds.review


@pytest.mark.parametrize("sentence", HEDGED)
def test_hedged_harm_is_no_safety_signal(sentence: str) -> None:
    """Hedged harms ('may cause', 'could lead to') stay below the safety threshold."""
    model = load()
    assert model.sentence_score(sentence) < model.thresholds.safety


@pytest.mark.parametrize(("sentence", "expected"), [
    ("Rash (12%) in 3 of 40; none had fever.",
     ["rash", "(", "<pct>", ")", "in", "<num>", "of", "<num>", ";", "none", "!had", "!fever"]),
    ("Rash in three women, then fever: resolved", ["rash", "in", "three", "women", ",", "then",
                                                   "fever", ":", "resolved"]),
    ("In \uff13 patients", ["in", "\uff13", "patients"]),  # a digit that is not ASCII: a token too
])
def test_tokens_fold_numbers_and_keep_clause_marks(sentence: str, expected: list[str]) -> None:
    assert safety_model.tokens(sentence) == expected


def test_negation_scope_stops_at_a_new_count() -> None:
    """'Did not improve and 3 patients had …': the count opens a statement the negation does not reach."""
    tokens = safety_model.tokens("Hair counts did not increase and 3 patients experienced adverse events.")
    assert "!hair" in tokens and "experienced" in tokens and "adverse" in tokens


@pytest.mark.parametrize(("sentence", "clause"), [
    ("Although it was generally well tolerated by the patients in this study, two patients had folliculitis.",
     "two patients had folliculitis."),
    ("Even though it was well tolerated, two patients had folliculitis.", "two patients had folliculitis."),
    ("Hair density improved; one patient had a rash.", "one patient had a rash."),
    ("No serious adverse events occurred, but two patients had folliculitis.", "two patients had folliculitis."),
])
def test_a_contrasted_clause_is_scored_on_its_own(sentence: str, clause: str) -> None:
    """'Although well tolerated, three patients had …' is scored on its second half too, as that
    half alone would be."""
    model = safety_model.shipped()
    assert model.score(clause) > model.score(sentence)
    assert model.sentence_score(sentence) == model.score(clause)


def test_a_comma_that_does_not_turn_the_sentence_cuts_nothing() -> None:
    """Only ';', ', but …' and an opening 'Although …,' cut: a list of harms stays one clause."""
    model = safety_model.shipped()
    sentence = "Two patients had erythema, pruritus and folliculitis."
    assert model.sentence_score(sentence) == model.score(sentence)


def test_flag_carries_a_score_and_the_quoted_sentence() -> None:
    """A safety flag carries its score in [0, 1] and quotes the strongest sentence with its score."""
    c = Classifier().classify(pubmed(
        "Nodules after cosmetic injections",
        "A 35-year-old woman received filler injections. Two weeks later she developed painful "
        "granulomas at every injection site."))
    assert c.safety and 0 <= c.safety_score <= 1
    assert c.reasons[-1].startswith(f"safety {c.safety_score:.2f} — ")
    assert any("granulomas" in e and e.endswith(")") for e in c.evidence)


def test_thresholds_from_config_move_a_record_to_possible() -> None:
    """Above the configured review threshold but below the safety threshold: a possible safety signal."""
    item = pubmed("Nodules after cosmetic injections",
                  "Two weeks later she developed painful granulomas at every injection site.")
    score = Classifier().classify(item).safety_score
    strict = Classifier(ClassifySettings(safety_threshold=min(1.0, score + 0.01), review_threshold=0.05))
    c = strict.classify(item)
    assert (c.safety, c.possible_safety) == (False, True)
    assert c.reasons[-1].startswith("possible safety signal ")


def test_nothing_to_weigh_scores_zero_and_flags_nothing() -> None:
    """A record with no text and no structured evidence has score 0 and no flag."""
    c = Classifier().classify(pubmed(""))
    assert (c.safety, c.possible_safety, c.safety_score) == (False, False, 0.0)


def test_exports_carry_score_tiers_and_evidence() -> None:
    """CSV and RIS exports carry the safety score, possible-safety and corrected flags, and the evidence."""
    from bot.export import to_csv, to_ris

    doc = {"uid": "pmid:1", "source": "pubmed", "id": "1", "title": "T", "classification": {
        "kind": "clinical", "safety": False, "possible_safety": True, "safety_score": 0.31,
        "corrected": True, "evidence": ["abstract: 'two had nodules' (0.31)"],
        "reasons": ["possible safety signal 0.31 — abstract: 'two had nodules'"]}}
    header, row = to_csv([doc]).splitlines()
    assert "safety_score" in header.split(",") and "corrected" in header.split(",")
    assert "0.31" in row and "two had nodules" in row
    ris = to_ris([doc])
    assert "litwatch:possible-safety" in ris and "litwatch:corrected" in ris


def test_classifier_without_its_model_file_refuses_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A classifier whose packaged model is gone stops with the error naming the file, never labels 'no safety'."""
    missing = (tmp_path / "safety_model.npz", tmp_path / "safety_model.json")
    monkeypatch.setattr(safety_model, "default_paths", lambda: missing)
    safety_model.shipped.cache_clear()
    try:
        with pytest.raises(ModelError, match=str(missing[1])):
            Classifier()
    finally:
        safety_model.shipped.cache_clear()


def _own_sentences() -> list[str]:
    """Every sentence of the project's own invented label files (model/labels/)."""
    folder = Path(__file__).resolve().parent.parent / "model" / "labels"
    sentences = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                sentences += [record["title"][0]] + [s for s, _ in record["abstract"]]
    return sentences


def test_fast_scoring_equals_the_plain_feature_sum() -> None:
    """The scoring path the classifier runs gives exactly the score computed from `features`, sentence by sentence."""
    model = load()
    # Unknown words alike but for their harm class, in both places of a pair, one after the other.
    unknown = ["Rash after qwertyx.", "Rash after qwertyxitis.", "Qwertyx developed.", "Qwertyxitis developed."]
    sentences = [*_own_sentences(), ", but ; no", "", "May 2020: 12% (n = 4) had no rash, but 3 did.", *unknown]
    assert len(sentences) > 300
    assert [model.score(s) for s in sentences] == [model.reference_score(s) for s in sentences]


def test_fast_scoring_forgets_words_a_topic_makes_unknown() -> None:
    """A model told a topic's words are unknown scores them as unknown, even after scoring them as known."""
    model = load()
    sentence = "Hair loss developed after the injections."
    model.score(sentence)
    topic = model.without(["hair loss"])
    assert topic.score(sentence) == topic.reference_score(sentence)
    assert topic.score(sentence) != model.score(sentence)


def test_fast_scoring_holds_when_its_caches_are_emptied_mid_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token and pair caches are bounded; emptied between two tokens of one sentence, the
    score stays the plain feature sum."""
    monkeypatch.setattr(safety_model, "_WORD_CACHE", 2)
    model = load()
    sentences = _own_sentences()[:60]
    assert [model.score(s) for s in sentences] == [model.reference_score(s) for s in sentences]


def test_record_score_reads_the_whole_text_and_tempers_the_strongest_sentence() -> None:
    """A record's text scores the geometric mean of its strongest sentence and the record
    model, which reads every sentence's features together; its evidence says so."""
    model = load()
    title = "Outcomes of a cohort"
    abstract = ("We followed 400 adults for five years. Two patients developed granulomas after "
                "filler injection. Quality of life improved.")
    c = Classifier(model=model).classify(pubmed(title, abstract))
    sentences = [title, *(s.strip() + "." for s in abstract.split(".") if s.strip())]
    ids = [i for s in sentences for i in model.feature_ids(s)]
    whole = model.record_score(ids)
    assert whole is not None and 0 < whole < 1
    strongest = max(model.sentence_score(s) for s in sentences)
    assert c.safety_score == pytest.approx((strongest * whole) ** 0.5, abs=1e-3)
    assert any("title and abstract together" in e for e in c.evidence)
    assert model.record_score([]) is None and model.record_score([-1, -1]) is None


@pytest.mark.parametrize("title", ["Letter on PRP", "Reply to the letter"])
def test_a_title_of_a_few_words_is_not_scored_on_one_function_word(title: str) -> None:
    """A short sentence is scaled as if it had SHORT features: 'on' alone (a weight the ADE
    corpus's 'on <drug>' taught) no longer makes a three-word letter a possible safety signal."""
    model = safety_model.shipped()
    assert model.score(title) < model.thresholds.review
    feats = [f for f in safety_model.features(title, model.known) if f in model.index]
    assert len(feats) < safety_model.SHORT  # what the test is about: a short sentence


@pytest.mark.parametrize("title", ["Granulomas after exosome injection", "Anaphylaxis after filler injection"])
def test_a_short_title_naming_a_harm_is_still_a_safety_signal(title: str) -> None:
    model = safety_model.shipped()
    assert model.score(title) >= model.thresholds.safety


@pytest.mark.parametrize(("contracted", "spelled"), [
    ("Rash wasn't observed in any patient.", "Rash was not observed in any patient."),
    ("Bleeding didn't occur after the procedure.", "Bleeding did not occur after the procedure."),
])
def test_a_contracted_negation_reads_as_the_spelled_one(contracted: str, spelled: str) -> None:
    """'wasn't' is one token: it negates what it follows, as 'was not' does."""
    model = safety_model.shipped()
    assert "!rash" in safety_model.tokens(contracted) or "!bleeding" in safety_model.tokens(contracted)
    assert abs(model.score(contracted) - model.score(spelled)) < 0.1
    assert model.score(contracted) < model.thresholds.review


def test_a_clause_is_denied_as_the_same_words_alone_would_be() -> None:
    """Denial is read from the tokens, for a whole sentence and for each clause alike."""
    model = safety_model.shipped()
    for sentence, clause in [("Hair density improved; 3no rash.", "3no rash."),
                             ("Scores rose; lack's of rash was noted.", "lack's of rash was noted.")]:
        assert model.sentence_score(sentence) >= model.score(clause)
        assert model.scored(clause)[0] == model.score(clause)


def test_a_negated_list_runs_past_its_commas_but_a_new_clause_does_not() -> None:
    """'No allergic reactions, infections or other adverse events': every item is negated;
    'No fever, and two patients had rash': the rash is not."""
    listed = safety_model.tokens("No allergic reactions, infections or other adverse events were recorded.")
    assert {"!reactions", "!infections", "!adverse", "!events"} <= set(listed)
    clause = safety_model.tokens("No fever, and two patients had rash.")
    assert "!fever" in clause and "rash" in clause


@pytest.mark.parametrize(("sentence", "denied"), [
    ("In 40 patients, adverse events were not reported during follow-up.", True),
    ("Bleeding did not occur in any patient.", True),
    ("This complication has not been reported before.", False),
    ("The nephrotoxicity was not reversible.", False),
])
def test_a_past_observation_denied_halves_the_score(sentence: str, denied: bool) -> None:
    """'… were not reported', '… did not occur' deny that harm happened; 'has not been reported
    before' (a first report) and 'was not reversible' deny nothing that happened."""
    assert safety_model._denies(safety_model.tokens(sentence)) is denied


# --- thresholds of their own for case reports ---------------------------------------------------

CASE = pubmed("Nodules after cosmetic injections",
              "A 35-year-old woman received filler injections. Weeks later she had nodules.")
STUDY = pubmed("Nodules after cosmetic injections: a randomised trial",
               "We randomised 120 women to filler or saline. Weeks later some had nodules.")


def with_thresholds(thresholds: Thresholds) -> Classifier:
    model = copy.copy(safety_model.shipped())
    model.thresholds = thresholds
    return Classifier(model=model)


def test_the_shipped_model_has_case_report_thresholds() -> None:
    """Chosen for recall on the ADE case reports by our labels (train.py), review below safety."""
    t = load().thresholds
    assert t.case_safety is not None and t.case_review is not None
    assert 0 < t.case_review <= t.case_safety < 1


def test_a_case_report_is_judged_on_the_case_thresholds() -> None:
    """The same score is a safety signal in a case report and not in a trial, when it lies
    between the two safety thresholds."""
    case_kind, case_score = (lambda c: (c.kind, c.safety_score))(Classifier().classify(CASE))
    study_kind, study_score = (lambda c: (c.kind, c.safety_score))(Classifier().classify(STUDY))
    assert (case_kind, study_kind) == ("case_report", "clinical")
    top = max(case_score, study_score) + 0.01
    low = min(case_score, study_score) - 0.01
    between = with_thresholds(Thresholds(safety=min(1.0, top), review=0.01, case_safety=max(0.0, low),
                                         case_review=0.01))
    assert between.classify(CASE).safety
    assert not between.classify(STUDY).safety and between.classify(STUDY).possible_safety
    assert "case reports" in between.identity


def test_a_model_file_without_case_thresholds_uses_the_others(model_files: tuple[Path, Path]) -> None:
    """Files from before case thresholds load; case reports then share the study thresholds."""
    npz, meta = model_files
    info = json.loads(meta.read_text(encoding="utf-8"))
    info["thresholds"] = {"safety": 0.4, "review": 0.24}
    meta.write_text(json.dumps(info), encoding="utf-8")
    model = load(npz, meta)
    assert model.thresholds.for_case_reports() == (0.4, 0.24)
    assert Classifier(model=model).thresholds_for("case_report") == (0.4, 0.24)


def test_a_case_threshold_outside_0_1_is_an_error(model_files: tuple[Path, Path]) -> None:
    npz, meta = model_files
    info = json.loads(meta.read_text(encoding="utf-8"))
    info["thresholds"]["case_safety"] = 1.5
    meta.write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(ModelError, match=r"threshold outside 0\.\.1"):
        load(npz, meta)


def test_a_configured_threshold_holds_for_every_kind() -> None:
    """[classify] safety_threshold / review_threshold replace the case thresholds too; each kind's
    review threshold stays at or below its safety threshold."""
    c = Classifier(ClassifySettings(safety_threshold=0.7, review_threshold=0.5))
    assert c.thresholds_for("case_report") == c.thresholds_for("clinical") == (0.7, 0.5)
    shipped = load().thresholds
    case_safety, case_review = shipped.for_case_reports()
    only_safety = Classifier(ClassifySettings(safety_threshold=0.5))
    assert only_safety.thresholds_for("case_report") == (0.5, case_review)
    assert only_safety.thresholds_for("clinical") == (0.5, shipped.review)
    only_review = Classifier(ClassifySettings(review_threshold=0.3))
    assert only_review.thresholds_for("case_report") == (case_safety, min(0.3, case_safety))
    assert only_review.thresholds_for("clinical") == (shipped.safety, 0.3)
