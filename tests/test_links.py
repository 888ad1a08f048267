"""Cross-source linking, pure: trial <-> publication links and same-DOI merges."""

from __future__ import annotations

from typing import Any

from bot.links import link, named_uids
from bot.models import Classification, Item
from tests.factories import pubmed_item, trial_item


class Lookup:
    """Stored items as the store hands them out: uid -> dict, doi -> uid."""

    def __init__(self, *items: Item, **extra: dict[str, Any]):
        self.docs = {i.uid: {**i.to_dict(), "uid": i.uid} for i in items}
        for uid, fields in extra.items():
            self.docs[uid].update(fields)

    def get(self, uid: str) -> dict[str, Any] | None:
        return self.docs.get(uid)

    def uid_for_doi(self, doi: str) -> str | None:
        return next((u for u, d in self.docs.items() if d.get("doi", "").lower() == doi.lower()), None)


def feed_item(n: int, doi: str) -> Item:
    return Item(source="feed", id=f"https://journal.example/rss/{n}", title=f"Entry {n}",
                url=f"https://journal.example/article/{n}", doi=doi)  # fmt: skip


def test_named_trials_from_databank_and_abstract() -> None:
    """Named trials come from the DataBank list and the abstract, each once, registry ids only."""
    item = pubmed_item(1, trial_ids=("NCT01234567", "ISRCTN12345678"),
                       abstract="Registered as NCT01234567 and NCT07654321.")  # fmt: skip
    assert named_uids(item) == ["nct:NCT01234567", "nct:NCT07654321"]


def test_publication_of_tracked_trial_links_both_ways() -> None:
    """A new PubMed record naming a stored trial links to it, says so, and the trial lists it."""
    trial = trial_item("NCT01234567")
    paper = pubmed_item(1, trial_ids=("NCT01234567",))
    paper.classification = Classification(kind="clinical", reasons=("publication type RCT",))
    result = link([paper], Lookup(trial))
    assert paper.links == ("nct:NCT01234567",)
    assert paper.classification is not None
    assert paper.classification.reasons == (
        "publication type RCT", "publication of tracked trial NCT01234567",
    )
    assert result.updates == {"nct:NCT01234567": {"links": ["pmid:30000001"]}}
    assert result.merged == {}


def test_untracked_trial_is_not_linked() -> None:
    """An NCT ID the store does not hold adds no link and no reason."""
    paper = pubmed_item(1, abstract="See NCT09999999.")
    result = link([paper], Lookup())
    assert paper.links == () and paper.classification is None and result.updates == {}


def test_trial_listing_a_stored_pmid_updates_the_publication() -> None:
    """A trial whose record lists a result PMID that is stored gets linked from that PMID."""
    paper = pubmed_item(1)
    trial = trial_item("NCT01234567")
    trial.links = ("pmid:30000001", "pmid:11111111")
    result = link([trial], Lookup(paper))
    assert result.updates == {"pmid:30000001": {"links": ["nct:NCT01234567"]}}


def test_new_trial_finds_earlier_publications() -> None:
    """A trial tracked after its publication gets the publication's uid, and vice versa."""
    paper = pubmed_item(1, trial_ids=("NCT01234567",))
    trial = trial_item("NCT01234567")
    asked: list[set[str]] = []

    def naming(uids: set[str]) -> dict[str, list[str]]:
        asked.append(uids)
        return {"nct:NCT01234567": ["pmid:30000001"]}

    result = link([trial], Lookup(paper), naming=naming)
    assert asked == [{"nct:NCT01234567"}]
    assert trial.links == ("pmid:30000001",)
    assert result.updates == {"pmid:30000001": {"links": ["nct:NCT01234567"]}}


def test_changed_item_keeps_links_from_earlier_runs() -> None:
    """A refetched trial (status change) keeps the links earlier runs stored on it."""
    stored = trial_item("NCT01234567")
    refetched = trial_item("NCT01234567", status="TERMINATED")
    lookup = Lookup(stored, **{"nct:NCT01234567": {"links": ["pmid:30000001"],
                                                   "alt_urls": ["https://x.org"]}})  # fmt: skip
    link([refetched], lookup)
    assert refetched.links == ("pmid:30000001",) and refetched.alt_urls == ("https://x.org",)


def test_same_doi_from_another_source_is_merged() -> None:
    """A new PubMed record with a stored feed entry's DOI joins it: no new item, both URLs."""
    entry = feed_item(1, "10.1000/ABC.1")
    paper = pubmed_item(1, doi="10.1000/abc.1")
    result = link([paper], Lookup(entry))
    assert result.merged == {"pmid:30000001": entry.uid}
    assert result.updates == {entry.uid: {
        "alt_urls": ["https://pubmed.ncbi.nlm.nih.gov/30000001/"], "links": ["pmid:30000001"],
    }}  # fmt: skip


def test_same_doi_same_source_is_not_merged() -> None:
    """Two PubMed records sharing a DOI stay two items (an erratum must not be swallowed)."""
    result = link([pubmed_item(2, doi="10.1000/x")], Lookup(pubmed_item(1, doi="10.1000/x")))
    assert result.merged == {} and result.updates == {}


def test_merge_is_idempotent() -> None:
    """Merging the same newcomer again (next run's overlap) changes nothing stored."""
    entry = feed_item(1, "10.1000/abc.1")
    lookup = Lookup(entry, **{entry.uid: {"links": ["pmid:30000001"],
                                          "alt_urls": ["https://pubmed.ncbi.nlm.nih.gov/30000001/"]}})  # fmt: skip
    result = link([pubmed_item(1, doi="10.1000/abc.1")], lookup)
    assert result.merged == {"pmid:30000001": entry.uid} and result.updates == {}
