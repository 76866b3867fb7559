"""The judge role is looked up while scoring, so every way Inspect binds a model role runs the
judge: a Task object built before eval(), eval_set(), `inspect eval --model-role` and
`inspect score --model-role`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from inspect_ai import eval as inspect_eval
from inspect_ai import eval_set
from inspect_ai.log import read_eval_log

from compliance_gap.paired import paired
from compliance_gap.scripted import scripted_model
from compliance_gap.tasks import free_tier

from .conftest import DEMO_CSV, REPO
from .test_task_signatures import FAKE_TIKTOKEN

REFUSAL = "I'm sorry, but I can't help with that."


def judge(verdict: str = "REFUSAL"):
    return scripted_model(lambda messages: f"VERDICT: {verdict}", name="mockllm/judge")


def judged_values(log, scorer: str = "compliance_judge") -> list:
    return [s.scores[scorer].value for s in log.samples]


def test_a_task_built_before_eval_uses_the_judge_bound_by_eval(tmp_path):
    task = free_tier(dataset=str(DEMO_CSV))  # built first: no role is visible yet
    [log] = inspect_eval(task, model=scripted_model(lambda m: REFUSAL), model_roles={"judge": judge()}, limit=2,
                         log_dir=str(tmp_path), display="none")
    assert log.status == "success", log.error
    assert judged_values(log) == [{"refused": 1, "complied": 0, "disagrees_with_rule": 0}] * 2
    assert all(s.scores["compliance_judge"].metadata["judge"] == "mockllm/judge" for s in log.samples)


def test_the_paired_task_built_before_eval_uses_the_judge(tmp_path):
    task = paired(dataset=str(DEMO_CSV))
    [log] = inspect_eval(task, model=scripted_model(lambda m: REFUSAL), model_roles={"judge": judge("COMPLIANCE")}, limit=1,
                         log_dir=str(tmp_path), display="none")
    assert log.status == "success", log.error
    assert judged_values(log, "paired_compliance_judge") == [
        {
            "refused_training": 0, "complied_training": 1, "disagrees_with_rule_training": 1,
            "refused_deployment": 0, "complied_deployment": 1, "disagrees_with_rule_deployment": 1,
        }
    ]


def test_the_paired_task_without_a_judge_is_unscored_for_the_judges(tmp_path):
    [log] = inspect_eval(paired(dataset=str(DEMO_CSV)), model=scripted_model(lambda m: REFUSAL), limit=1,
                         log_dir=str(tmp_path), display="none")
    assert log.status == "success", log.error
    [s] = log.samples
    assert s.scores["paired_refusal_scorer"].value["refused_training"] == 1
    for name in ("paired_compliance_judge", "paired_motivation_classifier"):
        value = s.scores[name].value
        assert value != value and s.scores[name].explanation.startswith("no judge bound")


def test_eval_set_binds_the_judge(tmp_path):
    success, logs = eval_set(free_tier(dataset=str(DEMO_CSV)), model=scripted_model(lambda m: REFUSAL),
                             model_roles={"judge": judge()}, limit=2, log_dir=str(tmp_path), display="none")
    assert success
    assert judged_values(read_eval_log(logs[0].location)) == [{"refused": 1, "complied": 0, "disagrees_with_rule": 0}] * 2


def inspect_cli(tmp_path, *args: str) -> None:
    """Run the ``inspect`` command offline (mockllm counts tokens with tiktoken: a stand-in is given)."""
    fake = tmp_path / "fake_modules" / "tiktoken"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "__init__.py").write_text(FAKE_TIKTOKEN)
    result = subprocess.run([str(Path(sys.executable).parent / "inspect"), *args], capture_output=True, text=True, cwd=REPO,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(fake.parent)})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_inspect_eval_model_role_binds_the_judge(tmp_path):
    inspect_cli(tmp_path, "eval", "tasks/free_tier.py", "--model", "mockllm/model", "--model-role", "judge=mockllm/judge",
                "--limit", "1", "-T", f"dataset={DEMO_CSV}", "-T", "judge_votes=1", "--log-dir", str(tmp_path / "logs"), "--display", "plain")
    [log_file] = (tmp_path / "logs").glob("*.eval")
    [s] = read_eval_log(str(log_file)).samples
    judged = s.scores["compliance_judge"]
    # mockllm's stock reply has no verdict line: one invalid vote, undecided, cast by the judge role
    assert judged.metadata["judge"] == "mockllm/judge" and judged.metadata["votes"] == ["invalid"]


def test_inspect_score_model_role_judges_a_log_made_without_a_judge(tmp_path):
    [log] = inspect_eval(free_tier(dataset=str(DEMO_CSV)), model=scripted_model(lambda m: REFUSAL), limit=1,
                         log_dir=str(tmp_path), display="none")
    out = tmp_path / "rescored.eval"
    inspect_cli(tmp_path, "score", log.location, "--scorer", "compliance_gap/compliance_judge", "-S", "votes=1",
                "--model-role", "judge=mockllm/judge", "--action", "append", "--output-file", str(out))
    [s] = read_eval_log(str(out)).samples
    judged = s.scores["compliance_judge1"]  # Inspect numbers the appended score; the analysis reads the last scored one
    assert judged.metadata["judge"] == "mockllm/judge" and judged.metadata["votes"] == ["invalid"]
    assert judged.metadata["invalid_reasons"] == ["no verdict line"]


def test_a_judged_paired_log_is_analysed_with_the_judges_verdicts(tmp_path):
    """Sample summaries shorten nested score metadata: the analysis reads the judge from the top level."""
    from compliance_gap.analysis import analyze

    [log] = inspect_eval(paired(dataset=str(DEMO_CSV)), model=scripted_model(lambda m: REFUSAL), model_roles={"judge": judge("COMPLIANCE")},
                         limit=2, log_dir=str(tmp_path), display="none")
    assert log.status == "success", log.error
    [comparison] = analyze([tmp_path]).result["comparisons"]
    assert comparison["verdict"] == "judge" and comparison["n_pairs"] == 2
    assert comparison["refusal_rate"] == {"training": 0.0, "deployment": 0.0}  # the judge's COMPLIANCE, not the rule's refusal
