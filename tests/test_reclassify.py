"""`litwatch reclassify` and the labeller each label names: stored records labelled again after
a new model or new [classify] settings, with no alert sent."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import classify as classify_module
from bot.classify import Classifier
from bot.cli import main
from bot.config import ClassifySettings, Environment, load_settings
from bot.decisions import Reviewer, SafetyFeedback
from bot.models import Classification
from bot.store import Store
from tests.factories import MINIMAL_CONFIG, notification, pubmed_item, retracted, write_config

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
    shipped = base.model.thresholds if base.model else None
    assert shipped is not None and base.identity.startswith("litwatch ")
    assert f"thresholds {shipped.safety:.3f}/{shipped.review:.3f}" in base.identity
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
    now_flagged, dropped = out.split("now safety signals (1)")[1].split("no longer safety signals (1):")
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


def add_stored(store_dir: Path, *items: object) -> None:
    with Store.open(store_dir) as store:
        store.commit("pm", store.diff(items, "pm"), now=datetime(2026, 10, 6, tzinfo=UTC))  # type: ignore[arg-type]


def test_records_the_team_judged_keep_their_labels(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Confirm / Not a safety signal judged the evidence the alert quoted: `labels export`
    trains on it, so relabelling must not swap it for another quote."""
    with Store.open(store_dir) as store:
        store.record_safety_feedback(SafetyFeedback("pmid:30000002", False, Reviewer("U0ALICE01", "alice"),
                                                    datetime(2026, 11, 1, tzinfo=UTC)))
    before = stored(store_dir)["pmid:30000002"]["classification"]
    assert main(["reclassify", "--all"]) == 0
    out = capsys.readouterr().out
    assert "relabelled 2 of 3" in out and "1 the team gave safety feedback on, kept as judged" in out
    assert stored(store_dir)["pmid:30000002"]["classification"] == before
    main(["status"])
    assert "labels: 2 record(s) labelled by the current classifier, 1 kept as the team judged them" in \
        capsys.readouterr().out


def test_records_in_undelivered_notifications_keep_their_labels(
        store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A pending alert is rendered from the store when delivered: it must show what it was queued with."""
    with Store.open(store_dir) as store:
        store.commit("pm", outbox=[notification("safety", "slack:C999", uids=["pmid:30000002"])])
    assert main(["reclassify"]) == 0
    assert "1 in notifications not yet delivered (run again after delivery)" in capsys.readouterr().out
    assert stored(store_dir)["pmid:30000002"]["classification"]["safety"] is True


def test_reasons_the_linker_added_stay(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'publication of tracked trial NCT…' comes from the linker, not the classifier: relabelling keeps it."""
    paper = pubmed_item(4, title="Exosome serum manufacture", abstract=BENIGN, links=("nct:NCT01234567",))
    paper.classification = Classification("other", reasons=("publication of tracked trial NCT01234567",))
    add_stored(store_dir, paper)
    assert main(["reclassify"]) == 0
    reasons = stored(store_dir)["pmid:30000004"]["classification"]["reasons"]
    assert reasons[-1] == "publication of tracked trial NCT01234567" and len(reasons) > 1


def test_integrity_flips_are_listed_too(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A record newly read as retracted is an alert-worthy flag: listed by uid, like safety."""
    paper = retracted(pubmed_item(5, title="Exosome serum manufacture", abstract=BENIGN))
    paper.classification = Classification("other")
    add_stored(store_dir, paper)
    assert main(["reclassify"]) == 0
    out = capsys.readouterr().out
    assert "integrity 0 -> 1" in out and "now flagged for integrity (1)" in out
    assert "pmid:30000005" in out.split("now flagged for integrity (1)")[1]


def test_json_lists_every_flip(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text lists 20 per heading; --json all of them, with the counts."""
    harms = [pubmed_item(10 + n, title="Outcomes after scalp injections", abstract=HARM) for n in range(25)]
    for item in harms:
        item.classification = Classification("case_report")
    add_stored(store_dir, *harms)
    assert main(["reclassify", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "now safety signals (26)" in out and "… and 6 more" in out
    assert main(["reclassify", "--dry-run", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["flips"]["now safety signals"]) == 26 and result["relabelled"] == 28
    assert result["flips"]["no longer safety signals"][0]["uid"] == "pmid:30000002"


def test_status_with_a_broken_model_says_so_and_goes_on(
        store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A corrupt model file: status names it on its labels line and still shows the outbox."""
    npz, meta = tmp_path / "m.npz", tmp_path / "m.json"
    npz.write_bytes(b"not a model")
    meta.write_text("{}", encoding="utf-8")
    monkeypatch.setattr("bot.safety_model.default_paths", lambda: (npz, meta))
    monkeypatch.setattr("bot.safety_model.shipped", classify_module.safety_model.load)
    main(["status"])
    out = capsys.readouterr().out
    assert f"labels: cannot tell which classifier labelled them: {meta} is not a litwatch safety model" in out
    assert "outbox: 0 pending" in out


def test_the_rules_digest_follows_the_code(tmp_path: Path) -> None:
    """A change to a rule module names another classifier, whatever the release number says."""
    (tmp_path / "a.py").write_text("RULE = 1\n", encoding="utf-8")
    first = classify_module.rules_digest(tmp_path, ("a.py",))
    (tmp_path / "a.py").write_text("RULE = 2\n", encoding="utf-8")
    classify_module.rules_digest.cache_clear()
    assert classify_module.rules_digest(tmp_path, ("a.py",)) != first
    assert f"(rules {classify_module.rules_digest()})" in Classifier(ClassifySettings()).identity
