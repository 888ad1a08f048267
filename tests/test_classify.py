"""The classifier: each rule family on real record text, purity and configuration."""

from __future__ import annotations

from bot.classify import Classifier, classify
from bot.config import ClassifySettings
from bot.models import Correction, Item, MeshHeading, TrialInfo


def pubmed(title: str, abstract: str = "", **fields: object) -> Item:
    return Item(source="pubmed", id="1", title=title, abstract=abstract, **fields)  # type: ignore[arg-type]


def test_publication_type_case_report_wins() -> None:
    """A record tagged Case Reports is a case report, and the reason names the tag."""
    item = pubmed("Giant intrathoracic schwannoma: A case report.",
                  publication_types=("Case Reports", "Letter"))
    c = classify(item)
    assert c.kind == "case_report"
    assert "publication type: Case Reports" in c.reasons


def test_negated_adverse_events_are_not_safety() -> None:
    """'No serious adverse events were observed' is not a safety signal."""
    item = pubmed(
        "Split-scalp trial of a topical serum",
        "RESULTS: Forty patients were randomized. No serious adverse events were observed.",
    )
    c = classify(item)
    assert c.kind == "clinical"
    assert not c.safety


def test_observed_harm_is_safety() -> None:
    """'Two patients developed granulomas' after an injection is a safety signal."""
    item = pubmed(
        "Granulomatous reactions after exosome injections",
        "Two patients developed granulomas after injection of an exosome product.",
    )
    c = classify(item)
    assert c.safety
    assert any("granulomas" in r for r in c.reasons)


def test_retraction_link_is_integrity() -> None:
    """A RetractionIn link marks the record for integrity and cites the notice."""
    item = pubmed("The stimulation by synaptic transmitters", "x",
                  publication_types=("Journal Article", "Retracted Publication"),
                  corrections=(Correction("RetractionIn", "195582", "Nature 1977"),))
    c = classify(item)
    assert c.integrity
    assert "CommentsCorrections: RetractionIn (PMID 195582)" in c.reasons


def test_registry_stopped_for_safety() -> None:
    """A trial terminated for safety concerns is clinical and a safety signal."""
    item = Item(source="clinicaltrials", id="NCT00000001", title="A trial",
                trial=TrialInfo(status="TERMINATED", why_stopped="Safety concerns (DSMB)",
                                study_type="INTERVENTIONAL"))
    c = classify(item)
    assert (c.kind, c.safety) == ("clinical", True)
    assert "trial TERMINATED, why stopped: 'Safety concerns (DSMB)'" in c.reasons


def test_config_terms_extend_rules() -> None:
    """A configured safety term is found in text the built-in rules ignore."""
    item = pubmed("Scalp nodules", "Three patients developed scalp nodules at the injection sites.",
                  mesh=(MeshHeading("Humans"),))
    assert not Classifier().classify(item).safety
    assert Classifier(ClassifySettings(safety_terms=("scalp nodules",))).classify(item).safety
