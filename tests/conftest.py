"""Shared test set-up: no test touches the network, the user's data dir or real secrets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import stamina

from tests import corpus as corpora
from tests.fakes.slack import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("LITWATCH_FIXTURES") or ROOT.parent / "shared" / "fixtures")
LOCAL_FIXTURES = Path(__file__).parent / "fixtures"

_ENV = (
    "LITWATCH_CONFIG", "LITWATCH_NOW", "NCBI_EUTILS_URL", "CTGOV_API_URL", "SLACK_API_URL",
    "NCBI_API_KEY", "NCBI_EMAIL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET",
    "LITWATCH_FETCH_DEADLINE", "LITWATCH_MAX_FETCH_MB",
)  # fmt: skip
# Every retry keeps its attempt count but waits no time: the one switch for all sources.
RETRY_ATTEMPTS_IN_TESTS = 10


def fixture_path(*parts: str) -> Path:
    """A recorded third-party response, read in place. Missing: skip, or fail under CI."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        reason = f"recorded fixture {path} not found (set LITWATCH_FIXTURES to ../shared/fixtures)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def fixture_bytes(*parts: str) -> bytes:
    return fixture_path(*parts).read_bytes()


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=RETRY_ATTEMPTS_IN_TESTS, cap=True):
        yield


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LITWATCH_DATA", str(tmp_path / "data"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1 (port 0) for one test; see tests/fakes/slack.py."""
    with FakeSlack() as server:
        yield server


@pytest.fixture(params=corpora.KINDS)
def corpus(request: pytest.FixtureRequest) -> str:
    """Which records a source test runs on: the project's own (always), the recorded ones (when present)."""
    return str(request.param)


@pytest.fixture
def pubmed_corpus(corpus: str) -> corpora.PubMedCorpus:
    return corpora.pubmed(corpus)


@pytest.fixture
def registry(corpus: str) -> corpora.Registry:
    return corpora.registry(corpus)
