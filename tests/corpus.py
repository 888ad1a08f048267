"""The records source tests run on: the project's own invented ones (tests/fixtures/) always,
the recorded real ones (../shared/fixtures) when present.

Each set names its records by the part tests give them ("a retracted publication", "a trial
with posted results"), so one test body runs on both; conftest.py's `corpus` fixture picks
the set. Facts only one record has (a sponsor's name, a count) belong in that set's own tests.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.fakes.eutils import ARTICLE, INTEGRITY, article_pmid, recorded_articles

OWN = Path(__file__).parent / "fixtures"
KINDS = ("own", "recorded")


@dataclass(frozen=True)
class PubMedCorpus:
    """PubMed `<PubmedArticle>` elements, and the few a test needs by their part."""

    kind: str
    articles: list[bytes]  # the plain records (no integrity link) come first
    retracted: bytes  # a Retracted Publication with RetractionIn
    erratum_notice: bytes  # a Published Erratum whose ErratumFor names ...
    erratum_target: str  # ... this PMID,
    corrected: bytes  # whose record carries ErratumIn
    rate_limit_body: bytes  # NCBI's HTTP 429 body

    @property
    def plain(self) -> bytes:
        """A record without integrity links."""
        return next(a for a in self.articles if not INTEGRITY.search(a))


@dataclass(frozen=True)
class Registry:
    """ClinicalTrials.gov API v2 study records, and the parts tests give them."""

    kind: str
    records: tuple[str, ...]  # JSON text of each study, so every test gets fresh dicts
    withdrawn: str  # NCT ID of a withdrawn study, stopped for a reason that is not safety
    ongoing: str  # a study not stopped, without results, whose status is ...
    ongoing_status: str  # ... this
    results: str  # a study with posted results and an adverse-event module, summing to ...
    results_counts: tuple[int, int, int, int]  # (at risk, serious, other, deaths)
    recruiting: str  # the only RECRUITING study, which enrols ...
    recruiting_enrollment: int  # ... this many
    feed: bytes  # an RSS 1.0 (RDF) preprint feed with one entry

    @property
    def studies(self) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.records]

    def study(self, nct: str) -> dict[str, Any]:
        return copy.deepcopy(next(s for s in self.studies if _nct(s) == nct))


def pubmed(kind: str) -> PubMedCorpus:
    """The PubMed set of `kind` ("own" or "recorded": skips, or fails under CI, when missing)."""
    return _own_pubmed() if kind == "own" else _recorded_pubmed()


def registry(kind: str) -> Registry:
    """The registry set of `kind` ("own" or "recorded")."""
    return _own_registry() if kind == "own" else _recorded_registry()


@cache
def _own_pubmed() -> PubMedCorpus:
    articles = recorded_articles(OWN) + ARTICLE.findall((OWN / "pubmed_medlinedate_handmade.xml").read_bytes())
    articles.sort(key=lambda a: bool(INTEGRITY.search(a)))  # stable: plain records first
    by_pmid = {article_pmid(a): a for a in articles}
    return PubMedCorpus(
        kind="own",
        articles=articles,
        retracted=by_pmid["90100003"],
        erratum_notice=by_pmid["90100005"],
        erratum_target="90100006",
        corrected=by_pmid["90100006"],
        rate_limit_body=(OWN / "eutils" / "rate_limit_429.json").read_bytes(),
    )


def _recorded_pubmed() -> PubMedCorpus:
    from tests.conftest import FIXTURES, fixture_bytes, fixture_path

    fixture_path("pubmed")  # skips without the recorded fixtures, fails under CI
    return _recorded_pubmed_from(FIXTURES, fixture_bytes("eutils", "ncbi_eutils_rate_limit_429_body.json"))


@cache
def _recorded_pubmed_from(fixtures: Path, rate_limit_body: bytes) -> PubMedCorpus:
    def first(name: str) -> bytes:
        return ARTICLE.findall((fixtures / "pubmed" / name).read_bytes())[0]

    return PubMedCorpus(
        kind="recorded",
        articles=recorded_articles(fixtures),
        retracted=first("ncbi_neilfws_efetch_993_retracted_publication.xml"),
        erratum_notice=first("pubmed_metapub_efetch_38833988.xml"),
        erratum_target="33279609",
        corrected=first("pubmed_metapub_efetch_35649368.xml"),
        rate_limit_body=rate_limit_body,
    )


@cache
def _own_registry() -> Registry:
    folder = OWN / "clinicaltrials"
    return Registry(
        kind="own",
        records=tuple(p.read_text(encoding="utf-8") for p in sorted(folder.glob("ctgov_v2_study_*.json"))),
        withdrawn="NCT09900001",
        ongoing="NCT09900004",
        ongoing_status="ACTIVE_NOT_RECRUITING",
        results="NCT09900002",
        results_counts=(120, 1, 8, 0),
        recruiting="NCT09900005",
        recruiting_enrollment=400,
        feed=(OWN / "feeds" / "rss1_preprints.rdf").read_bytes(),
    )


def _recorded_registry() -> Registry:
    from tests.conftest import fixture_bytes
    from tests.fakes.ctgov import RECORDED

    return Registry(
        kind="recorded",
        records=tuple(fixture_bytes("clinicaltrials", f"ctgov_v2_study_{n}.json").decode() for n in RECORDED),
        withdrawn="NCT00973089",
        ongoing="NCT04207047",
        ongoing_status="UNKNOWN",
        results="NCT05594173",
        results_counts=(18, 0, 1, 0),
        recruiting="NCT06171568",
        recruiting_enrollment=400,
        feed=fixture_bytes("feeds", "rss_biorxiv_subject_collection_rdf.xml"),
    )


# Slack Web API bodies by part: (own file in tests/fixtures/slack, recorded file in ../shared/fixtures/slack).
SLACK_BODIES = {
    "ratelimited": ("web_ratelimited_429.json", "slack_web_ratelimited_429_body.json"),
    "postMessage error": ("chat_postMessage_error.json", "slack_chat_postMessage_error_openapi_example.json"),
}


def slack_body(kind: str, part: str) -> bytes:
    """The Slack Web API body playing `part`, from the set of `kind`."""
    own, recorded = SLACK_BODIES[part]
    if kind == "own":
        return (OWN / "slack" / own).read_bytes()
    from tests.conftest import fixture_bytes

    return fixture_bytes("slack", recorded)


def _nct(study: dict[str, Any]) -> str:
    return str(study["protocolSection"]["identificationModule"]["nctId"])
