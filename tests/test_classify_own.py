"""The classifier on the project's own invented records (tests/fixtures/): every rule that
test_classify.py checks on a recorded record, on records every clone has."""

from __future__ import annotations

import io
import json

import feedparser
import numpy as np
import pytest

from bot.classify import TEXT_RULE_SCORE, Classifier, classify
from bot.models import Classification, Item
from bot.safety_model import SafetyModel, Thresholds
from bot.sources.ctgov_json import parse_study
from bot.sources.feeds import parse_entries
from bot.sources.pubmed_xml import parse_efetch
from tests.corpus import OWN


def record(pmid: str) -> Item:
    """One own PubMed record, by PMID, from whichever file holds it."""
    for path in sorted((OWN / "pubmed").glob("*.xml")):
        for item in parse_efetch(path.read_bytes()):
            if item.id == pmid:
                return item
    raise AssertionError(f"no own record {pmid}")


def study(nct: str) -> Item:
    return parse_study(json.loads((OWN / "clinicaltrials" / f"ctgov_v2_study_{nct}.json").read_text()))


def entries(name: str, feed_url: str) -> list[Item]:
    parsed = feedparser.parse(io.BytesIO((OWN / "feeds" / name).read_bytes()))
    return parse_entries(parsed, feed_url=feed_url)


def has_reason(c: Classification, *words: str) -> bool:
    return any(all(w in r for w in words) for r in c.reasons)


# --- PubMed records ---------------------------------------------------------------------------


def test_case_report_with_a_chemically_induced_mesh_qualifier_is_safety() -> None:
    """A Case Reports record indexed 'Alopecia / chemically induced' (major) is a safety signal."""
    c = classify(record("90100001"))
    assert (c.kind, c.safety, c.integrity) == ("case_report", True, False)
    # in the evidence with its fixed score, whether or not the text scores higher still
    assert any(e.startswith("MeSH: Alopecia / chemically induced (major topic) (0.90)") for e in c.evidence)


def test_trial_publication_types_make_a_clinical_study() -> None:
    """An RCT tagged Clinical Trial, Phase II is clinical, the reason naming the tags."""
    c = classify(record("90100002"))
    assert c.kind == "clinical" and not c.integrity
    assert "publication type: Clinical Trial, Phase II" in c.reasons


def test_retracted_publication_cites_its_notice() -> None:
    """Retracted Publication plus RetractionIn: integrity, citing the notice's PMID."""
    c = classify(record("90100003"))
    assert c.integrity and "CommentsCorrections: RetractionIn (PMID 90100004)" in c.reasons


@pytest.mark.parametrize(("pmid", "tag"), [
    ("90100004", "publication type: Retraction of Publication"),
    ("90100008", "publication type: Expression of Concern"),
])  # fmt: skip
def test_retraction_and_concern_notices_are_integrity_and_other(pmid: str, tag: str) -> None:
    """A retraction notice and an expression of concern are integrity items of kind other."""
    c = classify(record(pmid))
    assert (c.kind, c.integrity, c.corrected) == ("other", True, False)
    assert tag in c.reasons and "a notice about another record (erratum, retraction or concern)" in c.reasons


def test_erratum_notice_is_corrected_and_other() -> None:
    """A published erratum is in the corrected tier, not integrity; as a notice its kind is other."""
    c = classify(record("90100005"))
    assert (c.kind, c.integrity, c.corrected) == ("other", False, True)
    assert "publication type: Published Erratum" in c.reasons


def test_partial_retraction_is_integrity() -> None:
    """A record with PartialRetractionIn is in the integrity tier."""
    c = classify(record("90100007"))
    assert (c.integrity, c.corrected) == (True, False)
    assert "CommentsCorrections: PartialRetractionIn (PMID 90100017)" in c.reasons


def test_serious_adverse_events_stated_in_two_sentences_are_safety() -> None:
    """A cohort stating serious adverse events (wound infection, bleeding) in two sentences is a
    safety signal, quoting the first."""
    c = classify(record("90100007"))
    assert (c.kind, c.safety) == ("clinical", True)
    assert has_reason(c, "Three serious adverse events related to wound infection occurred")


def test_the_sentence_rules_catch_what_a_model_scores_low() -> None:
    """Below their fixed score (0.80) the round-1 sentence rules still run beside the model: a
    harm they match is a safety signal, quoted as theirs, even from a model that reads nothing."""
    blind = SafetyModel(["unused"], [], np.zeros(1), -8.0, Thresholds(0.5, 0.3), {})
    c = Classifier(model=blind).classify(record("90100007"))
    assert c.safety and c.safety_score == TEXT_RULE_SCORE
    assert has_reason(c, "Three serious adverse events related to wound infection occurred", "(sentence rules)")


def test_corrected_article_is_corrected_through_its_erratum_link() -> None:
    """The article an erratum corrects is in the corrected tier by its ErratumIn link, and stays a clinical study."""
    c = classify(record("90100006"))
    assert (c.kind, c.integrity, c.corrected) == ("clinical", False, True)
    assert "CommentsCorrections: ErratumIn (PMID 90100005)" in c.reasons


def test_tagged_review_without_harm_is_other() -> None:
    """A narrative Review about follicle biology ('related to' twice, far apart, naming no harm) is other, not safety."""
    c = classify(record("90100009"))
    assert (c.kind, c.safety) == ("other", False) and "publication type: Review" in c.reasons


def test_review_reporting_its_own_patients_is_clinical() -> None:
    """A Review that 'retrospectively reviewed the medical records of 31 patients' is a clinical study."""
    c = classify(record("90100021"))
    assert c.kind == "clinical" and has_reason(c, "retrospectively reviewed the medical records", "(primary data)")


def test_untagged_review_text_is_other() -> None:
    """An untagged 'In this narrative review, we summarise …' with no people counted is other."""
    c = classify(record("90100022"))
    assert c.kind == "other" and has_reason(c, "In this narrative review", "(review or opinion)")


def test_case_reports_tag_on_a_series_of_five_is_clinical() -> None:
    """A Case Reports tag on 'five patients' yields clinical (4 or more)."""
    c = classify(record("90100016"))
    assert c.kind == "clinical" and "a series of 5 patients (4 or more: clinical)" in c.reasons


def test_survey_of_dermatologists_is_other() -> None:
    """A questionnaire sent to dermatologists and physicians is not patient data."""
    c = classify(record("90100014"))
    assert c.kind == "other" and has_reason(c, "survey of professionals")


@pytest.mark.parametrize(("pmid", "reason"), [
    ("90100015", "MeSH: Animals without Humans (not a human study)"),
    ("90100020", "MeSH: Animals and Humans, text mostly about animals (not a human study)"),
    ("90100023", "text: mice, rats and no patients (not a human study)"),
])  # fmt: skip
def test_animal_studies_are_not_human_studies(pmid: str, reason: str) -> None:
    """Mice and rats, by MeSH or by text, make an 'other' record, and their toxicity is not a safety signal."""
    c = classify(record(pmid))
    assert (c.kind, c.safety) == ("other", False) and c.reasons == (reason,)


def test_comment_letter_without_abstract_is_other() -> None:
    """A Letter/Comment with no abstract is other, named by its tag."""
    c = classify(record("90100013"))
    assert c.kind == "other" and "publication type: Comment" in c.reasons


# --- registry records and feeds ----------------------------------------------------------------


def test_withdrawn_for_other_reasons_is_clinical_not_safety() -> None:
    """A withdrawn registry trial is clinical; a why-stopped without safety words is not safety."""
    c = classify(study("NCT09900001"))
    assert (c.kind, c.safety) == ("clinical", False)
    assert has_reason(c, "registry record: interventional") and has_reason(c, "for another reason")


def test_trial_terminated_by_the_safety_board_is_safety() -> None:
    """TERMINATED 'by the data safety monitoring board after two serious adverse events' is a safety signal."""
    c = classify(study("NCT09900003"))
    assert (c.kind, c.safety) == ("clinical", True)
    assert has_reason(c, "trial TERMINATED, why stopped: 'Stopped by the data safety monitoring board")


def test_posted_results_with_adverse_events_are_safety() -> None:
    """Posted results where participants had serious and other adverse events are a safety signal, counted."""
    c = classify(study("NCT09900002"))
    assert c.safety
    assert ("registry results: of 120 participants, 1 had serious adverse events, 8 had other adverse events, "
            "0 died (all causes)") in c.reasons


def test_registry_entries_in_a_feed_are_clinical_not_safety() -> None:
    """ClinicalTrials.gov RSS entries are trials; 'Safety and Efficacy of' is an aim, not a finding."""
    items = entries("ctgov_legacy_rss_search.xml", "https://clinicaltrials.gov/ct2/results/rss.xml")
    assert len(items) == 2
    for item in items:
        c = classify(item)
        assert (c.kind, c.safety) == ("clinical", False), item.title
        assert has_reason(c, "registry record in a feed: https://clinicaltrials.gov/ct2/show/NCT0990000")


def test_preprint_in_vitro_toxicity_is_not_safety() -> None:
    """A preprint on liver cells in vitro ('No animals or patients were studied') is other, not safety."""
    (item,) = entries("rss1_preprints.rdf", "https://preprints.example.org/rss.xml")
    c = classify(item)
    assert (c.kind, c.safety) == ("other", False)
