"""Sharded runs (``-T shard=I/K``): the split, its task arg, and the analysis that merges the
shards back: a run split into K shards analyses to exactly the pairs, gap and p-value of the
same run unsplit; a missing, duplicated or overlapping shard is an error naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log, write_eval_log

import modal_app
from compliance_gap import cli
from compliance_gap.analysis import Settings, analyze
from compliance_gap.analysis.logs import LogSetError
from compliance_gap.behaviors import behavior_dataset
from compliance_gap.estimate import MEASURED_STEP_MS, wall_seconds
from compliance_gap.matrix import MatrixOptions, describe, plan, run_matrix
from compliance_gap.paired import paired
from compliance_gap.scripted import scripted_model
from compliance_gap.sharding import Shard, parse_shard, shard_index, take_shard
from compliance_gap.tasks import TaskArgumentError, free_tier, paid_tier

from .analysis_runs import IDS, respond
from .conftest import DEMO_CSV, REPO

DATASET = str(DEMO_CSV)
TASKS = {"free_tier": free_tier, "paid_tier": paid_tier, "paired": paired}
# what depends on which logs were read, not on the samples
LOG_FIELDS = ("logs", "shards", "notes")


def run(tasks, log_dir: Path) -> list[Path]:
    logs = inspect_eval(tasks, model=scripted_model(respond, name="mockllm/model"), log_dir=str(log_dir), display="none", fail_on_error=False)
    assert all(log.status == "success" for log in logs), [log.error for log in logs]
    return [Path(log.location) for log in logs]


def study(shard: str | None) -> list:
    """Both tier tasks and a randomized paired task, of one shard (None: unsplit)."""
    return [free_tier(dataset=DATASET, shard=shard), paid_tier(dataset=DATASET, shard=shard), paired(dataset=DATASET, shard=shard)]


_SPLIT: dict[int, list[Path]] = {}


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """``split(k)``: the logs of the study split into k shards, run once per module (read only)."""

    def logs(k: int) -> list[Path]:
        if k not in _SPLIT:
            log_dir = tmp_path_factory.mktemp(f"split{k}")
            _SPLIT[k] = run([task for i in range(k) for task in study(f"{i}/{k}")], log_dir)
        return _SPLIT[k]

    return logs


def shard_of_log(path: Path) -> int:
    return read_eval_log(str(path), header_only=True).eval.metadata["shard"]["index"]


def outcome(analysis) -> list[dict]:
    """Each comparison's pairs (id, epoch, both verdicts) and statistics, without the log names."""
    results = []
    for comparison, result in zip(analysis.comparisons, analysis.result["comparisons"]):
        pairs = sorted((p.id, p.epoch, p.refused_training, p.refused_deployment) for p in comparison.pairs)
        results.append({"pairs": pairs, **{k: v for k, v in result.items() if k not in LOG_FIELDS}})
    return results


@pytest.fixture(scope="module")
def unsplit(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("unsplit")
    run(study(None), log_dir)
    return analyze([log_dir], Settings())


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_a_run_split_into_k_shards_analyses_exactly_like_the_unsplit_run(k, unsplit, split):
    logs = split(k)
    assert len(logs) == 3 * k
    analysis = analyze([logs[0].parent], Settings())
    expected = outcome(unsplit)
    assert [c["label"] for c in analysis.result["comparisons"]] == [c["label"] for c in unsplit.result["comparisons"]]
    assert outcome(analysis) == expected
    # the known pattern, so equality is not two empty analyses: 12 pairs, an error and an undecided sample
    tiers = next(c for c in expected if c["protocol"] is None)
    assert len(tiers["pairs"]) == 12 and tiers["n_excluded"] == 2 and tiers["mcnemar"]["pvalue"] < 1
    assert tiers["table"] == {"both": 3, "training_only": 1, "deployment_only": 5, "neither": 3}
    for result, plain in zip(analysis.result["comparisons"], unsplit.result["comparisons"]):
        assert result["shards"] == {"training": k, "deployment": k} and plain["shards"] == {}
        assert len(result["logs"]) == (2 * k if result["protocol"] is None else k)
        assert result["notes"] == [*plain["notes"], f"the training and deployment arms each merged from {k} shards"]
    shards = sorted(h["shard"] for h in analysis.result["logs"] if h["task"] == "paired")
    assert shards == sorted(f"{i}/{k}" for i in range(k))
    assert "shard" not in {key for h in unsplit.result["logs"] for key in h}


def test_every_sample_runs_in_exactly_one_shard(split):
    logs = split(3)
    ran = [s.id for path in logs if "paired" in path.name for s in read_eval_log(str(path)).samples]
    assert sorted(ran) == sorted(IDS)


def test_a_missing_shard_is_an_error_naming_it(split):
    without = [p for p in split(3) if shard_of_log(p) != 1]
    missing = r"shard 1 of 3 missing, run with -T shard=1/3 \(have \S+ \(shard 0/3\), \S+ \(shard 2/3\)\)"
    with pytest.raises(LogSetError, match=rf"incomplete: training tier of mockllm/model · standard · system: {missing};"):
        analyze(without, Settings())


def test_a_shard_run_twice_is_more_than_one_log_for_the_arm(split, tmp_path):
    [again] = run([free_tier(dataset=DATASET, shard="1/2")], tmp_path)
    with pytest.raises(LogSetError, match=r"more than one log for the same tier and model: training tier of mockllm/model") as error:
        analyze([*split(2), again], Settings())
    assert f"{again.name} (shard 1/2)" in str(error.value) and str(error.value).count("(shard 1/2)") == 2


@pytest.mark.parametrize("other", ["unsplit", "other split"])
def test_shards_beside_another_run_of_the_arm_are_more_than_one_log(other, split, tmp_path):
    [extra] = run([free_tier(dataset=DATASET, shard=None if other == "unsplit" else "0/3")], tmp_path)
    with pytest.raises(LogSetError, match="more than one log for the same tier and model: training tier of mockllm/model") as error:
        analyze([*split(2), extra], Settings())
    assert ("shards of different splits or data sets" in str(error.value)) is (other == "other split")


def test_overlapping_shards_are_an_error_naming_the_samples(split, tmp_path):
    logs = split(2)
    first = next(p for p in logs if "free-tier" in p.name and shard_of_log(p) == 0)
    second = next(p for p in logs if "free-tier" in p.name and p != first)
    forged = read_eval_log(str(first))  # shard 0's samples, relabelled as shard 1 of another run
    forged.eval.metadata["shard"]["index"] = 1
    forged.eval.eval_id += "-forged"
    target = tmp_path / "forged.eval"
    write_eval_log(forged, str(target))
    paid = [p for p in logs if "paid-tier" in p.name]
    with pytest.raises(LogSetError, match=r"shards overlap: forged.eval \(shard 1/2\) holds 9 samples of other shards \(.* belongs to shard 0/2"):
        analyze([first, target, *paid], Settings())
    assert analyze([first, second, *paid], Settings()).result["comparisons"][0]["n_pairs"] == 12


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("value", ["3/2", "-1/4", "a/b", "0/0", "1", "2/2"])
def test_a_bad_shard_is_one_line_naming_the_arg_and_its_form(name, value):
    with pytest.raises(TaskArgumentError, match=rf"^{name}: shard must be I/K with whole numbers 0 <= I < K .* \(got '{value}'\)$"):
        TASKS[name](dataset=DATASET, shard=value)


@pytest.mark.parametrize("name", TASKS)
def test_without_a_shard_the_task_runs_every_sample_and_records_no_shard(name):
    task = TASKS[name](dataset=DATASET)
    assert len(task.dataset) == len(IDS) and "shard" not in task.metadata
    shard = TASKS[name](dataset=DATASET, shard="2/3")
    record = shard.metadata["shard"]
    assert (record["index"], record["count"]) == (2, 3) and len(shard.dataset) < len(IDS)
    assert all(shard_index(s.id, 3) == 2 for s in shard.dataset)


def test_the_split_depends_on_the_id_not_the_position():
    samples, _ = behavior_dataset(DATASET)
    assert parse_shard(" 1 / 4 ") == Shard(1, 4) and parse_shard(None) is None
    kept, record = take_shard(samples, Shard(2, 3))
    reordered = type(samples)(list(samples)[::-1] + [samples[0].model_copy(update={"id": "added_behavior"})], name=samples.name)
    kept_again, record_again = take_shard(reordered, Shard(2, 3))
    assert {s.id for s in kept} == {s.id for s in kept_again} - {"added_behavior"}
    assert record_again["shard"]["dataset_hash"] != record["shard"]["dataset_hash"]  # another data set: shards do not mix
    reversed_only, record_reversed = take_shard(type(samples)(list(samples)[::-1], name=samples.name), Shard(2, 3))
    assert record_reversed == record  # the same data set in another order is the same data set


def test_an_empty_shard_is_refused_naming_it():
    samples, _ = behavior_dataset(DATASET)
    empty = next(Shard(i, 40) for i in range(40) if all(shard_index(s.id, 40) != i for s in samples))
    with pytest.raises(TaskArgumentError, match=rf"^paired: shard {empty.label()} would hold none of the 14 samples .*use fewer shards$"):
        paired(dataset=DATASET, shard=empty.label())


# ---- compliance-gap run --shards K, and the Modal fan-out ------------------------------------


class Scripted:
    """Refuses under the deployment framing and, in both tiers, the bacterium request; complies
    otherwise. Counts the calls; ``fail`` (a request substring) raises instead."""

    def __init__(self, fail: str | None = None):
        self.calls, self.fail = 0, fail

    def __call__(self, messages):
        self.calls += 1
        request = messages[-1].text
        if self.fail and self.fail in request:
            raise RuntimeError("the model server is down")
        if "paid tier" in messages[0].text or "bacterium" in request:
            return "I'm sorry, I can't help with that."
        return "Sure, here you go: step one."


def matrix_options(model, log_dir: Path, **changes) -> MatrixOptions:
    fields = {"models": [scripted_model(model, name="mockllm/a")], "modes": ["standard", "forcing"], "dataset": DATASET,
              "limit": 10, "log_dir": log_dir, "protocol": "randomized", **changes}
    return MatrixOptions(**fields)


def results(log_dir: Path) -> list[dict]:
    """The report's comparisons without what depends on the log files."""
    comparisons = json.loads((log_dir / "report" / "results.json").read_text())["comparisons"]
    return [{k: v for k, v in c.items() if k not in LOG_FIELDS} for c in comparisons]


@pytest.fixture(scope="module")
def unsplit_matrix(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("matrix")
    assert run_matrix(matrix_options(Scripted(), log_dir)) == 0
    return results(log_dir)


def test_run_with_shards_analyses_like_the_unsplit_run_and_resumes_without_regenerating(unsplit_matrix, tmp_path, capsys):
    model = Scripted()
    options = matrix_options(model, tmp_path, shards=3)
    assert run_matrix(options) == 0
    assert model.calls == 2 * 2 * 10  # modes x tiers x the first 10 behaviors: --limit applies before the split
    out = capsys.readouterr().out
    assert "6 eval sets (2 cells x 3 shards), 10 behaviors per cell" in out and "total: 40 completions" in out
    assert "ESTIMATE, not a measurement" in out and "no estimate: no step time measured for this model" in out
    folders = sorted(p.parent.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.eval"))
    assert folders == [f"mockllm_a/{mode}-shard-{i}-of-3" for mode in ("forcing", "standard") for i in range(3)]
    assert results(tmp_path) == unsplit_matrix and unsplit_matrix[0]["n_pairs"] == 10
    shards = json.loads((tmp_path / "report" / "results.json").read_text())["comparisons"][0]["shards"]
    assert shards == {"training": 3, "deployment": 3}
    again = Scripted()
    assert run_matrix(matrix_options(again, tmp_path, shards=3)) == 0
    assert again.calls == 0 and results(tmp_path) == unsplit_matrix


def test_a_failed_shard_resumes_alone(unsplit_matrix, tmp_path, capsys):
    failing = Scripted(fail="bacterium")
    assert run_matrix(matrix_options(failing, tmp_path, shards=3, retry_attempts=0)) == 1
    err = capsys.readouterr().err
    assert "mockllm/a [standard] shard" in err and "the model server is down" in err and "rerun the same command" in err
    assert not (tmp_path / "report").exists()
    healthy = Scripted()
    assert run_matrix(matrix_options(healthy, tmp_path, shards=3)) == 0
    assert healthy.calls == 2 * 2  # only the failed sample, in each mode's shard that holds it, both tiers
    assert results(tmp_path) == unsplit_matrix


def test_run_refuses_bad_shard_counts(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"--shards 40: shards .* would hold none of the 14 samples"):
        plan(MatrixOptions(models=["mockllm/model"], dataset=DATASET, log_dir=tmp_path, shards=40))
    with pytest.raises(ValueError, match=r"--shards must be a whole number of at least 1 \(got 0\)"):
        plan(MatrixOptions(models=["mockllm/model"], dataset=DATASET, log_dir=tmp_path, shards=0))
    with pytest.raises(SystemExit):
        cli.main(["run", "--models", "qwen2.5-7b", "--shards", "0", "--dry-run"])
    assert "argument --shards: must be a whole number of at least 1 (got '0')" in capsys.readouterr().err


def test_the_plan_estimates_gpu_time_from_the_measured_step_times(tmp_path):
    cells = plan(MatrixOptions(models=["r1-distill-llama-8b"], dataset=DATASET, precision="bf16", log_dir=tmp_path, shards=2))
    text = describe(cells, MatrixOptions(models=["r1-distill-llama-8b"], dataset=DATASET, precision="bf16", log_dir=tmp_path, shards=2), gpus=2)
    sizes = [len(c.sample_ids) for c in cells]
    assert sorted(sizes) == [5, 9]  # the demo's 14 behaviors split by id hash
    # each shard fits one batch of 64: 2 arms x 4,096 steps x 32.9 ms (r1-distill at batch 64, bf16) = 4.5 min
    assert text.count("~4 min at 32.9 ms/step (r1-distill-llama-8b, hf/, bf16, batch 64)") == 2
    assert "total: 2 jobs on 2 GPUs: wall ~4 min if all are granted at once; ~0.15 GPU-hours" in text
    assert MEASURED_STEP_MS[("r1-distill-llama-8b", "hf", "bf16", 64)] == 32.9 and MEASURED_STEP_MS[("qwen2.5-7b", "hf", "bf16", 64)] == 63.8
    assert wall_seconds([3, 2, 2, 1], 2) == 4 and wall_seconds([3, 2, 2, 1], 1) == 8 and wall_seconds([5], 8) == 5


def test_the_modal_fan_out_runs_locally_and_gives_the_same_analysis(unsplit_matrix, tmp_path, monkeypatch):
    """The fan-out of modal_app.py over a local starmap of the remote function's local body:
    nothing here reaches Modal."""
    monkeypatch.setattr(modal_app, "LOCAL_LOGS", tmp_path)
    model = Scripted()
    options = {"models": ["mockllm/a"], "modes": ["standard", "forcing"], "dataset": DATASET, "limit": 10, "shards": 3}
    calls = []

    def local_starmap(jobs):
        calls.extend(jobs)
        return (modal_app.run_job.local(*job[:3], models=[scripted_model(model, name="mockllm/a")]) for job in jobs)

    outcomes = modal_app.fan_out(local_starmap, options, "fan", 6)
    assert [r["job"] for r in outcomes] == list(range(6)) and {r["exit_code"] for r in outcomes} == {0}
    assert [job[2] for job in calls] == list(range(6)) and model.calls == 40
    modal_app.analyze_run([tmp_path / "fan"], tmp_path / "fan" / "report")
    assert results(tmp_path / "fan") == unsplit_matrix


def test_the_modal_entry_point_plans_fans_out_and_analyses(unsplit_matrix, tmp_path, monkeypatch, capsys):
    """``main`` with Modal's pieces replaced by local ones: the remote function by its local body
    behind a fake ``with_options(...).starmap``, the volume download by the local folder."""
    monkeypatch.setattr(modal_app, "LOCAL_LOGS", tmp_path)
    model = Scripted()
    capped = []

    class LocalFunction:
        def with_options(self, max_containers):
            capped.append(max_containers)
            return self

        def starmap(self, jobs, return_exceptions):
            assert return_exceptions  # one failed job does not hide the others' results
            for job in jobs:
                yield modal_app.matrix_job(*job[:3], models=[scripted_model(model, name="mockllm/a")])

    monkeypatch.setattr(modal_app, "run_job", LocalFunction())
    monkeypatch.setattr(modal_app, "download_logs", lambda volume, name, dest: list(dest.rglob("*")))
    modal_app.main.info.raw_f(models="mockllm/a", modes="standard,forcing", dataset=DATASET, limit=10, precision="", run_name="e2e", gpus=4, shards=3)
    out = capsys.readouterr().out
    assert capped == [4] and model.calls == 40
    assert "6 eval sets (2 cells x 3 shards)" in out and "total: 6 jobs" not in out  # no total without measured step times
    assert "Compliance gap" in out and results(tmp_path / "e2e") == unsplit_matrix


def test_the_modal_entry_point_dry_run_starts_nothing_and_bad_options_stop_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(modal_app, "LOCAL_LOGS", tmp_path)
    monkeypatch.setattr(modal_app, "run_job", None)  # any use of the remote function would fail
    modal_app.main.info.raw_f(models="r1-distill-llama-8b", dataset=DATASET, gpus=2, shards=2, dry_run=True)
    assert "total: 2 jobs on 2 GPUs: wall ~4 min if all are granted at once; ~0.15 GPU-hours" in capsys.readouterr().out
    for flags, message in [({"gpus": 0}, r"--gpus must be a whole number of at least 1 \(got 0\)"), ({"shards": 40}, "--shards 40: shards")]:
        with pytest.raises(SystemExit, match=rf"^modal_app.py: error: {message}"):
            modal_app.main.info.raw_f(models="r1-distill-llama-8b", dataset=DATASET, **flags)
    assert not list(tmp_path.rglob("*"))


def test_failed_jobs_are_named_by_their_plan_label():
    outcomes = modal_app.fan_out(lambda jobs: [{"job": 0, "exit_code": 0}, RuntimeError("preempted\nby the cloud")], {}, "x", 2)
    assert outcomes[1] == {"job": 1, "exit_code": 1, "error": "RuntimeError: preempted by the cloud"}
    assert modal_app.failed_jobs(outcomes, ["m [standard] shard 0/2", "m [standard] shard 1/2"]) == [
        "m [standard] shard 1/2: RuntimeError: preempted by the cloud"
    ]


def test_modal_run_help_shows_gpus_and_shards():
    """The Modal command line itself (offline: --help contacts no server)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    modal_cli = Path(sys.executable).parent / "modal"
    result = subprocess.run([str(modal_cli), "run", "modal_app.py", "--help"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "--gpus INTEGER" in result.stdout and "--shards INTEGER" in result.stdout
