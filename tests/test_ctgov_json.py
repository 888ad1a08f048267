"""ClinicalTrials.gov v2 parser on real recorded study records and the project's own (tests/corpus.py);
facts of the own records are in test_ctgov_json_own.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.models import Item
from bot.sources.ctgov_json import (
    FIELDS,
    PIECES,
    StudyFormatError,
    parse_page,
    parse_page_bytes,
    parse_study,
)
from tests.conftest import fixture_bytes
from tests.corpus import Registry


def study(nct: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_bytes("clinicaltrials", f"ctgov_v2_study_{nct}.json"))
    return data


def test_withdrawn_study_fields() -> None:
    """A withdrawn trial yields every registry field the issue lists, from the right module."""
    item = parse_study(study("NCT00973089"))
    assert item.source == "clinicaltrials"
    assert item.uid == "nct:NCT00973089"
    assert item.url == "https://clinicaltrials.gov/study/NCT00973089"
    assert item.title == (
        "Alternative Treatment of Deep Carious Lesions Based on Biological Evidences"
    )
    assert item.published == "2009-09-09"
    assert item.abstract.startswith("The purpose of this study is to evaluate")
    assert item.keywords == ("Primary tooth", "Caries, Dental", "Alternative treatment")
    t = item.trial
    assert t is not None
    assert t.status == "WITHDRAWN"
    assert t.why_stopped.startswith("recruiting or enrolling participants has halted")
    assert t.phases == ("NA",)
    assert t.study_type == "INTERVENTIONAL"
    assert (t.enrollment, t.enrollment_type) == (0, "ACTUAL")
    dates = (t.start_date, t.primary_completion_date, t.completion_date)
    assert dates == ("2010-05", "2015-03", "2015-03")
    assert t.has_results is False
    assert t.last_update == "2015-08-19"
    assert t.sponsor == "Hadassah Medical Organization"
    assert t.official_title == item.title
    assert t.conditions == ("Caries, Dental",)
    assert t.interventions == ("Incomplete caries removal in primary teeth",)
    assert t.countries == ("Israel",)


def test_has_results_is_read_from_the_top_level(registry: Registry) -> None:
    """`hasResults` sits beside protocolSection in v2, and a true value is kept."""
    raw = registry.study(registry.results)
    assert "hasResults" not in raw["protocolSection"]
    item = parse_study(raw)
    assert item.trial is not None and item.trial.has_results is True


def ae_module(raw: dict[str, Any]) -> dict[str, Any]:
    module: dict[str, Any] = raw["resultsSection"]["adverseEventsModule"]
    return module


def ae_counts(item: Item) -> tuple[int | None, ...]:
    t = item.trial
    assert t is not None
    return (t.ae_at_risk, t.ae_serious_affected, t.ae_other_affected, t.ae_deaths_affected)


def test_adverse_event_counts_from_posted_results() -> None:
    """Real results: one event group, 1 of 18 with other adverse events, none serious, no deaths."""
    item = parse_study(study("NCT05594173"))
    assert ae_counts(item) == (18, 0, 1, 0)
    assert item.trial is not None and item.trial.has_ae_summary
    assert item.trial.study_type == "OBSERVATIONAL" and item.trial.phases == ()
    assert item.trial.enrollment == 20


@pytest.mark.parametrize("nct", ["NCT00973089", "NCT04207047", "NCT06171568"])
def test_no_results_means_no_adverse_event_counts(nct: str) -> None:
    """A study without a results section has no counts at all (None, not zero)."""
    item = parse_study(study(nct))
    assert ae_counts(item) == (None, None, None, None)
    assert item.trial is not None and not item.trial.has_ae_summary


def test_results_without_an_adverse_event_module(registry: Registry) -> None:
    """Results posted without an adverse-event module: has_results, but every count None."""
    raw = registry.study(registry.results)
    del raw["resultsSection"]["adverseEventsModule"]
    item = parse_study(raw)
    assert item.trial is not None and item.trial.has_results is True
    assert ae_counts(item) == (None, None, None, None)


def test_counts_are_summed_over_event_groups(registry: Registry) -> None:
    """One more arm adds up; a group's size is its largest at-risk figure; unreported deaths stay None."""
    raw = registry.study(registry.results)
    groups = ae_module(raw)["eventGroups"]
    groups.append({"id": "EG001", "title": "Placebo", "seriousNumAffected": 2,
                   "seriousNumAtRisk": 20, "otherNumAffected": 5, "otherNumAtRisk": 21})
    for group in groups:
        group.pop("deathsNumAffected", None)
        group.pop("deathsNumAtRisk", None)
    at_risk, serious, other, _ = registry.results_counts
    assert ae_counts(parse_study(raw)) == (at_risk + 21, serious + 2, other + 5, None)


def test_malformed_counts_are_ignored(registry: Registry) -> None:
    """Negative, boolean or text counts are not read as numbers of participants."""
    raw = registry.study(registry.results)
    for group in ae_module(raw)["eventGroups"]:
        group.update(seriousNumAffected=-1, otherNumAffected=True, deathsNumAffected="0")
    assert ae_counts(parse_study(raw)) == (registry.results_counts[0], None, None, None)


def test_trial_stored_before_adverse_event_counts_loads(registry: Registry) -> None:
    """A stored trial dict from before the counts existed loads with every count None."""
    data = parse_study(registry.study(registry.results)).to_dict()
    for name in ("ae_at_risk", "ae_serious_affected", "ae_other_affected", "ae_deaths_affected"):
        del data["trial"][name]
    assert ae_counts(Item.from_dict(data)) == (None, None, None, None)


def test_unknown_status_and_device_intervention() -> None:
    """A status of UNKNOWN is kept as the API says, with every device named as intervention."""
    item = parse_study(study("NCT04207047"))
    assert item.trial is not None
    assert item.trial.status == "UNKNOWN"
    assert item.trial.interventions == ("Genius", "eC02", "PicoPlus", "LaseMD", "LaseMD Flex")
    assert item.trial.countries == ("United States",)
    assert item.trial.sponsor == "LUTRONIC Corporation"


def test_non_ascii_and_background_references() -> None:
    """Accented text survives; BACKGROUND references are not taken as the trial's publications."""
    item = parse_study(study("NCT06171568"))
    assert item.title.startswith("Lariboisière Cognitive Assessment")
    assert item.trial is not None
    assert item.trial.sponsor == "Assistance Publique - Hôpitaux de Paris"
    assert item.trial.enrollment_type == "ESTIMATED"
    assert item.links == ()


def test_result_reference_becomes_a_publication_link(registry: Registry) -> None:
    """A RESULT or DERIVED reference's PMID is listed as a link to the publication."""
    raw = registry.study(registry.recruiting)
    refs = raw["protocolSection"]["referencesModule"]["references"]
    assert parse_study(raw).links == ()  # background reading only
    refs[0]["type"] = "RESULT"
    refs[1]["type"] = "DERIVED"
    assert parse_study(raw).links == (f"pmid:{refs[0]['pmid']}", f"pmid:{refs[1]['pmid']}")


def test_round_trip_through_dict(registry: Registry) -> None:
    """Every study survives Item.to_dict / from_dict unchanged (what the store keeps)."""
    for raw in registry.studies:
        item = parse_study(raw)
        assert Item.from_dict(json.loads(json.dumps(item.to_dict()))) == item


def test_requested_fields_name_every_path_read() -> None:
    """`fields=` lists exactly the pieces the parser reads, so nothing is fetched in vain."""
    assert FIELDS.split(",") == list(PIECES)
    assert "HasResults" in PIECES and PIECES["HasResults"] == ("hasResults",)
    # adverse-event counts by piece name, never as a dotted path
    assert PIECES["EventGroupOtherNumAffected"] == (
        "resultsSection", "adverseEventsModule", "eventGroups", "[]", "otherNumAffected")
    assert not any("." in name for name in FIELDS.split(","))


def test_page_with_token_and_empty_page(registry: Registry) -> None:
    """A page yields its studies and token; an empty page with a token is not the end."""
    studies = registry.studies
    page = parse_page({"studies": studies, "nextPageToken": "NF0g5JGBlPMuwQY", "totalCount": 9})
    assert [i.id for i in page.items] == [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]
    assert (page.next_page_token, page.total_count) == ("NF0g5JGBlPMuwQY", 9)
    empty = parse_page({"studies": [], "nextPageToken": "abc"})
    assert empty.items == [] and empty.next_page_token == "abc"
    last = parse_page_bytes(b'{"studies": []}')
    assert last.next_page_token is None and last.total_count is None


@pytest.mark.parametrize(
    "body", [b"not json", b'{"studies": {}}', b'{"studies": [{"hasResults": false}]}', b"[]"]
)
def test_malformed_pages_raise(body: bytes) -> None:
    """Bodies that are not v2 pages raise StudyFormatError instead of yielding half items."""
    with pytest.raises(StudyFormatError):
        parse_page_bytes(body)


def invented_study(nct: str, title: str = "Exosome serum for alopecia") -> dict[str, Any]:
    """A minimal v2 study record written for these tests."""
    return {"protocolSection": {"identificationModule": {"nctId": nct, "briefTitle": title},
                                "statusModule": {"overallStatus": "RECRUITING"}}}  # fmt: skip


def test_one_unreadable_study_is_skipped_by_name_and_the_page_kept() -> None:
    """Regression (issue 14, finding 5, for trials): a study that does not parse is skipped
    and named by its NCT ID; the other studies of the page are read."""
    broken = invented_study("NCT02222222")
    broken["protocolSection"]["identificationModule"]["nctId"] = "NCT2"  # not an NCT ID
    nameless: dict[str, Any] = {"hasResults": False}
    page = parse_page({"studies": [invented_study("NCT01111111"), broken, nameless,
                                   invented_study("NCT03333333")]})  # fmt: skip
    assert [item.id for item in page.items] == ["NCT01111111", "NCT03333333"]
    assert len(page.skipped) == 2
    assert "study NCT2 could not be read" in page.skipped[0] and "valid NCT ID" in page.skipped[0]
    assert "without a readable NCT ID" in page.skipped[1] and "protocolSection" in page.skipped[1]


def test_legacy_v1_record_is_refused() -> None:
    """A retired API v1 FullStudiesResponse is refused with a clear error, not misread."""
    with pytest.raises(StudyFormatError, match="protocolSection"):
        legacy = fixture_bytes("clinicaltrials", "ctgov_v1_fullstudies_NCT04780763.json")
        parse_study(json.loads(legacy))
