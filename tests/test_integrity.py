"""Integrity in tiers: retractions, partial retractions and concerns alert; errata only annotate."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import corrections
from bot.classify import classify
from bot.config import Settings, load_settings
from bot.diff import corrected_only, fingerprint
from bot.models import Classification, Correction, FetchResult, Item
from bot.pipeline import run_query
from bot.sources.pubmed_xml import CORRECTION_TYPES, parse_efetch
from bot.store import Store
from tests.conftest import fixture_path
from tests.factories import context, pubmed_item, write_config
from tests.test_pipeline import ScriptedSource, label


def item(*links: str, types: tuple[str, ...] = (), title: str = "A study of scalp injections") -> Item:
    return Item(source="pubmed", id="1", title=title, publication_types=types,
                corrections=tuple(Correction(t, "2") for t in links))


@pytest.mark.parametrize("link", ["RetractionIn", "PartialRetractionIn", "ExpressionOfConcernIn"])
def test_retraction_partial_retraction_and_concern_are_integrity(link: str) -> None:
    """Issue 10: a retraction, a partial retraction or an expression of concern is the integrity tier."""
    c = classify(item(link))
    assert (c.integrity, c.corrected) == (True, False)
    assert any(link in r for r in c.reasons)


@pytest.mark.parametrize("link", ["ErratumIn", "CorrectedandRepublishedIn"])
def test_erratum_alone_is_corrected_not_integrity(link: str) -> None:
    """Issue 10: an erratum or a correction alone is the corrected tier, never integrity."""
    c = classify(item(link))
    assert (c.integrity, c.corrected) == (False, True)


def test_withdrawn_title_is_integrity() -> None:
    """An untagged 'WITHDRAWN:' title (a withdrawn review) is the integrity tier."""
    assert classify(item(title="WITHDRAWN: Exosomes for alopecia")).integrity


def test_one_vocabulary_serves_parser_diff_and_watch() -> None:
    """The parser keeps every link the classifier tiers and the diff watches."""
    assert corrections.INTEGRITY_LINKS | corrections.CORRECTED_LINKS <= CORRECTION_TYPES
    assert corrections.INTEGRITY_LINKS | corrections.CORRECTED_LINKS <= corrections.WATCHED_LINKS
    assert "PartialRetractionIn" in corrections.WATCHED_LINKS


def test_partial_retraction_changes_the_fingerprint() -> None:
    """A partial retraction arriving for a stored record makes it changed."""
    assert fingerprint(item()) != fingerprint(item("PartialRetractionIn"))


def test_erratum_is_a_corrected_only_change_and_a_retraction_is_not() -> None:
    """Gaining an erratum is a corrected-only change; gaining a partial retraction is not."""
    old = item().to_dict()
    assert corrected_only(old, item("ErratumIn"))
    assert not corrected_only(old, item("PartialRetractionIn"))
    assert not corrected_only(old, item("ErratumIn", "ExpressionOfConcernIn"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path))


def tiered(i: Item) -> Classification:
    """The real integrity tiers on top of the pipeline tests' labels."""
    c = classify(i)
    base = label(i)
    return Classification(kind=base.kind, safety=base.safety, integrity=c.integrity,
                          corrected=c.corrected, reasons=c.reasons)


def two_runs(settings: Settings, second: Item) -> list[tuple[str, str]]:
    store = Store.memory()
    source = ScriptedSource([FetchResult(items=[pubmed_item(1)]), FetchResult(items=[second])])
    query = settings.query("pm")
    assert query is not None
    ctx = context(settings, store, {"pubmed": source}, classify=tiered)
    run_query(query, ctx)
    for note in store.pending():  # the baseline summary
        store.mark_delivered(note.id)
    run_query(query, ctx)
    return [(n.kind, n.route) for n in store.pending()]


def test_partial_retraction_of_a_stored_record_alerts_the_safety_channel(settings: Settings) -> None:
    """Issue 10: a partial retraction arriving for a stored record alerts like a retraction."""
    changed = pubmed_item(1, corrections=(Correction("PartialRetractionIn", "39999998"),))
    assert two_runs(settings, changed) == [("integrity", "slack:C999")]


def test_erratum_for_a_stored_record_is_stored_but_not_alerted(settings: Settings) -> None:
    """Issue 10: an erratum arriving for a stored record updates it and sends no alert."""
    changed = pubmed_item(1, corrections=(Correction("ErratumIn", "39999997"),))
    assert two_runs(settings, changed) == []


# --- real recorded records -----------------------------------------------------------------


def recorded(*parts: str) -> Item:
    (first, *_) = parse_efetch(fixture_path(*parts).read_bytes())
    return first


def test_recorded_retracted_publication_is_integrity() -> None:
    """A real retracted record (PT Retracted Publication, RetractionIn) is the integrity tier."""
    c = classify(recorded("pubmed", "ncbi_neilfws_efetch_993_retracted_publication.xml"))
    assert (c.integrity, c.corrected) == (True, False)


def test_recorded_record_with_an_erratum_is_corrected_only() -> None:
    """A real record whose only link is ErratumIn is corrected, not integrity."""
    c = classify(recorded("pubmed", "pubmed_metapub_efetch_35649368.xml"))
    assert (c.integrity, c.corrected) == (False, True)
