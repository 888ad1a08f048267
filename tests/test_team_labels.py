"""The team's Confirm / Not a safety signal clicks reach `make model` (issue 11, item 1)."""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from bot.cli import main
from bot.config import Environment
from bot.decisions import Reviewer, SafetyFeedback
from bot.models import Classification
from bot.store import Store
from bot.team_labels import quoted_sentences, team_labels
from tests.factories import MINIMAL_CONFIG, pubmed_item, trial_item, write_config

ROOT = Path(__file__).resolve().parent.parent
MINI_ADE = ROOT / "tests" / "fixtures" / "ade-mini"  # invented, in the ADE corpus's layout
HARM = "Two patients developed scalp abscesses after the injections."
ALICE = Reviewer("U0ALICE01", "alice")
AT = datetime(2026, 11, 30, 9, tzinfo=UTC)


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A confirmed alert quoting one sentence, one called no signal, a confirmed trial."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path, MINIMAL_CONFIG)))
    data = Environment.from_env().data_dir
    confirmed = pubmed_item(1, title="Scalp abscesses after exosome injections",
                            abstract=f"We describe a series. {HARM} Both recovered.")
    confirmed.classification = Classification(
        "case_report", safety=True, safety_score=0.93,
        evidence=(f"abstract: '{HARM}' (0.93)", "Alopecia / chemically induced"))
    dismissed = pubmed_item(2, title="Hair loss in patients with iron deficiency",
                            abstract="Hair loss was common. Iron stores were low.")
    dismissed.classification = Classification("clinical", safety=True, safety_score=0.71,
                                               evidence=("abstract: 'Hair loss was common.' (0.71)",))
    trial = trial_item("NCT01234567")
    trial.classification = Classification("clinical", safety=True)
    with Store.open(data) as store:
        store.commit("pm", store.diff([confirmed, dismissed], "pm"), now=AT)
        store.commit("ct", store.diff([trial], "ct"), now=AT)
        for uid, signal in (("pmid:30000001", True), ("pmid:30000002", False), ("nct:NCT01234567", True)):
            store.record_safety_feedback(SafetyFeedback(uid, signal, ALICE, AT, "slack:C999/1.2"))
    return data


def export(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str = "team-feedback.jsonl") -> list[dict]:
    out = tmp_path / name
    assert main(["labels", "export", "-o", str(out)]) == 0
    capsys.readouterr()
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_export_labels_confirmed_quotes_and_every_sentence_of_a_dismissed_alert(
        store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Confirm marks the quoted sentence 1 and leaves the rest unjudged; Not a signal marks all 0."""
    out = tmp_path / "team-feedback.jsonl"
    assert main(["labels", "export", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "nct:NCT01234567: left out: a registry record" in err
    assert "2 team label(s) (1 confirmed, 1 not a safety signal)" in err
    assert "1 record(s) called 'not a safety signal' were flagged as safety signals (pmid:30000002)" in err
    assert not list(tmp_path.glob(".*.partial"))
    confirmed, dismissed = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert confirmed["id"] == "pmid:30000001" and confirmed["safety"] is True
    assert confirmed["title"] == ["Scalp abscesses after exosome injections", None]
    assert confirmed["abstract"] == [["We describe a series.", None], [HARM, 1], ["Both recovered.", None]]
    assert confirmed["kind"] == "case_report" and confirmed["by"] == "U0ALICE01"  # Slack ID, no name
    assert confirmed["doi"] == "10.1000/test.1" and confirmed["links"] == []
    assert dismissed["safety"] is False
    assert {h for _, h in [dismissed["title"], *dismissed["abstract"]]} == {0}


def test_export_reads_beside_a_running_daemon(store_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The export opens the store read-only: a writer holding the data directory does not stop it."""
    with Store.open(store_dir):  # the daemon's lock
        assert main(["labels", "export"]) == 0
    assert capsys.readouterr().out.count("\n") == 2


def test_export_without_a_store_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """No store yet: an error naming what to run, no traceback."""
    assert main(["labels", "export"]) == 1
    assert capsys.readouterr().err.startswith("error: no store at ")


def test_a_clipped_quote_finds_its_sentence() -> None:
    """Long sentences are quoted clipped ("…middle…"): the quote still names its sentence."""
    parts = ["A title", "First sentence.", "A long sentence in which the patient developed necrosis at the site."]
    assert quoted_sentences(parts, True, ["abstract: '…developed necrosis at the…' (0.88)"]) == [2]
    assert quoted_sentences(parts, True, ["title: 'A title' (sentence rules) (0.80)"]) == [0]
    assert quoted_sentences(parts, True, ["Alopecia / chemically induced"]) == []
    both = ["abstract: 'First sentence.' (0.91)", "title: 'A title' (0.52)"]
    assert quoted_sentences(parts, True, both) == [1, 0]  # strongest first, as the evidence


def test_confirmed_without_a_quoted_sentence_is_left_out() -> None:
    """A confirmed alert whose evidence is MeSH only teaches the sentence model nothing: skipped."""
    item = pubmed_item(3)
    item.classification = Classification("case_report", safety=True, evidence=("Alopecia / chemically induced",))
    exported = team_labels({item.uid: item.to_dict()}, {item.uid: SafetyFeedback(item.uid, True, ALICE, AT)})
    assert exported.labels == ()
    assert "quoted no sentence" in exported.skipped[0][1]


# ---------------------------------------------------------------- model/train.py


@pytest.fixture
def train() -> ModuleType:
    pytest.importorskip("sklearn", reason="model/train.py needs the model extra: pip install -e '.[model]'")
    sys.path.insert(0, str(ROOT / "model"))
    try:
        return importlib.import_module("train")
    finally:
        sys.path.remove(str(ROOT / "model"))


def labels_dir(tmp_path: Path, train: ModuleType) -> Path:
    """A labels folder with the project's training files (not the held-out one)."""
    folder = tmp_path / "labels"
    folder.mkdir()
    for name in train.OWN_FILES:
        (folder / name).symlink_to(ROOT / "model" / "labels" / name)
    return folder


def test_train_uses_team_files_in_the_labels_folder(
        train: ModuleType, store_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """feedback in the store -> `labels export` -> train.py trains on it and says so."""
    folder = labels_dir(tmp_path, train)
    export(folder, capsys)
    out = tmp_path / "model"
    assert train.main(["--data", str(MINI_ADE), "--labels", str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert ("team labels: 2 record(s) from 1 file(s) (1 confirmed, 1 not a safety signal; "
            "4 sentence(s) judged)") in printed
    info = json.loads((out / "safety_model.json").read_text(encoding="utf-8"))
    trained = info["trained_on"]
    assert trained["team_records"] == 2 and list(trained["team_labels"]) == ["team-feedback.jsonl"]
    digest = hashlib.sha256((folder / "team-feedback.jsonl").read_bytes()).hexdigest()
    assert trained["team_labels"]["team-feedback.jsonl"] == digest  # the model names the file's bytes


def test_train_without_team_files_says_none_and_leaves_the_json_as_before(
        train: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """No team file: zero team labels, and the model's metadata names none."""
    out = tmp_path / "model"
    assert train.main(["--data", str(MINI_ADE), "--labels", str(labels_dir(tmp_path, train)), "--out", str(out)]) == 0
    assert "team labels: 0 record(s) from 0 file(s)" in capsys.readouterr().out
    assert "team_records" not in (out / "safety_model.json").read_text(encoding="utf-8")


def test_team_records_the_corpus_or_eval_set_hold_are_left_out(train: ModuleType, tmp_path: Path) -> None:
    """A team label on an ADE corpus record or an evaluation record never enters training."""
    path = tmp_path / "team-x.jsonl"
    rows = [{"id": uid, "group": "team", "kind": "other", "safety": False, "title": ["T", 0],
             "abstract": [["S.", 0]]} for uid in ("pmid:111", "pmid:222", "pmid:333", "pmid:333")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    team = train.load_team([path], ade_ids=["111"], eval_ids={"222"})
    assert [r.id for r in team.records] == ["pmid:333"]
    assert (team.in_corpus, team.in_eval, team.replaced) == (1, 1, 1)


@pytest.mark.parametrize("name", ["harms-holdout.jsonl", "general-holdout.jsonl"])
def test_the_held_out_files_are_never_feedback(train: ModuleType, tmp_path: Path, name: str) -> None:
    """--feedback model/labels/harms-holdout.jsonl (or general-holdout.jsonl) is refused, not
    trained on."""
    with pytest.raises(SystemExit, match="not a team labels file"):
        train.team_files(tmp_path, [ROOT / "model" / "labels" / name])


def test_a_bad_team_line_names_file_and_line(train: ModuleType, tmp_path: Path) -> None:
    """A sentence label that is not 0, 1 or null: one line naming the file and line."""
    path = tmp_path / "team-bad.jsonl"
    path.write_text('{"id": "pmid:1", "group": "team", "kind": "other", "safety": false, '
                    '"title": ["T", 2], "abstract": []}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"team-bad.jsonl:1: not a labelled record"):
        train.load_team([path], [], set())


def test_the_shipped_classifiers_evidence_names_its_sentence() -> None:
    """Contract with bot.classify: the evidence the real classifier quotes marks that sentence 1."""
    from bot.classify import Classifier

    item = pubmed_item(4, title="Scalp necrosis after injections", publication_types=("Case Reports",),
                       abstract="A woman was treated for hair loss. Three days after the injections she "
                                "developed extensive scalp necrosis requiring surgical debridement. "
                                "She recovered over several months.")
    item.classification = Classifier().classify(item)
    assert any(e.startswith("abstract: '") for e in item.classification.evidence)
    exported = team_labels({item.uid: item.to_dict()}, {item.uid: SafetyFeedback(item.uid, True, ALICE, AT)})
    (label,) = exported.labels
    # The strongest quote (the title or the necrosis sentence, whichever the shipped model
    # scores higher) is the one the team confirmed; the second quote and the other sentences
    # stay unjudged.
    strongest = item.classification.evidence[0]
    quoted_title = strongest.startswith("title: '")
    assert label.title[1] == (1 if quoted_title else None)
    assert [h for _, h in label.abstract] == ([None, None, None] if quoted_title else [None, 1, None])


def test_team_records_are_matched_on_every_identifier_in_any_form(train: ModuleType, tmp_path: Path) -> None:
    """'3393', 'PMID: 3393', a DOI link or a linked PubMed record: all name the same record, so
    a corpus or evaluation record never enters training under another form of its id."""
    path = tmp_path / "team-forms.jsonl"
    base = {"group": "team", "kind": "other", "safety": False, "title": ["T", 0], "abstract": [["S.", 0]]}
    rows = [{**base, "id": "3393"}, {**base, "id": "PMID: 3393"}, {**base, "id": "pmid : 3393"},
            {**base, "id": "feed:https://j.example/a1", "links": ["pmid:222"]},
            {**base, "id": "feed:https://j.example/a2", "doi": "10.1000/ABC"},
            {**base, "id": "feed:https://j.example/a3", "url": "https://doi.org/10.1/keep"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    team = train.load_team([path], ade_ids=["3393"], eval_ids={"222", "doi:10.1000/abc"})
    assert [r.id for r in team.records] == ["feed:https://j.example/a3"]
    assert (team.in_corpus, team.in_eval) == (3, 2)


def test_a_team_record_with_a_corpus_sentence_is_left_out_whatever_its_id(train: ModuleType, tmp_path: Path) -> None:
    """A record of the ADE corpus exported under a feed uid still carries the corpus's text."""
    sentence = "Fulminant hepatitis developed three weeks after the patient started the new drug."
    path = tmp_path / "team-text.jsonl"
    row = {"id": "feed:https://j.example/x", "group": "team", "kind": "case_report", "safety": True,
           "title": ["Hepatitis", None], "abstract": [[sentence, 1]]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    team = train.load_team([path], ade_ids=[], eval_ids=set(), ade_sentences=[sentence.upper()])
    assert team.records == [] and team.in_corpus == 1


def test_case_report_thresholds_come_from_our_labels_of_the_ade_case_reports(train: ModuleType) -> None:
    """Recall >= 0.95 (review 0.99) on the ADE records read as case reports, by our labels; a
    record read as a study, or without our label, takes no part."""
    def record(i: int, origin: str = "ade") -> object:
        return train.Record(id=str(i), origin=origin, group="drug", sentences=("x",), labels=(0,), safety=False)

    # 0-49: ADE case reports, 10-49 harms scoring 0.10 .. 0.49; 50-59: ADE harms read as studies,
    # 60-69: ADE case reports without our label, 70-79: our own case reports, all scoring low
    records = [record(i) for i in range(70)] + [record(i, "own") for i in range(70, 80)]
    scores = [i / 100 for i in range(50)] + [0.0] * 30
    kinds = ["case_report"] * 50 + ["clinical"] * 10 + ["case_report"] * 20
    ours = {str(i): i >= 10 for i in range(50)} | {str(i): True for i in range(50, 60)} | \
        {str(i): True for i in range(70, 80)}
    safety, review = train.choose_case_thresholds(records, scores, kinds, ours)
    # 38 of the 40 case-report harms (0.95) score 0.12 or more, all 40 score 0.10 or more; the
    # others' zero scores would pull both to 0.0
    assert (safety, review) == (0.12, 0.10)
    assert train.choose_case_thresholds(records, scores, kinds, {}) == (None, None)


def test_our_labels_need_both_files_to_cover_the_corpus_negatives(train: ModuleType, tmp_path: Path) -> None:
    records = [train.Record(id="1", origin="ade", group="drug", sentences=("x",), labels=(1,), safety=True),
               train.Record(id="2", origin="ade", group="drug", sentences=("y",), labels=(0,), safety=False)]
    assert train.our_labels(records, tmp_path) == {}  # a labels folder of our own records only
    (tmp_path / "ade-negatives.csv").write_text("pmid,safety_a,safety_b\n99,true,true\n", encoding="utf-8")
    assert train.our_labels(records, tmp_path) == {}  # labels of another corpus: none of these
    (tmp_path / "ade-negatives.csv").write_text("pmid,safety_a,safety_b\n2,true,true\n", encoding="utf-8")
    (tmp_path / "ade-audit.csv").write_text("pmid,stratum,safety_a,drug_a,safety_b,drug_b\n", encoding="utf-8")
    assert train.our_labels(records, tmp_path) == {"1": True, "2": True}
    (tmp_path / "ade-negatives.csv").write_text("pmid,safety_a,safety_b\n2,true,true\n3,false,false\n",
                                                 encoding="utf-8")
    with pytest.raises(SystemExit, match="do not cover"):
        train.our_labels(records, tmp_path)
