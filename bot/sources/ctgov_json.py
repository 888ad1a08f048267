"""Pure parser for ClinicalTrials.gov API v2 JSON: one study record or one /studies page to Items.

The v2 record nests registry fields by module (`protocolSection.statusModule.overallStatus`);
`hasResults` sits at the top level, beside `protocolSection`, not inside it. The client asks
only for the pieces listed in `FIELDS`, so the parser reads nothing outside them; of a posted
results section that is the adverse-event counts of each event group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bot.models import Item, TrialInfo

STUDY_URL = "https://clinicaltrials.gov/study/{}"  # a study's page, by NCT ID

NCT_ID = re.compile(r"^NCT\d{8}$")

_EVENT_GROUPS = ("resultsSection", "adverseEventsModule", "eventGroups", "[]")

# API "piece" name -> where the v2 record carries it. `fields=` sends the keys; the parser
# reads only these paths (a list step means "every element of this array").
PIECES: dict[str, tuple[str, ...]] = {
    "NCTId": ("protocolSection", "identificationModule", "nctId"),
    "BriefTitle": ("protocolSection", "identificationModule", "briefTitle"),
    "OfficialTitle": ("protocolSection", "identificationModule", "officialTitle"),
    "OverallStatus": ("protocolSection", "statusModule", "overallStatus"),
    "WhyStopped": ("protocolSection", "statusModule", "whyStopped"),
    "StartDate": ("protocolSection", "statusModule", "startDateStruct", "date"),
    "PrimaryCompletionDate": (
        "protocolSection", "statusModule", "primaryCompletionDateStruct", "date"
    ),
    "CompletionDate": ("protocolSection", "statusModule", "completionDateStruct", "date"),
    "StudyFirstPostDate": ("protocolSection", "statusModule", "studyFirstPostDateStruct", "date"),
    "LastUpdatePostDate": ("protocolSection", "statusModule", "lastUpdatePostDateStruct", "date"),
    "LeadSponsorName": ("protocolSection", "sponsorCollaboratorsModule", "leadSponsor", "name"),
    "BriefSummary": ("protocolSection", "descriptionModule", "briefSummary"),
    "Condition": ("protocolSection", "conditionsModule", "conditions"),
    "Keyword": ("protocolSection", "conditionsModule", "keywords"),
    "StudyType": ("protocolSection", "designModule", "studyType"),
    "Phase": ("protocolSection", "designModule", "phases"),
    "EnrollmentCount": ("protocolSection", "designModule", "enrollmentInfo", "count"),
    "EnrollmentType": ("protocolSection", "designModule", "enrollmentInfo", "type"),
    "InterventionName": (
        "protocolSection", "armsInterventionsModule", "interventions", "[]", "name"
    ),
    "LocationCountry": ("protocolSection", "contactsLocationsModule", "locations", "[]", "country"),
    "ReferencePMID": ("protocolSection", "referencesModule", "references", "[]", "pmid"),
    "ReferenceType": ("protocolSection", "referencesModule", "references", "[]", "type"),
    "HasResults": ("hasResults",),
    # Adverse-event counts, one value per event group (arm). Asked for by piece name, like
    # every field above: the v2 docs accept piece names and dotted field names alike, but
    # piece names are what the API's own examples use and what users report verified
    # against the live API (EventGroupSeriousNumAffected, ...), while reports on dotted
    # sub-module paths disagree. The pieces also fetch only these counts, not each
    # group's title and description, nor the per-term event tables.
    "EventGroupSeriousNumAffected": (*_EVENT_GROUPS, "seriousNumAffected"),
    "EventGroupSeriousNumAtRisk": (*_EVENT_GROUPS, "seriousNumAtRisk"),
    "EventGroupOtherNumAffected": (*_EVENT_GROUPS, "otherNumAffected"),
    "EventGroupOtherNumAtRisk": (*_EVENT_GROUPS, "otherNumAtRisk"),
    "EventGroupDeathsNumAffected": (*_EVENT_GROUPS, "deathsNumAffected"),
    "EventGroupDeathsNumAtRisk": (*_EVENT_GROUPS, "deathsNumAtRisk"),
}  # fmt: skip
FIELDS = ",".join(PIECES)
AT_RISK_PIECES = ("EventGroupSeriousNumAtRisk", "EventGroupOtherNumAtRisk",
                  "EventGroupDeathsNumAtRisk")  # fmt: skip

# Reference types that are publications *of* this trial (not background reading).
RESULT_REFERENCES = frozenset({"RESULT", "DERIVED"})


class StudyFormatError(ValueError):
    """The JSON is not a v2 study (or page of studies) the parser understands."""


@dataclass(frozen=True)
class StudyPage:
    """One /studies page: its items, the token for the next page (None at the end), the total."""

    items: list[Item]
    next_page_token: str | None
    total_count: int | None
    skipped: list[str] = field(default_factory=list)  # one warning per study that could not be read


class AdverseEvents(NamedTuple):
    """A trial's posted adverse-event counts, summed over its event groups."""

    at_risk: int | None
    serious: int | None
    other: int | None
    deaths: int | None


def parse_study(study: Mapping[str, Any]) -> Item:
    """One v2 study record (as in /studies or /studies/{nct}) as an Item."""
    if not isinstance(study, Mapping) or not isinstance(study.get("protocolSection"), Mapping):
        raise StudyFormatError("not a ClinicalTrials.gov v2 study: no protocolSection")
    nct = _text(study, "NCTId")
    if not NCT_ID.match(nct):
        raise StudyFormatError(f"study without a valid NCT ID (got {nct!r})")

    references = _pairs(study, "ReferencePMID", "ReferenceType")
    result_pmids = tuple(
        dict.fromkeys(pmid for pmid, kind in references if pmid and kind in RESULT_REFERENCES)
    )
    enrollment = _get(study, "EnrollmentCount")
    if not isinstance(enrollment, int) or isinstance(enrollment, bool):
        enrollment = None
    ae = _adverse_events(study)
    trial = TrialInfo(
        status=_text(study, "OverallStatus"),
        why_stopped=_text(study, "WhyStopped"),
        phases=_texts(study, "Phase"),
        study_type=_text(study, "StudyType"),
        enrollment=enrollment,
        enrollment_type=_text(study, "EnrollmentType"),
        start_date=_text(study, "StartDate"),
        primary_completion_date=_text(study, "PrimaryCompletionDate"),
        completion_date=_text(study, "CompletionDate"),
        has_results=_get(study, "HasResults") is True,
        last_update=_text(study, "LastUpdatePostDate"),
        sponsor=_text(study, "LeadSponsorName"),
        official_title=_text(study, "OfficialTitle"),
        conditions=_texts(study, "Condition"),
        interventions=_texts(study, "InterventionName"),
        countries=_texts(study, "LocationCountry"),
        ae_at_risk=ae.at_risk,
        ae_serious_affected=ae.serious,
        ae_other_affected=ae.other,
        ae_deaths_affected=ae.deaths,
    )
    return Item(
        source="clinicaltrials",
        id=nct,
        title=_text(study, "BriefTitle") or trial.official_title or nct,
        url=STUDY_URL.format(nct),
        abstract=_text(study, "BriefSummary"),
        published=_text(study, "StudyFirstPostDate"),
        keywords=_texts(study, "Keyword"),
        trial=trial,
        links=tuple(f"pmid:{p}" for p in result_pmids),
    )


def parse_page(page: Mapping[str, Any]) -> StudyPage:
    """A /studies list page `{"studies": [...], "nextPageToken": ..., "totalCount": n}`."""
    if not isinstance(page, Mapping) or not isinstance(page.get("studies", []), list):
        raise StudyFormatError("not a ClinicalTrials.gov v2 /studies page: no 'studies' list")
    token = page.get("nextPageToken")
    total = page.get("totalCount")
    items: list[Item] = []
    skipped: list[str] = []
    first_problem: Exception | None = None
    for study in page.get("studies", []):
        try:
            items.append(parse_study(study))
        except (StudyFormatError, TypeError, ValueError, AttributeError) as exc:
            # One bad record is one bad record: the page's other studies are kept.
            first_problem = first_problem or exc
            nct = _text(study, "NCTId") if isinstance(study, Mapping) else ""
            who = f"study {nct}" if nct else "a study without a readable NCT ID"
            skipped.append(f"ClinicalTrials.gov {who} could not be read and was skipped ({exc})")
    if first_problem is not None and not items:  # nothing reads as a v2 study: not a v2 page
        raise StudyFormatError(str(first_problem)) from first_problem
    return StudyPage(
        items=items,
        next_page_token=token if isinstance(token, str) and token else None,
        total_count=total if isinstance(total, int) else None,
        skipped=skipped,
    )


def parse_page_bytes(body: bytes) -> StudyPage:
    """`parse_page` on a raw response body."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StudyFormatError(f"not JSON: {exc}") from exc
    return parse_page(data)


# ---------------------------------------------------------------- field access


def _walk(value: Any, path: Sequence[str]) -> list[Any]:
    """Every value at `path` ("[]" fans out over an array); missing steps yield nothing."""
    if not path:
        return [value]
    step, rest = path[0], path[1:]
    if step == "[]":
        if not isinstance(value, list):
            return []
        return [found for element in value for found in _walk(element, rest)]
    if not isinstance(value, Mapping) or step not in value:
        return []
    return _walk(value[step], rest)


def _get(study: Mapping[str, Any], piece: str) -> Any:
    found = _walk(study, PIECES[piece])
    return found[0] if found else None


def _text(study: Mapping[str, Any], piece: str) -> str:
    value = _get(study, piece)
    return " ".join(value.split()) if isinstance(value, str) else ""


def _texts(study: Mapping[str, Any], piece: str) -> tuple[str, ...]:
    """Non-empty strings at `piece`, flattened, in order, each once."""
    found: list[Any] = []
    for value in _walk(study, PIECES[piece]):
        found.extend(value if isinstance(value, list) else [value])
    cleaned = (" ".join(v.split()) for v in found if isinstance(v, str))
    return tuple(dict.fromkeys(v for v in cleaned if v))


def _rows(study: Mapping[str, Any], *pieces: str) -> list[tuple[Any, ...]]:
    """Pieces of the same array element side by side, one row per element (None: missing)."""
    paths = [PIECES[p] for p in pieces]
    split = paths[0].index("[]")
    if any(path[: split + 1] != paths[0][: split + 1] for path in paths):
        raise ValueError(f"{', '.join(pieces)} are not in the same array")
    rows = []
    for element in _walk(study, paths[0][:split]):
        for entry in element if isinstance(element, list) else ():
            found = [_walk(entry, path[split + 1 :]) for path in paths]
            rows.append(tuple(values[0] if values else None for values in found))
    return rows


def _pairs(study: Mapping[str, Any], first: str, second: str) -> list[tuple[str, str]]:
    """Two pieces of the same array element, side by side (e.g. a reference's PMID and type)."""
    return [("" if a is None else str(a), "" if b is None else str(b))
            for a, b in _rows(study, first, second)]


def _adverse_events(study: Mapping[str, Any]) -> AdverseEvents:
    """The posted adverse-event counts summed over event groups (all None: no AE module).

    Event groups are usually the arms, so the sums are the trial's totals (a crossover trial
    that reports per period counts a participant once per period). A count no group reports
    stays None, not 0: "not reported" must not read as "nobody affected". A group's size is
    its largest at-risk figure: deaths, serious and other each have their own, which differ
    or go missing on real records."""
    rows = _rows(study, "EventGroupSeriousNumAffected", "EventGroupOtherNumAffected",
                 "EventGroupDeathsNumAffected", *AT_RISK_PIECES)
    counts = [tuple(v if _is_count(v) else None for v in row) for row in rows]
    at_risk = [max((n for n in row[3:] if n is not None), default=None) for row in counts]
    serious, other, deaths = ([row[i] for row in counts] for i in range(3))
    return AdverseEvents(_total(at_risk), _total(serious), _total(other), _total(deaths))


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _total(values: Sequence[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None
