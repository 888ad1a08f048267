"""`litwatch reclassify` and the labeller each label names: stored records labelled again after
a new model or new [classify] settings, with no alert sent."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.classify import Classifier
from bot.cli import main
from bot.config import ClassifySettings, Environment, load_settings
from bot.models import Classification
from bot.store import Store
from tests.factories import MINIMAL_CONFIG, pubmed_item, write_config

HARM = "RESULTS: Two patients developed granulomas after injection of an exosome product."
BENIGN = "We describe the manufacture of exosome serums and their storage at four degrees."


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three papers labelled by an older classifier: a harm it missed, a benign record it flagged,
    and one it labelled as the current one would, but under another name."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, MINIMAL_CONFIG)))
    data = Environment.from_env().data_dir
    missed = pubmed_item(1, title="Outcomes after scalp injections", abstract=HARM)
    missed.classification = Classification("case_report", labeller="litwatch 0.0.9, an old model")
    flagged = pubmed_item(2, title="Exosome serum manufacture", abstract=BENIGN)
    flagged.classification = Classification("other", safety=True, safety_score=0.9)  # labeller unknown
    same = pubmed_item(3, title="Exosome serum manufacture", abstract=BENIGN)
    same.classification = Classification("other", labeller="litwatch 0.0.9, an old model")
    with Store.open(data) as store:
        store.commit("pm", store.diff([missed, flagged, same], "pm"), now=datetime(2026, 10, 5, tzinfo=UTC))
    return data


def current(tmp_path: Path) -> Classifier:
    return Classifier(load_settings(tmp_path / "litwatch.toml").classify)


def stored(store_dir: Path) -> dict[str, dict[str, object]]:
    with Store.open(store_dir, readonly=True) as store:
        return {doc["uid"]: doc for doc in store.items()}


def test_every_label_names_its_classifier() -> None:
    """The labeller changes with the thresholds and the topic terms, and labels carry it."""
    base = Classifier(ClassifySettings())
    assert base.classify(pubmed_item(1)).labeller == base.identity
    assert base.identity.startswith("litwatch ") and "thresholds 0.400/0.240" in base.identity
    assert Classifier(ClassifySettings(safety_threshold=0.6)).identity != base.identity
    assert Classifier(ClassifySettings(safety_terms=("hair shedding",))).identity != base.identity
    assert Classifier(ClassifySettings()).identity == base.identity  # the same settings, the same name


def test_status_counts_labels_of_another_classifier(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["status"])
    assert ("labels: 0 record(s) labelled by the current classifier, 3 by another "
            "(`litwatch reclassify` labels them again)") in capsys.readouterr().out


def test_reclassify_relabels_lists_the_flips_and_sends_nothing(
        store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    before = stored(store_dir)
    assert main(["reclassify"]) == 0
    out = capsys.readouterr().out
    identity = current(tmp_path).identity
    assert f"relabelled 3 of 3 stored item(s) with {identity}" in out
    assert "safety signals 1 -> 1 (1 new, 1 no longer)" in out
    now_flagged, dropped = out.split("now safety signals")[1].split("no longer safety signals:")
    assert "pmid:30000001" in now_flagged and "pmid:30000002" in dropped
    after = stored(store_dir)
    assert {uid: doc["classification"]["labeller"] for uid, doc in after.items()} == dict.fromkeys(after, identity)
    assert after["pmid:30000001"]["classification"]["safety"] is True
    assert after["pmid:30000002"]["classification"]["safety"] is False
    for uid, doc in after.items():  # relabelling is no change to the record: no digest, no alert
        assert (doc["seq"], doc["last_changed"]) == (before[uid]["seq"], before[uid]["last_changed"])
    with Store.open(store_dir, readonly=True) as store:
        assert store.pending() == []
    assert main(["reclassify"]) == 0
    assert "relabelled 0 of 3 stored item(s)" in capsys.readouterr().out
    main(["status"])
    assert "labels: 3 record(s) labelled by the current classifier\n" in capsys.readouterr().out


def test_a_dry_run_writes_nothing_and_reads_beside_a_daemon(
        store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    before = stored(store_dir)
    with Store.open(store_dir):  # a running daemon holds the store
        assert main(["reclassify", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "relabelled 3 of 3" in out and "dry run: nothing was written" in out
        assert main(["reclassify"]) == 1
        err = capsys.readouterr().err
        assert "is in use by another litwatch process" in err and "Traceback" not in err
    assert stored(store_dir) == before


def test_a_new_threshold_makes_labels_stale_and_all_relabels_everything(
        store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["reclassify"]) == 0
    capsys.readouterr()
    assert main(["reclassify", "--all"]) == 0
    assert "relabelled 3 of 3" in capsys.readouterr().out  # labelled by it, and labelled again
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, MINIMAL_CONFIG + """
[classify]
safety_threshold = 0.99
""")))
    assert main(["reclassify"]) == 0
    out = capsys.readouterr().out
    assert "relabelled 3 of 3" in out and "thresholds 0.990/" in out
    assert "safety signals 1 -> 0 (0 new, 1 no longer)" in out


def test_reclassify_without_a_store_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, MINIMAL_CONFIG)))
    assert main(["reclassify"]) == 0
    assert "no store yet" in capsys.readouterr().out


def test_exports_name_the_labeller(store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON and CSV carry `labeller`: which classifier gave the labels a reviewer reads."""
    assert main(["reclassify"]) == 0
    capsys.readouterr()
    identity = current(tmp_path).identity
    assert main(["export", "--format", "json"]) == 0
    assert {r["labeller"] for r in json.loads(capsys.readouterr().out)} == {identity}
    assert main(["export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 3 and {r["labeller"] for r in rows} == {identity}
