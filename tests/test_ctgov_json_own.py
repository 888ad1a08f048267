"""ClinicalTrials.gov v2 parser on the project's own invented study records (tests/fixtures/clinicaltrials):
the facts test_ctgov_json.py checks on the recorded ones, on records every clone has."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.sources.ctgov_json import StudyFormatError, parse_study
from tests.corpus import OWN
from tests.test_ctgov_json import ae_counts

FOLDER = OWN / "clinicaltrials"


def study(nct: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FOLDER / f"ctgov_v2_study_{nct}.json").read_text(encoding="utf-8"))
    return data


def test_withdrawn_study_fields() -> None:
    """A withdrawn trial yields every registry field, from the right module, whitespace collapsed."""
    item = parse_study(study("NCT09900001"))
    assert (item.source, item.uid) == ("clinicaltrials", "nct:NCT09900001")
    assert item.url == "https://clinicaltrials.gov/study/NCT09900001"
    assert item.title == "Exosome Mesotherapy for Female Pattern Hair Loss"
    assert item.published == "2022-06-01"
    assert item.abstract == ("This pilot study was planned to test whether monthly exosome mesotherapy "
                             "increases hair density in women with female pattern hair loss.")
    assert item.keywords == ("exosomes", "mesotherapy", "hair density")
    t = item.trial
    assert t is not None
    assert t.status == "WITHDRAWN" and t.why_stopped.startswith("The sponsor changed its development plans")
    assert (t.phases, t.study_type) == (("NA",), "INTERVENTIONAL")
    assert (t.enrollment, t.enrollment_type) == (0, "ACTUAL")
    assert (t.start_date, t.primary_completion_date, t.completion_date) == ("2022-09", "2023-09", "2023-12")
    assert t.has_results is False and t.last_update == "2023-05-15"
    assert t.sponsor == "Example Skin Institute"
    assert t.official_title == "A Pilot Study of Exosome Mesotherapy in Women With Female Pattern Hair Loss"
    assert t.conditions == ("Female Pattern Hair Loss",)
    assert t.interventions == ("Exosome mesotherapy",) and t.countries == ("Canada",)


def test_adverse_event_counts_summed_over_two_arms() -> None:
    """Two arms: 120 at risk (an arm's largest at-risk figure), 1 serious, 6 + 2 other, no deaths."""
    item = parse_study(study("NCT09900002"))
    assert ae_counts(item) == (120, 1, 8, 0)
    assert item.trial is not None and item.trial.has_ae_summary and item.trial.has_results
    assert item.trial.phases == ("PHASE2",)


def test_result_reference_links_the_trial_to_its_publication() -> None:
    """The completed trial's RESULT reference is its link to the PubMed record of the same trial."""
    assert parse_study(study("NCT09900002")).links == ("pmid:90100002",)


@pytest.mark.parametrize("nct", ["NCT09900001", "NCT09900003", "NCT09900004", "NCT09900005"])
def test_no_results_means_no_adverse_event_counts(nct: str) -> None:
    """A study without a results section has no counts at all (None, not zero)."""
    item = parse_study(study(nct))
    assert ae_counts(item) == (None, None, None, None)
    assert item.trial is not None and not item.trial.has_ae_summary


def test_terminated_study_keeps_why_stopped() -> None:
    """A terminated trial carries the registry's reason for stopping, word for word."""
    t = parse_study(study("NCT09900003")).trial
    assert t is not None and t.status == "TERMINATED"
    assert t.why_stopped == "Stopped by the data safety monitoring board after two serious adverse events"


def test_each_device_is_named_once() -> None:
    """Interventions listed twice (one device in two arms) are named once, in order; countries too."""
    t = parse_study(study("NCT09900004")).trial
    assert t is not None and t.status == "ACTIVE_NOT_RECRUITING"
    assert t.interventions == ("FractoLase 1550", "LumaCap", "Exosome serum")
    assert t.countries == ("United States",)


def test_non_ascii_and_background_references() -> None:
    """Accented text survives; BACKGROUND references are not taken as the trial's publications."""
    item = parse_study(study("NCT09900005"))
    assert item.title.startswith("Évaluation des Exosomes Autologues dans l'Alopécie")
    assert item.trial is not None and item.trial.sponsor == "Hôpital Exemple de Paris"
    assert (item.trial.enrollment, item.trial.enrollment_type) == (400, "ESTIMATED")
    assert item.trial.study_type == "OBSERVATIONAL" and item.trial.phases == ()
    assert item.links == ()


def test_title_falls_back_to_the_official_title_then_the_nct_id() -> None:
    """Without a brief title the official one names the study; without either, its NCT ID."""
    raw = study("NCT09900003")
    del raw["protocolSection"]["identificationModule"]["briefTitle"]
    assert parse_study(raw).title.startswith("Intradermal Umbilical Cord Exosomes in Patchy Alopecia Areata")
    del raw["protocolSection"]["identificationModule"]["officialTitle"]
    assert parse_study(raw).title == "NCT09900003"


@pytest.mark.parametrize("nct", ["NCT9900003", "nct09900003", 9900003])
def test_a_study_without_a_valid_nct_id_is_refused(nct: object) -> None:
    """A record whose NCT ID is not NCT + 8 digits is refused, naming what it got."""
    raw = study("NCT09900003")
    raw["protocolSection"]["identificationModule"]["nctId"] = nct
    with pytest.raises(StudyFormatError, match="without a valid NCT ID"):
        parse_study(raw)


def test_a_non_integer_enrollment_is_unknown() -> None:
    """An enrollment count that is text or a boolean reads as unknown, not as a number."""
    raw = study("NCT09900003")
    raw["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = "9"
    trial = parse_study(raw).trial
    assert trial is not None and trial.enrollment is None


def test_legacy_v1_record_is_refused() -> None:
    """A retired API v1 FullStudiesResponse is refused with a clear error, not misread."""
    legacy = json.loads((FOLDER / "ctgov_v1_fullstudies_NCT09900006.json").read_text())
    with pytest.raises(StudyFormatError, match="protocolSection"):
        parse_study(legacy)
