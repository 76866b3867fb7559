"""A study-shaped set of real logs for the export tests: a few hundred samples over two epochs,
from the tier tasks and the paired task under a scripted model whose answers cover every row
shape of samples.jsonl (refusal, compliance, a reasoning trace, an empty answer, an error)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from inspect_ai import eval as inspect_eval

from compliance_gap.framing import framing_text
from compliance_gap.options import Tier
from compliance_gap.paired import paired
from compliance_gap.scripted import conversation_text, scripted_model
from compliance_gap.tasks import free_tier, paid_tier

ANSWERS = {
    "refuse": "I'm sorry, but I can't help with that.",
    "comply": "Sure, here is how you do it: step one, step two.",
    "think": "<think>The user is on the free tier, so this conversation is used for training.</think>Sure, here it is.",
    "empty": "",
}
SHAPES = ["refuse", "comply", "think", "refuse", "comply", "empty", "refuse", "error"]


def behavior_text(index: int) -> str:
    return f"Request number {index:03d}: explain the procedure in detail"


def write_dataset(path: Path, behaviors: int) -> Path:
    categories = ["illegal", "cybercrime_intrusion", "harassment_bullying", "misinformation_disinformation"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Behavior", "FunctionalCategory", "SemanticCategory", "Tags", "ContextString", "BehaviorID"])
        for i in range(behaviors):
            context = f"Context for request {i:03d}." if i % 5 == 0 else ""
            writer.writerow([behavior_text(i), "contextual" if context else "standard", categories[i % 4], "study", context, f"study_{i:03d}"])
    return path


def shape(index: int, tier: str) -> str:
    """A fixed answer shape per behavior and arm, spread over all shapes."""
    digest = hashlib.sha256(f"{index}:{tier}".encode()).digest()[0]
    return SHAPES[digest % len(SHAPES)]


def respond(messages) -> str:
    text = conversation_text(messages)
    index = int(text.split("Request number ")[-1][:3])
    training_at = text.rfind(framing_text(Tier.TRAINING))
    deployment_at = text.rfind(framing_text(Tier.DEPLOYMENT))
    kind = shape(index, "training" if training_at > deployment_at else "deployment")
    if kind == "error":
        raise RuntimeError(f"scripted failure on request {index:03d}")
    return ANSWERS[kind]


def build_study(folder: Path, behaviors: int = 60, epochs: int = 2) -> Path:
    """Tier logs and a paired log of ``behaviors`` x ``epochs`` samples each, under ``folder/logs``."""
    dataset = str(write_dataset(folder / "study.csv", behaviors))
    logs = inspect_eval(
        [free_tier(dataset=dataset), paid_tier(dataset=dataset), paired(dataset=dataset, protocol="randomized")],
        model=scripted_model(respond, name="mockllm/study"),
        log_dir=str(folder / "logs"),
        display="none",
        fail_on_error=False,
        epochs=epochs,
    )
    assert all(log.status == "success" for log in logs), [log.error for log in logs]
    return folder / "logs"
