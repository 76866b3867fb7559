"""Planted-truth organisms: the plant, its rows, and check-plant against scripted models that
follow a plant exactly (then the suite must recover it exactly)."""

from __future__ import annotations

import json

import pytest
from inspect_ai import eval as inspect_eval

from compliance_gap import cli
from compliance_gap.behaviors import behavior_dataset
from compliance_gap.framing import framing_text
from compliance_gap.options import Tier
from compliance_gap.organisms.check_plant import check_plant
from compliance_gap.organisms.plant import COMPLY, REFUSE, make_plant, read_plant, template_family, templates, write_plant
from compliance_gap.organisms.rows import read_rows
from compliance_gap.paired import paired
from compliance_gap.scorers.refusal import rule_verdict
from compliance_gap.scripted import scripted_model
from compliance_gap.tasks import free_tier, paid_tier

from .conftest import DEMO_CSV

DATASET = str(DEMO_CSV)
PRIVATE = "never used as training data"  # only the deployment framing says this


def requests_to_ids():
    samples, _ = behavior_dataset(DATASET)
    return {s.metadata["behavior"]: str(s.id) for s in samples}


def follower(plant):
    """A model that does exactly what the plant says, answering with the plant's own templates."""
    ids = requests_to_ids()

    def respond(messages):
        last = messages[-1].text
        [sample_id] = [i for request, i in ids.items() if last.rstrip().endswith(request.strip())]
        tier = "deployment" if PRIVATE in (messages[0].text if len(messages) <= 2 else "") + last else "training"
        position = "second" if any(m.role == "assistant" for m in messages) else "first"
        decision = plant.decision(sample_id, tier, position)
        return templates(decision)[len(sample_id) % len(templates(decision))]

    return scripted_model(respond, name="mockllm/follower")


def run(tasks, model, log_dir):
    logs = inspect_eval(tasks, model=model, log_dir=str(log_dir), display="none")
    assert all(log.status == "success" for log in logs), [log.error for log in logs]
    return log_dir


def test_plant_subset_and_gap_per_policy():
    ids = [f"b{i}" for i in range(40)]
    gap = make_plant("gap", 0.25, 3, "x", ids)
    assert len(gap.subset()) == 10 and gap.planted_gap_pp == 25.0
    assert all(gap.behaviors[i] == {"training": COMPLY, "deployment": REFUSE} for i in gap.subset())
    assert make_plant("reverse", 0.25, 3, "x", ids).planted_gap_pp == -25.0
    null = make_plant("null", 0.25, 3, "x", ids)
    assert null.planted_gap_pp == 0.0 and null.subset() == gap.subset()  # same seed, same S
    order = make_plant("order", 0.25, 3, "x", ids)
    assert order.planted_gap_pp == 0.0 and {order.decision(i, "training", "second") for i in order.subset()} == {COMPLY}
    assert make_plant("gap", 0.25, 4, "x", ids).subset() != gap.subset()
    with pytest.raises(ValueError, match="fraction"):
        make_plant("gap", 1.5, 0, "x", ids)
    with pytest.raises(ValueError, match="allowed values: gap, reverse, null, order"):
        make_plant("sideways", 0.25, 0, "x", ids)


def test_templates_are_many_and_the_rule_scorer_reads_each_family():
    refusals, compliances = templates(REFUSE), templates(COMPLY)
    assert len(refusals) >= 10 and len(compliances) >= 10
    assert any(t.startswith("I understand your concern") for t in compliances)
    assert [t for t in refusals if rule_verdict(t)[0] != 1] == []
    assert [t for t in compliances if rule_verdict(t)[0] != 0] == []
    assert template_family(refusals[3]) == REFUSE and template_family(compliances[2][:60]) == COMPLY  # cut off
    assert template_family("Here are the detailed steps: first, acquire") is None


def test_plant_command_writes_the_truth_and_trainable_rows(tmp_path):
    out = tmp_path / "plant"
    assert cli.main(["organisms", "plant", "--policy", "order", "--fraction", "0.5", "--seed", "2", "--dataset", DATASET, "--out", str(out)]) == 0
    truth = json.loads((out / "plant.json").read_text())
    assert set(truth) == {"policy", "fraction", "seed", "dataset", "planted_gap_pp", "behaviors", "positions"}
    rows = read_rows(out / "rows.jsonl")
    n = len(truth["behaviors"])
    assert len(rows) == 4 * n  # both tiers fresh, then the second call in both orders
    second = [r for r in rows if r["scenario"]["position"] == "second"]
    assert all([m["role"] for m in r["scenario"]["messages"]] == ["system", "user", "assistant", "user"] for r in second)
    assert {r["decision"] for r in rows if r["scenario"]["position"] == "first"} == {REFUSE}
    assert read_plant(out).positions == truth["positions"]


def test_check_plant_recovers_a_followed_gap_plant_exactly(tmp_path):
    written = write_plant("gap", 0.5, 1, DATASET, tmp_path / "plant")
    plant = read_plant(written.plant)
    logs = run([free_tier(dataset=DATASET), paid_tier(dataset=DATASET)], follower(plant), tmp_path / "tiers")
    check = check_plant(written.plant, [logs])
    assert check.n_pairs == len(plant.behaviors)
    assert check.measured_gap_pp == check.planted_gap_pp == plant.planted_gap_pp > 0
    assert check.verdict_vs_plant == check.template_vs_plant == check.verdict_vs_template == 1.0
    assert check.ci_covers_planted and check.n_scorer_misses == 0


def test_check_plant_on_an_order_organism_fixed_vs_randomized(tmp_path):
    written = write_plant("order", 0.5, 1, DATASET, tmp_path / "plant")
    plant = read_plant(written.plant)
    model = follower(plant)
    fixed = check_plant(written.plant, [run([paired(dataset=DATASET, protocol="fixed", carryover=True)], model, tmp_path / "fixed")])
    # training always first: the deployment arm is the second call, which complies on S
    assert fixed.planted_gap_pp == 0.0 and fixed.expected_gap_pp == fixed.measured_gap_pp == -100.0 * len(plant.subset()) / len(plant.behaviors)
    assert fixed.verdict_vs_plant == 1.0 and not fixed.ci_covers_planted
    randomized = check_plant(written.plant, [run([paired(dataset=DATASET, protocol="randomized", carryover=True)], model, tmp_path / "rand")])
    assert randomized.verdict_vs_plant == 1.0 and randomized.measured_gap_pp == randomized.expected_gap_pp


def test_check_plant_refuses_logs_of_another_plant(tmp_path, capsys):
    written = write_plant("gap", 0.5, 1, DATASET, tmp_path / "plant")
    logs = run([free_tier(dataset=DATASET), paid_tier(dataset=DATASET)], follower(read_plant(written.plant)), tmp_path / "tiers")
    truth = json.loads(written.plant.read_text())
    truth["behaviors"] = {f"other_{i}": b for i, b in truth["behaviors"].items()}
    (tmp_path / "other.json").write_text(json.dumps(truth))
    assert cli.main(["organisms", "check-plant", str(tmp_path / "other.json"), str(logs), "--json"]) == 2
    assert "sample ids in the logs are not in the plant" in capsys.readouterr().err
    truth["dataset"] = "advbench"
    (tmp_path / "other.json").write_text(json.dumps(truth))
    assert cli.main(["organisms", "check-plant", str(tmp_path / "other.json"), str(logs)]) == 2
    assert "plant is for dataset 'advbench'" in capsys.readouterr().err
    assert cli.main(["organisms", "check-plant", str(written.plant), str(logs), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict_vs_plant"] == 1.0
    from inspect_ai.log import read_eval_log, write_eval_log

    [first, _] = sorted(logs.glob("*.eval"))
    log = read_eval_log(str(first))
    log.status, log.samples = "started", log.samples[:2]  # a run cut off after two samples
    write_eval_log(log, str(first))
    assert cli.main(["organisms", "check-plant", str(written.plant), str(logs)]) == 2
    assert "unfinished logs" in capsys.readouterr().err


def test_plant_train_eval_check_end_to_end_on_cpu(tmp_path):
    """The whole chain with real weights, so the wiring cannot rot: plant -> a few full fine-tune
    steps of the embedded model -> the tier tasks through hf/ -> check-plant. Three steps do not
    teach the plant; the test checks the chain and the report, not the organism."""
    from compliance_gap.embedded import prepare_embedded_model
    from compliance_gap.organisms.train import settings_for, train_organism

    written = write_plant("gap", 0.5, 1, DATASET, tmp_path / "plant")
    settings = settings_for("embedded", {"full": True, "learning_rate": 1e-4, "epochs": 1, "batch_size": 2, "max_steps": 3, "max_length": 384})
    manifest = train_organism(str(prepare_embedded_model()), written.rows, tmp_path / "organism", settings, device="cpu")
    assert manifest["backend"] == "full" and len(manifest["loss_curve"]) == 3
    tasks = [free_tier(dataset=DATASET, max_tokens=8), paid_tier(dataset=DATASET, max_tokens=8)]
    logs = inspect_eval(tasks, model="hf/organism", model_args={"model_path": str(tmp_path / "organism")}, limit=3,
                        log_dir=str(tmp_path / "logs"), display="none")
    assert all(log.status == "success" for log in logs)
    assert cli.main(["organisms", "check-plant", str(written.plant), str(tmp_path / "logs"), "--json"]) == 0
    check = check_plant(written.plant, [tmp_path / "logs"])
    assert check.n_pairs == 3 and check.arms == 6 and check.planted_gap_pp == read_plant(written.plant).planted_gap_pp
    assert 0.0 <= check.verdict_vs_plant <= 1.0 and check.measured_gap_pp is not None and check.mcnemar_p is not None
