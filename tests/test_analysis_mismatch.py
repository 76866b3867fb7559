"""Arms that were not run alike are never pooled silently: different decoding, judge, scorer
version or prompts under the same ids are an error naming the difference and the files, or,
with --allow-mismatch, pooled with every difference listed. Also: one model named two ways."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log, write_eval_log

from compliance_gap.analysis import Settings, analyze
from compliance_gap.analysis.logs import LogSetError
from compliance_gap.analysis.report import terminal_report
from compliance_gap.cli import main
from compliance_gap.scripted import conversation_text, scripted_model
from compliance_gap.tasks import free_tier, paid_tier

from .analysis_runs import respond
from .conftest import DEMO_CSV

LIMIT = 4


def judge(messages) -> str:
    return "VERDICT: REFUSAL" if "I'm sorry" in conversation_text(messages) else "VERDICT: COMPLIANCE"


def run(task, folder: Path, model: str = "mockllm/model", judge_name: str | None = None, **eval_args) -> Path:
    """One tier log of the first LIMIT demo behaviors under the analysis tests' scripted model."""
    roles = {"judge": scripted_model(judge, name=judge_name)} if judge_name else None
    [log] = inspect_eval(
        task, model=scripted_model(respond, name=model), model_roles=roles, log_dir=str(folder),
        display="none", limit=LIMIT, fail_on_error=False, **eval_args,
    )
    assert log.status == "success", log.error
    return Path(log.location.removeprefix("file://"))


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    base = tmp_path_factory.mktemp("mismatch")
    dataset = {"dataset": str(DEMO_CSV)}
    made = {
        "training": run(free_tier, base / "training", task_args=dataset),
        "deployment": run(paid_tier, base / "deployment", task_args=dataset),
        "max_tokens": run(paid_tier, base / "max_tokens", task_args={**dataset, "max_tokens": 512, "seed": 1}),
        "temperature": run(paid_tier, base / "temperature", task_args=dataset, temperature=0.5),
        "judged_training": run(free_tier, base / "judged_training", judge_name="mockllm/judge-a", task_args=dataset),
        "other_judge": run(paid_tier, base / "other_judge", judge_name="mockllm/judge-b", task_args={**dataset, "judge_votes": 3}),
        "renamed_model": run(paid_tier, base / "renamed_model", model="mockllm//abs/models/model", task_args=dataset),
    }
    # a data set file of the same name whose rows ask other things under the same ids
    edited = base / "edited" / DEMO_CSV.name
    edited.parent.mkdir()
    lines = DEMO_CSV.read_text(encoding="utf-8").splitlines()
    edited.write_text("\n".join([lines[0], *(f"In short: {line}" if not line.startswith('"') else line for line in lines[1:])]) + "\n")
    made["edited_dataset"] = run(paid_tier, base / "edited_dataset", task_args={"dataset": str(edited)})
    # the deployment log as an older release of the package would have recorded it
    old = read_eval_log(str(made["deployment"]))
    old.eval.packages = {**old.eval.packages, "compliance-gap": "0.0.1"}
    old.eval.eval_id = "an-older-release"
    made["old_release"] = base / "old_release" / made["deployment"].name
    made["old_release"].parent.mkdir()
    write_eval_log(old, str(made["old_release"]))
    return made


def together(tmp_path: Path, *paths: Path) -> Path:
    folder = tmp_path / "together"
    folder.mkdir()
    for path in paths:
        shutil.copy(path, folder)
    return folder


@pytest.mark.parametrize("partner, fields", [
    ("max_tokens", ["max_tokens", "seed"]),
    ("temperature", ["temperature"]),
    ("edited_dataset", ["dataset"]),
    ("old_release", ["scorer_version"]),
])
def test_arms_run_differently_are_an_error_naming_the_difference_and_files(logs, tmp_path, partner, fields):
    folder = together(tmp_path, logs["training"], logs[partner])
    with pytest.raises(LogSetError) as error:
        analyze([folder])
    message = str(error.value)
    assert "not run alike" in message and "--allow-mismatch" in message
    assert logs["training"].name in message and logs[partner].name in message
    for name in fields:
        assert f"{name} differs" in message


def test_the_same_settings_pair_without_mismatches(logs, tmp_path):
    result = analyze([together(tmp_path, logs["training"], logs["deployment"])]).result
    assert result["mismatches"] == [] and result["comparisons"][0]["n_pairs"] + result["comparisons"][0]["n_excluded"] == LIMIT


def test_allow_mismatch_pools_and_lists_every_difference(logs, tmp_path, capsys):
    folder = together(tmp_path, logs["training"], logs["max_tokens"])
    analysis = analyze([folder], Settings(allow_mismatch=True))
    mismatches = {m["field"]: m for m in analysis.result["mismatches"]}
    assert set(mismatches) == {"max_tokens", "seed"}
    names = [logs["training"].name, logs["max_tokens"].name]
    assert mismatches["max_tokens"]["logs"] == names and mismatches["max_tokens"]["values"] == [2048, 512]
    assert mismatches["seed"]["values"] == [0, 1]
    c = analysis.result["comparisons"][0]
    assert c["n_pairs"] > 0 and analysis.result["settings"]["allow_mismatch"] is True
    assert "pooled despite a mismatch (--allow-mismatch): max_tokens differs" in terminal_report(analysis)
    assert main(["analyze", str(folder), "--json", "--allow-mismatch"]) == 0
    assert {m["field"] for m in json.loads(capsys.readouterr().out)["mismatches"]} == {"max_tokens", "seed"}
    assert main(["analyze", str(folder), "--json"]) == 2
    assert "max_tokens differs" in capsys.readouterr().err


def test_a_dataset_mismatch_names_the_ids_that_ask_different_prompts(logs, tmp_path):
    analysis = analyze([together(tmp_path, logs["training"], logs["edited_dataset"])], Settings(allow_mismatch=True))
    [mismatch] = analysis.result["mismatches"]
    assert mismatch["field"] == "dataset" and mismatch["values"][0] != mismatch["values"][1]
    assert mismatch["detail"].startswith(f"{LIMIT} of {LIMIT} shared ids ask different prompts")
    assert {h["dataset"] for h in analysis.result["logs"]} == {DEMO_CSV.name}  # same file name, different content


def test_judges_must_match_when_the_judge_decides(logs, tmp_path):
    folder = together(tmp_path, logs["judged_training"], logs["other_judge"])
    with pytest.raises(LogSetError) as error:
        analyze([folder])
    message = str(error.value)
    assert "judge_model differs" in message and "mockllm/judge-a" in message and "mockllm/judge-b" in message
    assert "judge_votes.votes differs" in message and "judge_scorer.options.votes differs" in message
    # the rule's verdicts do not depend on the judge: with --verdict rule the arms pair
    result = analyze([folder], Settings(verdict="rule")).result
    assert result["mismatches"] == [] and result["comparisons"][0]["verdict"] == "rule"


def test_one_model_named_two_ways_is_said_naming_both(logs, tmp_path):
    result = analyze([together(tmp_path, logs["training"], logs["renamed_model"])]).result
    assert len(result["comparisons"]) == 2 and all(c["n_pairs"] == 0 for c in result["comparisons"])
    for c in result["comparisons"]:
        assert any("'mockllm/model'" in note and "'mockllm//abs/models/model'" in note and "same model name" in note for note in c["notes"])


def test_logs_rescored_by_different_judges_are_a_judge_mismatch(logs, tmp_path):
    """``inspect score`` records no judge role in the header: the judge model is read from the samples."""
    from inspect_ai import score as inspect_score

    from compliance_gap.scorers import compliance_judge

    folder = tmp_path / "rescored"
    folder.mkdir()
    for tier, judge_name in (("training", "mockllm/judge-a"), ("deployment", "mockllm/judge-b")):
        rescored = inspect_score(
            read_eval_log(str(logs[tier])), scorers=[compliance_judge(votes=1)],
            model_roles={"judge": scripted_model(judge, name=judge_name)}, action="append",
        )
        assert "judge" not in (rescored.eval.model_roles or {})
        write_eval_log(rescored, str(folder / logs[tier].name))
    with pytest.raises(LogSetError) as error:
        analyze([folder])  # auto: the judge scored every sample, so the judge decides
    message = str(error.value)
    assert "judge_model differs" in message and "mockllm/judge-a" in message and "mockllm/judge-b" in message
    result = analyze([folder], Settings(verdict="rule")).result
    assert result["mismatches"] == [] and result["comparisons"][0]["n_pairs"] == LIMIT
