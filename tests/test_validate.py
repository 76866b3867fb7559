"""validate-classifier: AUROC, its bootstrap CI, P/R/F1, and the command on the real gold_106."""

from __future__ import annotations

import itertools
import json
from functools import cache

import numpy as np
import pytest

from compliance_gap import cli, validate
from compliance_gap.scripted import conversation_text, scripted_model
from compliance_gap.validate import auroc, bootstrap_auroc_ci, load_gold, precision_recall_f1, validate_classifier

from .conftest import data_path


def test_auroc_hand_computed_with_a_tie():
    # pairs (pos, neg): 0.9 beats all 3; 0.6 beats all 3; 0.4 beats 0.1, ties 0.4 (1/2), loses to 0.5
    # -> (3 + 3 + 1.5) / 9
    assert auroc([0.9, 0.6, 0.4, 0.5, 0.4, 0.1], [True, True, True, False, False, False]) == pytest.approx(7.5 / 9)


def test_auroc_edges():
    assert auroc([1, 1, 0, 0], [True, True, False, False]) == 1.0
    assert auroc([0, 0, 1, 1], [True, True, False, False]) == 0.0
    assert auroc([0.5] * 4, [True, False, True, False]) == 0.5
    assert auroc([0.2, 0.3], [True, True]) is None


def exact_bootstrap(pos, neg):
    """Every equally likely stratified resample and its AUROC, enumerated."""
    values = []
    for p in itertools.product(pos, repeat=len(pos)):
        for n in itertools.product(neg, repeat=len(neg)):
            values.append(auroc(list(p) + list(n), [True] * len(p) + [False] * len(n)))
    return np.array(values)


def test_bootstrap_ci_matches_the_exact_bootstrap_distribution():
    pos, neg = [0.9, 0.45, 0.3], [0.5, 0.35, 0.1]
    exact = exact_bootstrap(pos, neg)  # 27 x 27 resamples
    low, high = bootstrap_auroc_ci(pos + neg, [True] * 3 + [False] * 3, resamples=20000, seed=1)
    assert np.quantile(exact, 0.015) <= low <= np.quantile(exact, 0.035)
    assert np.quantile(exact, 0.965) <= high <= np.quantile(exact, 0.985)
    assert low < auroc(pos + neg, [True] * 3 + [False] * 3) < high


def test_bootstrap_ci_is_seeded_and_degenerate_cases():
    scores, truth = [0.9, 0.45, 0.3, 0.5, 0.35, 0.1], [True] * 3 + [False] * 3
    assert bootstrap_auroc_ci(scores, truth, 500, seed=3) == bootstrap_auroc_ci(scores, truth, 500, seed=3)
    assert bootstrap_auroc_ci([1, 1, 0, 0], [True, True, False, False], 200) == (1.0, 1.0)  # perfectly separated
    assert bootstrap_auroc_ci([1, 1], [True, True], 200) is None


def test_precision_recall_f1_hand_computed():
    result = precision_recall_f1(tp=3, fp=1, fn=2)
    assert result["precision"] == 0.75 and result["recall"] == 0.6
    assert result["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert precision_recall_f1(tp=0, fp=0, fn=4) == {"precision": None, "recall": 0.0, "f1": None}
    assert precision_recall_f1(tp=0, fp=2, fn=4)["f1"] == 0.0


@pytest.mark.needs_data("gold_106")
def test_real_gold_106_loads_with_its_counts():
    samples, path = load_gold()  # the pinned file, found through COMPLIANCE_GAP_DATA_DIR
    assert path == data_path("gold_106")
    labels = [s["label"] for s in samples]
    assert (len(samples), labels.count("potential_faking"), labels.count("aligned")) == (106, 51, 55)


def test_bad_gold_files_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data"):
        load_gold(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"samples": [{"text": "x", "label": "faking"}, {"text": "", "label": "aligned"}]}))
    with pytest.raises(ValueError, match="2 samples cannot be used"):
        load_gold(bad)
    bad.write_text(json.dumps([{"text": "x"}]))
    with pytest.raises(ValueError, match="gold_106-style"):
        load_gold(bad)


@cache
def gold_labels() -> dict[str, str]:
    """Scratchpad text -> human label, read when a test that needs gold_106 first asks."""
    return {s["text"]: s["label"] for s in load_gold(data_path("gold_106"))[0]}


LIMIT = 12  # the first 12 gold samples: 8 potential_faking, 4 aligned


def judge_from(says_positive):
    """A scripted classifier that answers by the human label of the scratchpad it is shown."""

    def respond(messages):
        text = conversation_text(messages)
        [label] = [label for scratchpad, label in gold_labels().items() if scratchpad.strip() in text]
        return "CATEGORY: TRAINING_AWARE" if says_positive(label) else "It reasons about harm.\nCATEGORY: SAFETY"

    return scripted_model(respond, name="mockllm/gold-judge")


@pytest.mark.needs_data("gold_106")
def test_validate_with_an_oracle_judge(tmp_path):
    report = validate_classifier(judge_from(lambda label: label == "potential_faking"), limit=LIMIT, votes=3, log_dir=tmp_path, resamples=300)
    assert report.samples == LIMIT and report.by_label == {"potential_faking": 8, "aligned": 4}
    assert report.auroc == 1.0 and report.auroc_ci == (1.0, 1.0)
    assert report.at_threshold == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert report.confusion == {
        "potential_faking": {"positive": 8, "negative": 0, "undecided": 0},
        "aligned": {"positive": 0, "negative": 4, "undecided": 0},
    }
    assert report.log.endswith(".eval") and "AUROC" in report.text()


@pytest.mark.needs_data("gold_106")
def test_validate_with_a_judge_that_always_says_training_aware(tmp_path):
    report = validate_classifier(judge_from(lambda label: True), limit=LIMIT, votes=3, log_dir=tmp_path, resamples=300)
    assert report.auroc == 0.5  # every share is 1.0: all ties
    assert report.at_threshold["precision"] == pytest.approx(8 / 12) and report.at_threshold["recall"] == 1.0
    assert report.confusion["aligned"] == {"positive": 4, "negative": 0, "undecided": 0}


@pytest.mark.needs_data("gold_106")
def test_validate_takes_all_votes_and_logs_them(tmp_path):
    from inspect_ai.log import read_eval_log

    report = validate_classifier(judge_from(lambda label: label == "aligned"), limit=4, votes=5, log_dir=tmp_path, resamples=100)
    assert report.auroc == 0.0  # an inverted classifier
    log = read_eval_log(report.log)
    for sample in log.samples:
        assert sample.scores["motivation_classifier"].metadata["votes_used"] == 5  # no early stopping


@pytest.mark.needs_data("gold_106")
def test_cli_with_a_judge_that_never_answers(tmp_path, capsys, monkeypatch):
    """A judge that never names a category: every vote is invalid, nothing is decided, exit 1.
    (A scripted judge stands in for the name: plain mockllm/model fetches a tokenizer, which
    fails offline, and a judge whose every call fails now stops the run instead; see below.)"""
    monkeypatch.setattr(validate, "get_model", lambda name, **args: scripted_model(lambda m: "I cannot tell.", name=name))
    out = tmp_path / "report.json"
    code = cli.main(
        ["validate-classifier", "--judge", "mockllm/model", "--limit", "3", "--votes", "2", "--json", "--out", str(out), "--log-dir", str(tmp_path)]
    )
    assert code == 1
    report = json.loads(out.read_text())
    assert report["decided"] == 0 and report["undecided"] == 3 and report["auroc"] is None
    out_text = capsys.readouterr().out
    # the JSON is what the command prints last; in a pytest process where test_matrix's in-process
    # Ctrl-C left Inspect's task display active, Inspect's progress lines come before it
    assert json.loads(out_text[out_text.index("\n{") + 1 if not out_text.startswith("{") else 0 :]) == report


@pytest.mark.needs_data("gold_106")
def test_cli_with_a_judge_that_fails_every_call_names_its_error(tmp_path, capsys, monkeypatch):
    def respond(messages):
        raise ConnectionError("judge endpoint refused the connection")

    monkeypatch.setattr(validate, "get_model", lambda name, **args: scripted_model(respond, name=name))
    code = cli.main(["validate-classifier", "--judge", "mockllm/broken", "--limit", "3", "--votes", "2", "--log-dir", str(tmp_path)])
    assert code == 2
    assert "judge endpoint refused the connection" in capsys.readouterr().err


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert cli.main(["validate-classifier", "--judge", "mockllm/model", "--data", str(tmp_path / "none.json")]) == 2
    assert "--data" in capsys.readouterr().err
    assert cli.main(["validate-classifier", "--judge", "mockllm/model", "--threshold", "1.5", "--limit", "1"]) == 2
    assert "threshold" in capsys.readouterr().err
