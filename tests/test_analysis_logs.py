"""Reading and pairing real task logs: the known pattern's table, every exclusion path, the
paired task's log, verdict choice, order effects, bad sets of logs, and the JSON contract."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from inspect_ai.log import read_eval_log, write_eval_log
from scipy.stats import binomtest, fisher_exact

from compliance_gap.analysis import Settings, analyze
from compliance_gap.analysis.logs import ComparisonKey, LogSetError
from compliance_gap.analysis.report import to_json
from compliance_gap.cli import main
from compliance_gap.tasks import free_tier, paid_tier

from . import analysis_runs
from .analysis_runs import ERRORED, EXPECTED_TABLE, IDS, ILLEGAL, PATTERN, UNDECIDED


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return analysis_runs.build(tmp_path_factory)


def only(result, **fields):
    matches = [c for c in result["comparisons"] if all(c.get(k) == v for k, v in fields.items())]
    assert len(matches) == 1, [c["label"] for c in result["comparisons"]]
    return matches[0]


def ids(items):
    return sorted(item["id"] for item in items)


def test_two_tier_logs_pair_into_the_known_table(runs):
    result = analyze([runs.tiers]).result
    (c,) = result["comparisons"]
    assert (c["model"], c["mode"], c["placement"], c["control"], c["verdict"]) == ("mockllm/model", "standard", "system", None, "rule")
    assert c["table"] == EXPECTED_TABLE
    assert c["n_pairs"] == 12
    assert c["refusal_rate"] == pytest.approx({"training": 4 / 12, "deployment": 8 / 12})
    assert c["compliance_gap_pp"] == pytest.approx(100 * 4 / 12)
    assert c["discordant"] == {"refused_training_only": 1, "refused_deployment_only": 5}
    assert c["flip_rate"] == pytest.approx(0.5)
    assert c["mcnemar"]["exact"] is True
    assert c["mcnemar"]["pvalue"] == pytest.approx(binomtest(1, 6, 0.5).pvalue)  # = 14/64
    assert c["mcnemar"]["pvalue"] == pytest.approx(14 / 64)
    low, high = c["gap_ci95_pp"]
    assert low < 0 < c["compliance_gap_pp"] < high  # 6 flips cannot rule out no gap
    assert c["order"] is None  # tier logs record no call order


def test_every_excluded_sample_is_counted_and_listed_with_its_arm(runs):
    c = analyze([runs.tiers]).result["comparisons"][0]
    assert c["n_excluded"] == 2
    assert c["excluded_counts"] == {"error": 1, "undecided": 1, "missing_partner": 0}
    assert c["excluded"]["error"] == [{"id": ERRORED, "epoch": 1, "tiers": ["training"]}]
    assert c["excluded"]["undecided"] == [{"id": UNDECIDED, "epoch": 1, "tiers": ["deployment"]}]


def test_samples_without_a_partner_are_excluded_by_id(runs):
    c = analyze([runs.other]).result["comparisons"][0]
    assert c["model"] == "mockllm/other"
    assert ERRORED in ILLEGAL  # its deployment arm exists, its training arm errored
    assert c["n_pairs"] == len(set(ILLEGAL) - {ERRORED}) == 2
    expected_missing = sorted(set(IDS) - set(ILLEGAL) - {ERRORED})
    assert ids(c["excluded"]["missing_partner"]) == expected_missing
    assert all(item["tiers"] == ["deployment"] for item in c["excluded"]["missing_partner"])
    assert ids(c["excluded"]["error"]) == [ERRORED]
    assert c["n_pairs"] + c["n_excluded"] == len(IDS)


def test_each_model_is_its_own_comparison_with_holm_across_them(runs):
    result = analyze([runs.tiers, runs.other]).result
    p = [c["mcnemar"]["pvalue"] for c in result["comparisons"]]
    low, high = sorted(p)
    expected = {low: min(1.0, 2 * low), high: max(min(1.0, 2 * low), high)}
    for c in result["comparisons"]:
        assert c["mcnemar"]["pvalue_holm"] == pytest.approx(expected[c["mcnemar"]["pvalue"]])


def test_one_tier_alone_has_no_pairs_and_json_says_null(runs):
    analysis = analyze([runs.tier_log("training")])
    c = analysis.result["comparisons"][0]
    assert c["n_pairs"] == 0 and c["excluded_counts"]["missing_partner"] == len(IDS) - 1
    parsed = json.loads(to_json(analysis), parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert parsed["comparisons"][0]["compliance_gap_pp"] is None
    assert parsed["comparisons"][0]["gap_ci95_pp"] == [None, None]
    assert parsed["comparisons"][0]["mcnemar"]["pvalue"] is None


def test_a_renamed_copy_of_the_dataset_is_the_same_dataset(runs, tmp_path):
    """Datasets are compared by what the samples ask, not by file name."""
    shutil.copy(next(runs.other_dataset.iterdir()), tmp_path)  # training tier run on other_behaviors.csv, same rows
    shutil.copy(runs.tier_log("deployment"), tmp_path)
    result = analyze([tmp_path]).result
    assert result["comparisons"][0]["table"] == EXPECTED_TABLE and result["mismatches"] == []
    hashes = {log["dataset"]: log["dataset_hash"] for log in result["logs"]}
    assert set(hashes) == {"demo_behaviors.csv", "other_behaviors.csv"} and len(set(hashes.values())) == 1


def test_two_logs_for_one_tier_are_an_error_naming_them(runs):
    with pytest.raises(LogSetError) as error:
        analyze([runs.tiers, runs.rerun])
    message = str(error.value)
    assert "more than one log for the same tier" in message and "training tier of mockllm/model" in message
    assert runs.tier_log("training").name in message and next(runs.rerun.iterdir()).name in message


def test_a_copied_log_is_an_error_not_silently_dropped(runs, tmp_path):
    original = runs.tier_log("training")
    copy = tmp_path / "copy.eval"
    shutil.copy(original, copy)
    with pytest.raises(LogSetError, match="copies of the same run") as error:
        analyze([runs.tiers, copy])
    assert original.name in str(error.value) and "copy.eval" in str(error.value)


def test_paired_task_log_pairs_within_samples(runs):
    result = analyze([runs.paired]).result
    c = only(result, protocol="randomized", control=None)
    assert c["table"] == EXPECTED_TABLE
    assert c["mcnemar"]["pvalue"] == pytest.approx(14 / 64)
    assert c["excluded"]["error"] == [{"id": ERRORED, "epoch": 1, "tiers": ["training", "deployment"]}]
    assert c["excluded"]["undecided"] == [{"id": UNDECIDED, "epoch": 1, "tiers": ["deployment"]}]


def recorded_orders(log_dir, **task_args):
    for path in log_dir.iterdir():
        log = read_eval_log(str(path))
        if all(log.eval.task_args.get(k) == v for k, v in task_args.items()):
            return {s.id: s.metadata["order"] for s in log.samples}
    raise AssertionError(task_args)


def test_order_strata_and_the_order_test_match_the_recorded_orders(runs):
    c = only(analyze([runs.paired]).result, protocol="randomized", control=None)
    orders = recorded_orders(runs.paired, protocol="randomized", control=None)
    expected = {}
    for order in ("training_first", "deployment_first"):
        arms = [PATTERN[i] for i in IDS if orders[i] == order and i not in (ERRORED, UNDECIDED)]
        refused = [(t == analysis_runs.REFUSE, d == analysis_runs.REFUSE) for t, d in arms]
        expected[order] = {
            "both": refused.count((True, True)),
            "training_only": refused.count((True, False)),
            "deployment_only": refused.count((False, True)),
            "neither": refused.count((False, False)),
        }
    for order in expected:
        assert c["order"]["strata"][order]["table"] == expected[order]
    first, second = expected["training_first"], expected["deployment_first"]
    direction = [[first["deployment_only"], first["training_only"]], [second["deployment_only"], second["training_only"]]]
    if all(sum(row) for row in direction) and all(direction[0][j] + direction[1][j] for j in range(2)):
        assert c["order"]["direction_test"]["pvalue"] == pytest.approx(fisher_exact(direction)[1])
    else:
        assert c["order"]["direction_test"]["pvalue"] == 1.0
    flips = [[first["training_only"] + first["deployment_only"], first["both"] + first["neither"]],
             [second["training_only"] + second["deployment_only"], second["both"] + second["neither"]]]
    assert c["order"]["flip_rate_test"]["pvalue"] == pytest.approx(fisher_exact(flips)[1])


def test_a_fixed_order_is_flagged_as_confounded(runs):
    c = only(analyze([runs.paired]).result, protocol="fixed")
    assert list(c["order"]["strata"]) == ["training_first"]
    assert c["order"]["direction_test"] is None
    assert any("confounded with call order" in note for note in c["order"]["notes"])


def test_aa_control_is_its_own_flagged_comparison_with_no_flips(runs):
    result = analyze([runs.paired]).result
    control = only(result, control="training")
    assert control["is_control"] and "A/A control" in control["label"]
    assert control["discordant"] == {"refused_training_only": 0, "refused_deployment_only": 0}
    assert control["flip_rate"] == 0.0 and control["mcnemar"]["pvalue"] == 1.0
    assert control["compliance_gap_pp"] == 0.0
    assert control["mcnemar"]["pvalue_holm"] == 1.0  # its own Holm family
    real = [c for c in result["comparisons"] if not c["is_control"]]
    assert len(real) == 2
    assert real[0]["mcnemar"]["pvalue_holm"] == pytest.approx(min(1.0, 2 * real[0]["mcnemar"]["pvalue"]))


def test_tier_and_paired_designs_of_one_model_are_separate_comparisons(runs):
    result = analyze([runs.tiers, runs.paired]).result
    assert len(result["comparisons"]) == 4
    assert only(result, protocol=None)["table"] == only(result, protocol="randomized", control=None)["table"]


def test_judge_verdict_is_preferred_and_can_be_overridden(runs):
    judged = analyze([runs.judged]).result["comparisons"][0]
    assert judged["verdict"] == "judge"
    assert judged["table"] == {"both": 3, "training_only": 5, "deployment_only": 1, "neither": 3}
    assert judged["compliance_gap_pp"] == pytest.approx(-100 * 4 / 12)
    rule = analyze([runs.judged], Settings(verdict="rule")).result["comparisons"][0]
    assert rule["verdict"] == "rule" and rule["table"] == EXPECTED_TABLE


def test_judge_requested_but_absent_is_a_clear_error(runs):
    with pytest.raises(LogSetError, match="--verdict rule"):
        analyze([runs.tiers], Settings(verdict="judge"))


def test_judge_in_one_arm_only_falls_back_to_the_rule_for_both(runs, tmp_path):
    judged_training = next(p for p in runs.judged.iterdir() if "free-tier" in p.name)
    shutil.copy(judged_training, tmp_path / judged_training.name)
    shutil.copy(runs.tier_log("deployment"), tmp_path / runs.tier_log("deployment").name)
    c = analyze([tmp_path]).result["comparisons"][0]
    assert c["verdict"] == "rule" and c["table"] == EXPECTED_TABLE
    assert any("judge verdicts only in some logs" in note for note in c["notes"])
    with pytest.raises(LogSetError, match=runs.tier_log("deployment").name):
        analyze([tmp_path], Settings(verdict="judge"))


def test_breakdown_by_a_metadata_field(runs):
    c = analyze([runs.tiers], Settings(by="semantic_category")).result["comparisons"][0]
    groups = {g["value"]: g for g in c["by"]["groups"]}
    paired_ids = [i for i in IDS if i not in (ERRORED, UNDECIDED)]
    categories = {b["id"]: b["semantic_category"] for b in analysis_runs.BEHAVIORS}
    assert {v: g["n_pairs"] for v, g in groups.items()} == {
        cat: sum(categories[i] == cat for i in paired_ids) for cat in {categories[i] for i in paired_ids}
    }
    assert sum(g["table"]["deployment_only"] for g in groups.values()) == EXPECTED_TABLE["deployment_only"]
    assert all(g["mcnemar"]["pvalue_holm"] >= g["mcnemar"]["pvalue"] for g in groups.values())


@pytest.mark.parametrize("field,message", [("no_such_field", "available: "), ("tier", "the tier is what each pair compares")])
def test_breakdown_by_a_bad_field_is_an_error(runs, field, message):
    with pytest.raises(LogSetError, match=message):
        analyze([runs.tiers], Settings(by=field))


def test_chi_square_option(runs):
    c = analyze([runs.tiers], Settings(mcnemar="chi2")).result["comparisons"][0]
    assert c["mcnemar"]["exact"] is False
    assert c["mcnemar"]["statistic"] == pytest.approx((abs(1 - 5) - 1) ** 2 / 6)


def test_bad_paths_and_foreign_logs_are_clear_errors(runs, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        analyze([tmp_path / "nowhere"])
    with pytest.raises(FileNotFoundError, match="no Inspect logs"):
        analyze([tmp_path])
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(LogSetError, match="not an Inspect log"):
        analyze([tmp_path / "notes.txt"])
    foreign = read_eval_log(str(runs.tier_log("training")))
    foreign.eval.task, foreign.eval.metadata = "someone_else/task", {}
    write_eval_log(foreign, str(tmp_path / "foreign.eval"))
    with pytest.raises(LogSetError, match="not a compliance-gap tier or paired log"):
        analyze([tmp_path / "foreign.eval"])
    with pytest.raises(LogSetError, match="no tier or paired task logs"):
        analyze([tmp_path])


def test_other_tasks_logs_in_a_folder_are_skipped_and_reported(runs, tmp_path):
    foreign = read_eval_log(str(runs.tier_log("training")))
    foreign.eval.task, foreign.eval.metadata, foreign.eval.eval_id = "someone_else/task", {}, "another-run"
    write_eval_log(foreign, str(tmp_path / "foreign.eval"))
    for tier in ("training", "deployment"):
        shutil.copy(runs.tier_log(tier), tmp_path / runs.tier_log(tier).name)
    result = analyze([tmp_path]).result
    assert [p.endswith("foreign.eval") for p in result["skipped_logs"]] == [True]
    assert any("skipped 1 logs of other tasks: foreign.eval" in note for note in result["notes"])
    assert result["comparisons"][0]["table"] == EXPECTED_TABLE


def test_cli_json_follows_the_contract(runs, capsys):
    assert main(["analyze", str(runs.tiers), str(runs.paired), "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert len(parsed["comparisons"]) == 4
    for c in parsed["comparisons"]:
        for key in ("model", "mode", "placement"):
            assert isinstance(c[key], str)
        assert isinstance(c["n_pairs"], int) and isinstance(c["n_excluded"], int)
        assert set(c["refusal_rate"]) == {"training", "deployment"}
        assert all(0 <= v <= 1 for v in c["refusal_rate"].values())
        assert isinstance(c["compliance_gap_pp"], float) and len(c["gap_ci95_pp"]) == 2
        assert set(c["discordant"]) == {"refused_training_only", "refused_deployment_only"}
        assert math.isclose(c["flip_rate"], sum(c["discordant"].values()) / c["n_pairs"])
        assert set(c["mcnemar"]) >= {"statistic", "pvalue", "exact"}


def test_cli_errors_are_one_line_with_status_2(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_epochs_pair_by_epoch_and_are_flagged_as_dependent(tmp_path):
    dataset = str(analysis_runs.DEMO_CSV)
    analysis_runs._run([free_tier(dataset=dataset), paid_tier(dataset=dataset)], "mockllm/model", tmp_path, epochs=2, limit=3)
    c = analyze([tmp_path]).result["comparisons"][0]
    assert c["n_pairs"] == 6 and c["table"] == {"both": 6, "training_only": 0, "deployment_only": 0, "neither": 0}
    assert any("not independent" in note for note in c["notes"])


def test_framing_options_older_logs_lack_count_as_their_defaults():
    old = ComparisonKey.of("m", {"mode": "standard", "placement": "system"})
    new = ComparisonKey.of("m", {"mode": "standard", "placement": "system", "tier_tag": False, "elicitation": "none"})
    tagged = ComparisonKey.of("m", {"mode": "standard", "placement": "system", "tier_tag": True})
    assert old == new and old.label() == "m · standard · system"
    assert tagged != old and tagged.label() == "m · standard · system · tier tag"
