"""Trials and feeds through the pipeline: field-level trial changes, NCT links, DOI dedupe."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.classify import classify
from bot.config import SavedQuery, Settings, load_settings
from bot.links import link_items
from bot.models import Classification, FetchResult, Item, Window
from bot.pipeline import RunReport, run_query
from bot.retry import RetryPolicy
from bot.sources.clinicaltrials import ClinicalTrialsSource
from bot.sources.feeds import FeedSource
from bot.sources.http import Http
from bot.store import Store
from tests.corpus import Registry
from tests.factories import MINIMAL_CONFIG, context, pubmed_item, write_config
from tests.fakes.ctgov import FakeClinicalTrials
from tests.fakes.feeds import FakeFeeds

CONFIG = MINIMAL_CONFIG + """
[[queries]]
name = "journal"
source = "feed"
url = "https://journal.example/rss.xml"
"""
RSS = """<?xml version="1.0"?>
<rss version="2.0" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/"><channel>
<title>Journal of Hair Research</title>
<item><title>Exosomes for alopecia: a randomised trial</title>
<link>https://journal.example/article/77</link><guid>https://journal.example/article/77</guid>
<prism:doi>10.1000/test.7</prism:doi><pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate></item>
</channel></rss>"""


class Scripted:
    """A PubMed stand-in returning scripted items (the PubMed client is tested elsewhere)."""

    overlap = timedelta(days=7)

    def __init__(self, *batches: list[Item]):
        self.batches = list(batches)

    def fetch(self, query: SavedQuery, window: Window) -> FetchResult:
        return FetchResult(items=self.batches.pop(0))

    def search(self, terms: str, *, limit: int = 10, since: date | None = None) -> list[Item]:
        return []


def label(item: Item) -> Classification:
    return Classification(kind="clinical", reasons=("test rule",))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path, CONFIG))


@pytest.fixture
def ctgov(registry: Registry) -> Any:
    with FakeClinicalTrials(registry.studies) as fake:
        yield fake


def run(settings: Settings, store: Store, name: str, sources: dict[str, Any],
        day: str, monkeypatch: pytest.MonkeyPatch, *,
        classify: Callable[[Item], Classification] = label, **changes: str) -> RunReport:  # fmt: skip
    monkeypatch.setenv("LITWATCH_NOW", f"{day}T06:00:00+00:00")
    query = settings.query(name)
    assert query is not None
    query = dataclasses.replace(query, **changes)
    return run_query(query, context(settings, store, sources, classify=classify, link=link_items))


def deliver_all(store: Store) -> None:
    for note in store.pending():
        store.mark_delivered(note.id)


def trials(fake: FakeClinicalTrials) -> dict[str, Any]:
    policy = RetryPolicy.fast()
    source = ClinicalTrialsSource(fake.url, http=Http(policy=policy))
    return {"clinicaltrials": source}


def change_between_runs(settings: Settings, ctgov: FakeClinicalTrials,
                        monkeypatch: pytest.MonkeyPatch, nct: str,
                        **edit: Any) -> tuple[Store, RunReport]:  # fmt: skip
    """Baseline on March 1st, the registry edits `nct` on the 2nd, the query runs on the 3rd."""
    store = Store.memory()
    assert run(settings, store, "ct", trials(ctgov), "2025-03-01", monkeypatch).baseline
    deliver_all(store)
    ctgov.change(nct, updated="2025-03-02", **edit)
    return store, run(settings, store, "ct", trials(ctgov), "2025-03-03", monkeypatch)


def test_status_change_to_terminated_is_a_field_level_change(
    settings: Settings, ctgov: FakeClinicalTrials, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TERMINATED with a why-stopped text alerts once, worded field by field."""
    store, report = change_between_runs(settings, ctgov, monkeypatch, registry.ongoing,
                                        status="TERMINATED", why_stopped="safety concerns")
    assert (report.new, report.changed, report.fetched) == (0, 1, 1)
    window = ctgov.requests[-1].param("filter.advanced")
    assert window == "AREA[LastUpdatePostDate]RANGE[2025-02-28,MAX]"
    stored = store.get(f"nct:{registry.ongoing}")
    assert stored is not None
    assert stored["changes"] == [f"Status {registry.ongoing_status} -> TERMINATED",
                                  "why stopped: 'safety concerns'"]
    assert [(n.kind, list(n.uids)) for n in store.pending()] == [("items", [f"nct:{registry.ongoing}"])]


def test_results_posted_alert(
    settings: Settings, ctgov: FakeClinicalTrials, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results posted on the registry for a tracked trial is an alert saying so."""
    store, report = change_between_runs(settings, ctgov, monkeypatch, registry.recruiting,
                                        has_results=True, enrollment=380)
    assert report.changed == 1
    stored = store.get(f"nct:{registry.recruiting}")
    assert stored is not None
    assert stored["changes"] == ["results posted", f"enrollment {registry.recruiting_enrollment} -> 380"]
    assert [(n.kind, list(n.uids)) for n in store.pending()] == [("items", [f"nct:{registry.recruiting}"])]


def results_posted(settings: Settings, ctgov: FakeClinicalTrials, nct: str, monkeypatch: pytest.MonkeyPatch,
                   **counts: int) -> Store:
    """Baseline, then `nct` posts results with one arm of 3 and these AE counts; the
    second run uses the real classifier."""
    store = Store.memory()
    assert run(settings, store, "ct", trials(ctgov), "2025-03-01", monkeypatch).baseline
    deliver_all(store)
    group = {"id": "EG000", "seriousNumAtRisk": 3, "otherNumAtRisk": 3, "deathsNumAtRisk": 3,
             "seriousNumAffected": 0, "otherNumAffected": 0, "deathsNumAffected": 0, **counts}
    ctgov.change(nct, updated="2025-03-02", has_results=True, event_groups=[group])
    run(settings, store, "ct", trials(ctgov), "2025-03-03", monkeypatch, classify=classify)
    return store


def test_results_posted_with_harm_go_to_the_safety_channel(
    settings: Settings, ctgov: FakeClinicalTrials, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posted results where a participant had a serious adverse event raise a safety alert."""
    store = results_posted(settings, ctgov, registry.ongoing, monkeypatch, seriousNumAffected=1)
    assert [(n.kind, list(n.uids)) for n in store.pending()] == [("safety", [f"nct:{registry.ongoing}"])]
    stored = store.get(f"nct:{registry.ongoing}")
    assert stored is not None and stored["changes"] == ["results posted"]
    assert ("registry results: of 3 participants, 1 had serious adverse events, 0 had other "
            "adverse events, 0 died (all causes)") in stored["classification"]["reasons"]


def test_results_posted_without_harm_are_an_ordinary_alert(
    settings: Settings, ctgov: FakeClinicalTrials, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posted results where nobody had an adverse event are a 'results posted' alert, not safety."""
    store = results_posted(settings, ctgov, registry.ongoing, monkeypatch)
    assert [(n.kind, list(n.uids)) for n in store.pending()] == [("items", [f"nct:{registry.ongoing}"])]
    stored = store.get(f"nct:{registry.ongoing}")
    assert stored is not None and stored["changes"] == ["results posted"]
    assert stored["classification"]["safety"] is False


def test_update_date_alone_is_not_an_alert(
    settings: Settings, ctgov: FakeClinicalTrials, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A study whose only change is its update date is fetched but neither changed nor alerted."""
    store, report = change_between_runs(settings, ctgov, monkeypatch, registry.withdrawn)
    assert (report.fetched, report.new, report.changed) == (1, 0, 0)
    assert store.pending() == []


def test_failed_trials_fetch_keeps_the_watermark(
    settings: Settings, ctgov: FakeClinicalTrials, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 from the registry fails the run, names the query, and the watermark stays."""
    from tests.fakes.http import Response

    store = Store.memory()
    run(settings, store, "ct", trials(ctgov), "2025-03-01", monkeypatch)
    ctgov.fail_next.append(Response(400, "`query.foo` is unknown parameter",
                                    {"Content-Type": "text/plain"}))  # fmt: skip
    report = run(settings, store, "ct", trials(ctgov), "2025-03-05", monkeypatch)
    assert report.failed and report.error == "ClinicalTrials.gov answered HTTP 400 Bad Request: it rejected the query"
    assert store.query_state("ct").watermark == date(2025, 3, 1)


def test_publication_of_tracked_trial(
    settings: Settings, ctgov: FakeClinicalTrials, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PubMed record naming a tracked NCT ID is linked both ways and its alert says so."""
    store = Store.memory()
    run(settings, store, "ct", trials(ctgov), "2025-03-01", monkeypatch)
    pubmed = Scripted([pubmed_item(1)], [pubmed_item(2, trial_ids=(registry.ongoing,))])
    run(settings, store, "pm", {"pubmed": pubmed}, "2025-03-01", monkeypatch)
    deliver_all(store)
    report = run(settings, store, "pm", {"pubmed": pubmed}, "2025-03-02", monkeypatch)
    assert report.new == 1
    paper, trial = store.get("pmid:30000002"), store.get(f"nct:{registry.ongoing}")
    assert paper is not None and trial is not None
    assert paper["links"] == [f"nct:{registry.ongoing}"]
    assert f"publication of tracked trial {registry.ongoing}" in paper["classification"]["reasons"]
    assert trial["links"] == ["pmid:30000002"]
    assert [(n.kind, list(n.uids)) for n in store.pending()] == [("items", ["pmid:30000002"])]

    # The trial's next change keeps the link the publication added.
    ctgov.change(registry.ongoing, updated="2025-03-04", status="COMPLETED")
    run(settings, store, "ct", trials(ctgov), "2025-03-05", monkeypatch)
    trial = store.get(f"nct:{registry.ongoing}")
    assert trial is not None and trial["links"] == ["pmid:30000002"]
    assert trial["trial"]["status"] == "COMPLETED"


def test_doi_dedupe_across_sources(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PubMed record with a stored feed entry's DOI becomes one item with both links, no alert."""
    store = Store.memory()
    feeds = {"feed": FeedSource(http=Http(policy=RetryPolicy.fast()))}
    with FakeFeeds() as host:
        host.publish("/rss.xml", RSS.encode())
        url = host.url + "/rss.xml"
        run(settings, store, "journal", feeds, "2025-03-01", monkeypatch, url=url)
    entry_uid = "feed:https://journal.example/article/77"
    pubmed = Scripted([pubmed_item(1)], [pubmed_item(7), pubmed_item(8)])
    run(settings, store, "pm", {"pubmed": pubmed}, "2025-03-01", monkeypatch)
    deliver_all(store)
    report = run(settings, store, "pm", {"pubmed": pubmed}, "2025-03-02", monkeypatch)
    assert report.new == 1
    assert store.get("pmid:30000007") is None
    entry = store.get(entry_uid)
    assert entry is not None
    assert entry["alt_urls"] == ["https://pubmed.ncbi.nlm.nih.gov/30000007/"]
    assert entry["links"] == ["pmid:30000007"]
    assert [(n.kind, list(n.uids)) for n in store.pending()] == [("items", ["pmid:30000008"])]


def test_unchanged_feed_run_is_not_modified_and_keeps_validators(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 304 run stores nothing, alerts nothing, and the next run still sends the ETag."""
    store = Store.memory()
    feeds = {"feed": FeedSource(http=Http(policy=RetryPolicy.fast()))}
    with FakeFeeds() as host:
        host.publish("/rss.xml", RSS.encode())
        url = host.url + "/rss.xml"
        run(settings, store, "journal", feeds, "2025-03-01", monkeypatch, url=url)
        deliver_all(store)
        second = run(settings, store, "journal", feeds, "2025-03-02", monkeypatch, url=url)
        run(settings, store, "journal", feeds, "2025-03-03", monkeypatch, url=url)
    assert second.not_modified and second.new == 0 and store.pending() == []
    etag = store.query_state("journal").validators["etag"]
    assert [r.headers.get("if-none-match") for r in host.requests] == [None, etag, etag]


def test_feed_that_empties_keeps_warning_through_the_pipeline(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a feed empties, later runs skip the stored ETag, so they re-check and warn again."""
    store = Store.memory()
    feeds = {"feed": FeedSource(http=Http(policy=RetryPolicy.fast()))}
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    with FakeFeeds() as host:
        host.publish("/rss.xml", RSS.encode())
        url = host.url + "/rss.xml"
        run(settings, store, "journal", feeds, "2025-03-01", monkeypatch, url=url)
        host.publish("/rss.xml", empty)
        first = run(settings, store, "journal", feeds, "2025-03-02", monkeypatch, url=url)
        second = run(settings, store, "journal", feeds, "2025-03-03", monkeypatch, url=url)
    assert "parsed to no entries after having had 1" in first.warnings[0]
    assert second.warnings == first.warnings and not second.not_modified
    assert "if-none-match" not in host.requests[2].headers
