"""`/litwatch search` end to end against the fake E-utilities serving the project's own records and,
when present, the real recorded ones (tests/corpus.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from bot.ratelimit import RateLimiter
from bot.retry import RetryPolicy
from bot.sources.pubmed import PubMedSource
from tests.corpus import PubMedCorpus
from tests.daemon_kit import Rig, ScriptedSource, daemon_rig
from tests.fakes.eutils import FakeEutils, FakeRecord, article_pmid
from tests.fakes.slack import slack_problems


@contextmanager
def pubmed_rig(tmp_path: Path, corpus: PubMedCorpus) -> Iterator[tuple[Rig, FakeEutils]]:
    with FakeEutils() as eutils:
        eutils.add(FakeRecord(article_pmid(xml), xml, date(2024, 1, 1)) for xml in corpus.articles[:30])
        pubmed = PubMedSource(eutils.url, email="team@example.org", policy=RetryPolicy.fast(),
                              limiter=RateLimiter(1000))  # fmt: skip
        sources = {"pubmed": pubmed, "clinicaltrials": ScriptedSource()}
        with daemon_rig(tmp_path, sources=sources) as rig:
            yield rig, eutils


def reply_for(rig: Rig, text: str) -> dict:
    envelope = rig.command(text)
    ack = rig.socket.wait_ack(envelope)
    assert ack is not None and ack.payload is not None
    replies = rig.slack.wait_responses(1)
    assert replies, f"no reply for {text!r}"
    return replies[-1].payload


def test_search_returns_records_linked_to_pubmed(tmp_path: Path, pubmed_corpus: PubMedCorpus) -> None:
    """The reply lists the fake's records, at most 10, each linked to its PubMed page."""
    with pubmed_rig(tmp_path, pubmed_corpus) as (rig, eutils):
        payload = reply_for(rig, "search exosome source:pubmed")
        tools = [r.path.rsplit("/", 1)[-1] for r in eutils.requests]
    assert slack_problems(payload) == []
    text = str(payload["blocks"])
    links = text.count("<https://pubmed.ncbi.nlm.nih.gov/")
    assert payload["text"].startswith("*10* results for")
    assert links >= 10
    assert tools == ["esearch.fcgi", "efetch.fcgi"]


def test_search_phrase_not_found_is_a_readable_reply(tmp_path: Path, pubmed_corpus: PubMedCorpus) -> None:
    """A term PubMed cannot find at all comes back as a sentence naming the problem."""
    with pubmed_rig(tmp_path, pubmed_corpus) as (rig, eutils):
        eutils.not_found = {"fleegle"}
        for record in eutils.records.values():
            record.matches = False  # as at NCBI: an unknown phrase alone finds nothing
        payload = reply_for(rig, "search fleegle source:pubmed")
    text = str(payload["blocks"])
    assert "PubMed could not read the search" in text and "fleegle" in text


def test_search_upstream_outage_is_a_readable_reply(tmp_path: Path, pubmed_corpus: PubMedCorpus) -> None:
    """E-utilities answering 500 on every attempt yields 'not answering', not a stack trace."""
    with pubmed_rig(tmp_path, pubmed_corpus) as (rig, eutils):
        eutils.fail(500, times=20)
        payload = reply_for(rig, "search exosome source:pubmed")
    assert "PubMed is not answering right now" in str(payload["blocks"])
