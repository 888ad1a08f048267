"""ClinicalTrials.gov client against a fake API v2 serving the project's own study records and, when
present, the real recorded ones (tests/corpus.py)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests

from bot.config import SavedQuery
from bot.errors import QuerySyntaxError, SourceError
from bot.models import Window
from bot.retry import RetryPolicy
from bot.sources.clinicaltrials import ClinicalTrialsSource, query_params
from bot.sources.ctgov_json import FIELDS
from tests.corpus import Registry
from tests.factories import http_stack
from tests.fakes.ctgov import FakeClinicalTrials, synthetic_studies
from tests.fakes.http import Response

QUERY = SavedQuery(name="trials-exosomes-hair", source="clinicaltrials", term="exosome",
                   condition="alopecia")  # fmt: skip
TODAY = date(2025, 3, 10)
COUNTS = ("seriousNumAffected", "seriousNumAtRisk", "otherNumAffected", "otherNumAtRisk",
          "deathsNumAffected", "deathsNumAtRisk")  # fmt: skip


def client(fake: FakeClinicalTrials, policy: RetryPolicy | None = None,
           sleeps: list[float] | None = None) -> ClinicalTrialsSource:  # fmt: skip
    return ClinicalTrialsSource(fake.url, http=http_stack(policy, sleeps))


def full(start: date | None = None) -> Window:
    return Window(start=start, end=TODAY, baseline=start is None)


def test_cold_load_pages_across_an_empty_page(registry: Registry) -> None:
    """2,500 studies arrive in full through 1,000-study pages, an empty page mid-way included."""
    with FakeClinicalTrials(synthetic_studies(2500, templates=registry.studies), empty_page_after=1) as fake:
        result = client(fake).fetch(QUERY, full())
    assert len(result.items) == 2500
    assert len({i.uid for i in result.items}) == 2500
    assert result.requests == len(fake.requests) == 4  # 1000, empty, 1000, 500
    assert [r.param("pageSize") for r in fake.requests] == ["1000"] * 4
    assert fake.violations == []


def test_every_page_repeats_the_same_parameters(registry: Registry) -> None:
    """Each page request carries the first page's parameters plus only the token."""
    with FakeClinicalTrials(synthetic_studies(25, templates=registry.studies), empty_page_after=1) as fake:
        source = ClinicalTrialsSource(fake.url, http=http_stack(), page_size=10)
        assert len(source.fetch(QUERY, full()).items) == 25
    assert len(fake.requests) == 4  # 10, empty, 10, 5
    first = fake.requests[0].query
    assert "pageToken" not in first
    assert first["pageSize"] == ["10"]
    assert first["fields"] == [FIELDS]
    assert first["query.term"] == ["exosome"] and first["query.cond"] == ["alopecia"]
    assert "query.intr" not in first and "filter.advanced" not in first
    for later in fake.requests[1:]:
        assert later.query.pop("pageToken")
        assert later.query == first


def test_incremental_window_asks_only_for_updates(registry: Registry) -> None:
    """A window with a start sends the LastUpdatePostDate range and gets only updated studies."""
    studies = synthetic_studies(30, updated="2024-06-01", templates=registry.studies)
    with FakeClinicalTrials(studies) as fake:
        fake.change("NCT90000007", updated="2025-03-09", status="TERMINATED",
                    why_stopped="safety concerns")  # fmt: skip
        result = client(fake).fetch(QUERY, full(date(2025, 3, 8)))
    assert fake.requests[0].param("filter.advanced") == "AREA[LastUpdatePostDate]RANGE[2025-03-08,MAX]"
    assert [i.id for i in result.items] == ["NCT90000007"]
    trial = result.items[0].trial
    assert trial is not None
    assert (trial.status, trial.why_stopped) == ("TERMINATED", "safety concerns")
    assert result.requests == 1


def test_status_filter_and_intervention_are_sent(registry: Registry) -> None:
    """Saved-query statuses go in filter.overallStatus and the intervention in query.intr."""
    query = SavedQuery(name="recruiting", source="clinicaltrials", intervention="exosomes",
                       status=("RECRUITING", "NOT_YET_RECRUITING"))  # fmt: skip
    with FakeClinicalTrials(registry.studies) as fake:
        result = client(fake).fetch(query, full())
    sent = fake.requests[0]
    assert sent.param("filter.overallStatus") == "RECRUITING,NOT_YET_RECRUITING"
    assert sent.param("query.intr") == "exosomes" and sent.param("query.term") is None
    assert [i.id for i in result.items] == [registry.recruiting]


def test_results_posted_is_seen_on_the_next_run(registry: Registry) -> None:
    """A study whose results were posted comes back in the next window with has_results set."""
    with FakeClinicalTrials(registry.studies) as fake:
        source = client(fake)
        first = {i.id: i for i in source.fetch(QUERY, full()).items}
        assert first[registry.ongoing].trial is not None
        assert first[registry.ongoing].trial.has_results is False
        fake.change(registry.ongoing, updated="2025-03-09", has_results=True)
        again = source.fetch(QUERY, full(date(2025, 3, 8)))
    assert [i.id for i in again.items] == [registry.ongoing]
    assert again.items[0].trial is not None and again.items[0].trial.has_results is True


def test_fields_projection_still_parses_every_field(registry: Registry) -> None:
    """Studies cut down to `fields=` parse to the same items as the full records."""
    from bot.sources.ctgov_json import parse_study

    with FakeClinicalTrials(registry.studies) as fake:
        got = {i.id: i for i in client(fake).fetch(QUERY, full()).items}
    for study in registry.studies:
        item = parse_study(study)
        assert got[item.id] == item


def test_adverse_event_counts_are_asked_for_by_piece_name(registry: Registry) -> None:
    """`fields=` names the event-group counts as pieces and the items carry the summed counts."""
    with FakeClinicalTrials(registry.studies) as fake:
        got = {i.id: i for i in client(fake).fetch(QUERY, full()).items}
    sent = (fake.requests[0].param("fields") or "").split(",")
    assert {"EventGroupSeriousNumAffected", "EventGroupOtherNumAffected",
            "EventGroupDeathsNumAffected", "EventGroupOtherNumAtRisk"} <= set(sent)
    trial = got[registry.results].trial
    assert trial is not None
    assert (trial.ae_at_risk, trial.ae_serious_affected, trial.ae_other_affected,
            trial.ae_deaths_affected) == registry.results_counts


def test_projected_page_holds_only_the_event_group_counts(registry: Registry) -> None:
    """The page cut to `fields=` keeps each group's counts, not its title or the event tables."""
    with FakeClinicalTrials(registry.studies) as fake:
        page = requests.get(f"{fake.url}/studies", params=query_params(QUERY, since=None),
                            timeout=5).json()  # fmt: skip
    studies = {s["protocolSection"]["identificationModule"]["nctId"]: s for s in page["studies"]}
    module = studies[registry.results]["resultsSection"]["adverseEventsModule"]
    posted = registry.study(registry.results)["resultsSection"]["adverseEventsModule"]["eventGroups"]
    assert all("title" in group for group in posted)  # what the projection must leave out
    assert module == {"eventGroups": [{key: group[key] for key in COUNTS if key in group} for group in posted]}
    assert "resultsSection" not in studies[registry.ongoing]


def test_400_text_error_names_the_query(registry: Registry, caplog: pytest.LogCaptureFixture) -> None:
    """A text/plain 400 becomes a QuerySyntaxError naming the query and the status; the API's words
    go to the log, not the message (issue 14 finding 3: no upstream body in a chat message)."""
    with FakeClinicalTrials(registry.studies) as fake:
        fake.fail_next.append(Response(400, "`filter.studyType` is unknown parameter",
                                       {"Content-Type": "text/plain"}))  # fmt: skip
        with pytest.raises(QuerySyntaxError) as caught:
            client(fake).fetch(QUERY, full())
    message = str(caught.value)
    assert message == "trials-exosomes-hair: ClinicalTrials.gov answered HTTP 400 Bad Request: it rejected the query"
    assert "`filter.studyType` is unknown parameter" in caplog.text
    assert caught.value.query == "trials-exosomes-hair"
    assert len(fake.requests) == 1  # a 400 is not retried


def test_404_is_a_source_error_with_the_url(registry: Registry) -> None:
    """A 404 (wrong base URL) fails the query, names the URL and is not retried."""
    with FakeClinicalTrials(registry.studies) as fake:
        source = ClinicalTrialsSource(fake.url + "/api/v9", http=http_stack())
        with pytest.raises(SourceError, match=r"answered HTTP 404 Not Found for .*/api/v9/studies$"):
            source.fetch(QUERY, full())
    assert len(fake.requests) == 1


def test_rate_limit_honours_retry_after(registry: Registry) -> None:
    """A 429 with Retry-After is retried after at least that long, then the fetch succeeds."""
    sleeps: list[float] = []
    policy = RetryPolicy(timeout=5, attempts=3, base_delay=0.001, max_delay=10, jitter=0)
    with FakeClinicalTrials(registry.studies) as fake:
        fake.fail_next.append(Response(429, "Too Many Requests", {"Retry-After": "2"}))
        result = client(fake, policy, sleeps).fetch(QUERY, full())
    assert sleeps == [2.0]
    assert len(result.items) == len(registry.records) and result.requests == 2


def test_timeouts_exhaust_retries_into_a_retryable_error(registry: Registry) -> None:
    """An API slower than the timeout on every attempt fails the query as retryable."""
    policy = RetryPolicy(timeout=0.2, attempts=2, base_delay=0.001, max_delay=0.01)
    with FakeClinicalTrials(registry.studies) as fake:
        fake.fail_next.extend([Response(200, "{}", delay=0.6), Response(200, "{}", delay=0.6)])
        with pytest.raises(SourceError, match="timed out") as caught:
            client(fake, policy).fetch(QUERY, full())
    assert caught.value.retryable is True
    assert len(fake.requests) == 2


def test_unreadable_page_is_an_error_not_an_empty_result(registry: Registry) -> None:
    """A 200 page that is not JSON fails the fetch instead of reading as 'nothing new'."""
    with FakeClinicalTrials(registry.studies) as fake:
        fake.fail_next.append(Response(200, "<html>maintenance</html>"))
        with pytest.raises(SourceError, match="unreadable page"):
            client(fake).fetch(QUERY, full())


def test_a_page_with_one_unreadable_study_keeps_the_others_and_warns() -> None:
    """Regression (issue 14, finding 5, for trials): a study that does not parse becomes a
    warning naming it; the fetch returns every other study."""
    good = {"protocolSection": {"identificationModule": {"nctId": "NCT01111111", "briefTitle": "Exosome serum"}}}
    bad = {"protocolSection": {"identificationModule": {"nctId": "NCT0x"}}}
    with FakeClinicalTrials([]) as fake:
        fake.fail_next.append(Response(200, json.dumps({"studies": [bad, good]}),
                                       {"Content-Type": "application/json"}))  # fmt: skip
        result = client(fake).fetch(QUERY, full())
    assert [item.id for item in result.items] == ["NCT01111111"]
    assert len(result.warnings) == 1 and "study NCT0x could not be read and was skipped" in result.warnings[0]


def test_search_is_newest_first_and_limited(registry: Registry) -> None:
    """Ad hoc search asks for the most recently updated studies and returns at most `limit`."""
    studies = synthetic_studies(12, updated="2024-01-01", templates=registry.studies)
    with FakeClinicalTrials(studies) as fake:
        fake.change("NCT90000005", updated="2025-02-01")
        fake.change("NCT90000009", updated="2025-03-01")
        found = client(fake).search("exosome alopecia", limit=3, since=date(2023, 1, 1))
    sent = fake.requests[0]
    assert sent.param("sort") == "LastUpdatePostDate:desc" and sent.param("pageSize") == "3"
    assert sent.param("query.term") == "exosome alopecia"
    assert sent.param("filter.advanced") == "AREA[LastUpdatePostDate]RANGE[2023-01-01,MAX]"
    assert [i.id for i in found][:2] == ["NCT90000009", "NCT90000005"] and len(found) == 3
    assert len(fake.requests) == 1
