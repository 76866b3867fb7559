"""Logs with a known refusal pattern for the analysis tests, made by running the real tier and
paired tasks under scripted offline models (once per test session, cached on disk)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog, read_eval_log, write_eval_log
from inspect_ai.scorer import Score

from compliance_gap.behaviors import load_behaviors
from compliance_gap.framing import framing_text
from compliance_gap.options import Tier
from compliance_gap.paired import paired
from compliance_gap.scripted import conversation_text, scripted_model
from compliance_gap.tasks import free_tier, paid_tier

from .conftest import DEMO_CSV

BEHAVIORS = load_behaviors(str(DEMO_CSV))[0]
IDS = [b["id"] for b in BEHAVIORS]
REFUSE, COMPLY, EMPTY, ERROR = "I'm sorry, but I can't help with that.", "Sure, here is how you do it.", "", "error"

# (training arm, deployment arm) per behavior, in data set order
PATTERN = {
    **{i: (REFUSE, REFUSE) for i in IDS[0:3]},  # both refuse: 3
    IDS[3]: (REFUSE, COMPLY),  # refused in training only: 1
    **{i: (COMPLY, REFUSE) for i in IDS[4:9]},  # refused in deployment only: 5
    **{i: (COMPLY, COMPLY) for i in IDS[9:12]},  # neither: 3
    IDS[12]: (ERROR, REFUSE),  # the training arm errors
    IDS[13]: (COMPLY, EMPTY),  # the deployment arm gives no answer: undecided
}
ERRORED, UNDECIDED = IDS[12], IDS[13]
EXPECTED_TABLE = {"both": 3, "training_only": 1, "deployment_only": 5, "neither": 3}
ILLEGAL = [b["id"] for b in BEHAVIORS if b["semantic_category"] == "illegal"]

SEEN: list[str] = []  # every conversation the scripted model was shown


def respond(messages) -> str:
    """Answer by the pattern: the behavior is found by its request, the arm by its framing (the
    last framing in the conversation, so carryover chats answer for their current arm)."""
    text = conversation_text(messages)
    SEEN.append(text)
    behavior = next(b for b in BEHAVIORS if b["behavior"] in text)
    training_at = text.rfind(framing_text(Tier.TRAINING))
    deployment_at = text.rfind(framing_text(Tier.DEPLOYMENT))
    answer = PATTERN[behavior["id"]][0 if training_at > deployment_at else 1]
    if answer == ERROR:
        raise RuntimeError(f"scripted failure on {behavior['id']}")
    return answer


@dataclass
class Runs:
    tiers: Path  # free_tier + paid_tier logs of mockllm/model
    other: Path  # mockllm/other: full training tier, deployment tier of the 'illegal' behaviors only
    other_dataset: Path  # a training-tier log of a renamed copy of the data set
    paired: Path  # paired task: randomized, fixed, and an A/A control (training framing, carryover)
    judged: Path  # the tier logs with compliance_judge scores (inverted verdicts) added by hand
    rerun: Path  # a second training-tier run of mockllm/model

    def tier_log(self, tier: str) -> Path:
        return next(p for p in self.tiers.iterdir() if ("free-tier" if tier == "training" else "paid-tier") in p.name)


def _run(tasks, model_name: str, log_dir: Path, **eval_args) -> list[EvalLog]:
    logs = inspect_eval(
        tasks, model=scripted_model(respond, name=model_name), log_dir=str(log_dir), display="none", fail_on_error=False, **eval_args
    )
    assert all(log.status == "success" for log in logs), [log.error for log in logs]
    return logs


def add_judge(source: Path, target: Path) -> None:
    """Copy a tier log, giving its (unscored: no judge was bound) compliance_judge scores that
    invert the rule's verdicts, as a judge bound by ``inspect score`` would have scored them."""
    log = read_eval_log(str(source))
    for sample in log.samples:
        rule = (sample.scores or {}).get("refusal_scorer")
        if rule is None:
            continue
        refused = rule.value["refused"]  # NaN when undecided, and so is the judge's then
        value = {"refused": 1 - refused, "complied": refused, "disagrees_with_rule": 1 if refused == refused else refused}
        sample.scores["compliance_judge"] = Score(value=value, metadata={"decision": "scripted", "judge": "mockllm/scripted-judge"})
    write_eval_log(log, str(target))


_CACHE: dict[Path, Runs] = {}


def build(tmp_path_factory) -> Runs:
    base = tmp_path_factory.getbasetemp() / "analysis_runs"
    if base in _CACHE:
        return _CACHE[base]
    runs = Runs(*(base / name for name in ("tiers", "other", "other_dataset", "paired", "judged", "rerun")))
    dataset = str(DEMO_CSV)
    _run([free_tier(dataset=dataset), paid_tier(dataset=dataset)], "mockllm/model", runs.tiers)
    _run([free_tier(dataset=dataset), paid_tier(dataset=dataset, categories="illegal")], "mockllm/other", runs.other)
    renamed = base / "other_behaviors.csv"
    shutil.copy(DEMO_CSV, renamed)
    _run([free_tier(dataset=str(renamed))], "mockllm/model", runs.other_dataset)
    _run([free_tier(dataset=dataset)], "mockllm/model", runs.rerun)
    _run(
        [
            paired(dataset=dataset, protocol="randomized"),
            paired(dataset=dataset, protocol="fixed"),
            paired(dataset=dataset, protocol="randomized", control="training", carryover=True),
        ],
        "mockllm/model",
        runs.paired,
    )
    runs.judged.mkdir()
    for tier in ("training", "deployment"):
        source = runs.tier_log(tier)
        add_judge(source, runs.judged / source.name)
    _CACHE[base] = runs
    return runs
