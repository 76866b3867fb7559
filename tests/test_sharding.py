"""Sharded runs (``-T shard=I/K``): the split, its task arg, and the analysis that merges the
shards back: a run split into K shards analyses to exactly the pairs, gap and p-value of the
same run unsplit; a missing, duplicated or overlapping shard is an error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log, write_eval_log

from compliance_gap.analysis import Settings, analyze
from compliance_gap.analysis.logs import LogSetError
from compliance_gap.behaviors import behavior_dataset
from compliance_gap.paired import paired
from compliance_gap.scripted import scripted_model
from compliance_gap.sharding import Shard, parse_shard, shard_index, take_shard
from compliance_gap.tasks import TaskArgumentError, free_tier, paid_tier

from .analysis_runs import IDS, respond
from .conftest import DEMO_CSV

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
    with pytest.raises(LogSetError, match=r"incomplete: training tier of mockllm/model · standard · system: shard 1 of 3 missing, run with -T shard=1/3 \(have \S+ \(shard 0/3\), \S+ \(shard 2/3\)\);"):
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
    kept, record = take_shard(samples, Shard(1, 4))
    reordered = type(samples)(list(samples)[::-1] + [samples[0].model_copy(update={"id": "added_behavior"})], name=samples.name)
    kept_again, record_again = take_shard(reordered, Shard(1, 4))
    assert {s.id for s in kept} == {s.id for s in kept_again} - {"added_behavior"}
    assert record_again["shard"]["dataset_hash"] != record["shard"]["dataset_hash"]  # another data set: shards do not mix
    reversed_only, record_reversed = take_shard(type(samples)(list(samples)[::-1], name=samples.name), Shard(1, 4))
    assert record_reversed == record  # the same data set in another order is the same data set
