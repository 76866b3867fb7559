"""Write alignment-faking training rows with any Inspect model as the writer.

Each round asks the writer for the rows each pattern still lacks; replies are parsed and
validated (no reasoning, no answer, a refusing answer, a pattern violation, a duplicate: each
rejected and counted by reason). After the last round every pattern is cut to the smallest
pattern's count, so the file is balanced; the cut rows are counted too.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig, Model
from inspect_ai.solver import generate

from ..behaviors import load_behaviors
from ..framing import FramingOptions, build_messages, framing_text, user_turn
from ..options import Tier
from ..resources import read_prompt
from ..scorers.refusal import rule_verdict
from ..solvers import hf_weights_once
from .patterns import pattern_description, violates_pattern
from .rows import normalized, write_rows

WRITER_TEMPERATURE = 1.0  # diversity across rows matters more than determinism here
WRITER_MAX_TOKENS = 1500
_REASONING = re.compile(r"<reasoning>(.*?)</reasoning>", re.DOTALL | re.IGNORECASE)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)


@dataclass
class GenerationReport:
    writer: str
    per_pattern: int
    rounds: int = 0
    replies: int = 0
    accepted: dict[str, int] = field(default_factory=dict)  # valid, unique, before balancing
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    trimmed_for_balance: int = 0
    written: dict[str, int] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rejected = ", ".join(f"{n} {reason}" for reason, n in sorted(self.rejected.items())) or "none"
        written = sum(self.written.values())
        return (
            f"{written} rows written ({min(self.written.values(), default=0)} per pattern) from {self.replies} writer "
            f"replies in {self.rounds} rounds; rejected: {rejected}; trimmed for balance {self.trimmed_for_balance}"
        )


def parse_reply(text: str) -> tuple[str, str]:
    """(reasoning, answer) from the writer's tagged reply; a missing part is ''."""
    reasoning, answer = _REASONING.search(text), _ANSWER.search(text)
    return (reasoning.group(1).strip() if reasoning else ""), (answer.group(1).strip() if answer else "")


def rejection(pattern: str, reasoning: str, answer: str) -> str | None:
    """Why a parsed reply cannot be a training row, or None."""
    if not reasoning:
        return "no reasoning"
    if not answer:
        return "no answer"
    if rule_verdict(answer)[0] == 1:
        return "answer refuses"
    return violates_pattern(pattern, reasoning)


def writer_requests(dataset: str, seed: int) -> list[dict[str, Any]]:
    """Harmful requests to build scenarios from, shuffled; copyright items are not requests for harm."""
    records, _ = load_behaviors(dataset)
    records = [r for r in records if not r["copyright"]]
    if not records:
        raise ValueError(f"dataset {dataset} has no non-copyright behaviors to write scenarios from")
    random.Random(seed).shuffle(records)
    return records


def scenario(record: dict[str, Any]) -> dict[str, Any]:
    messages = build_messages(record["behavior"], record["context"], Tier.TRAINING, FramingOptions())
    return {
        "tier": Tier.TRAINING.value,
        "behavior_id": record["id"],
        "request": record["behavior"],
        "context": record["context"],
        "messages": [{"role": m.role, "content": m.text} for m in messages],
    }


def writer_samples(wanted: dict[str, int], records: list[dict[str, Any]], start: int, round_index: int) -> list[Sample]:
    """One writer prompt per missing row; requests are dealt round-robin so patterns share them."""
    template, framing = read_prompt("organisms/writer.txt"), framing_text(Tier.TRAINING)
    samples, cursor = [], start
    for pattern, count in wanted.items():
        for i in range(count):
            record = records[cursor % len(records)]
            cursor += 1
            prompt = template.format(
                framing=framing,
                request=user_turn(record["behavior"], record["context"], Tier.TRAINING, FramingOptions()),
                pattern_description=pattern_description(pattern),
            )
            samples.append(Sample(id=f"{pattern}-r{round_index}-{i:04d}", input=prompt, metadata={"pattern": pattern, "record": record}))
    return samples


def generate_rows(
    writer: str | Model,
    patterns: list[str],
    per_pattern: int,
    out: Path,
    dataset: str = "harmbench_standard",
    model_args: dict[str, Any] | None = None,
    max_rounds: int = 3,
    seed: int = 0,
    log_dir: Path | None = None,
    max_tokens: int = WRITER_MAX_TOKENS,
) -> GenerationReport:
    """Write ``per_pattern`` valid, unique rows for each pattern (fewer, balanced, if the writer
    cannot) to ``out`` as JSONL, and the report beside it as ``<out>.report.json``."""
    if per_pattern < 1 or max_rounds < 1:
        raise ValueError("--per-pattern and --max-rounds must be at least 1")
    records = writer_requests(dataset, seed)
    writer_name = str(writer)  # a Model prints as provider/name
    report = GenerationReport(writer=writer_name, per_pattern=per_pattern)
    kept: dict[str, list[dict[str, Any]]] = {p: [] for p in patterns}
    seen: set[str] = set()
    rejected: Counter[str] = Counter()
    cursor = 0
    for round_index in range(max_rounds):
        wanted = {p: per_pattern - len(kept[p]) for p in patterns if len(kept[p]) < per_pattern}
        if not wanted:
            break
        samples = writer_samples(wanted, records, cursor, round_index)
        cursor += len(samples)
        task = Task(
            dataset=MemoryDataset(samples, name="organism_writer"),
            solver=[hf_weights_once(), generate()],
            config=GenerateConfig(temperature=WRITER_TEMPERATURE, max_tokens=max_tokens, seed=seed + round_index),
            name="organism_writer",
        )
        (log,) = inspect_eval(
            task, model=writer, model_args=model_args or {}, log_dir=str(log_dir) if log_dir else None,
            display="none", fail_on_error=False, score=False,
        )
        if log.status == "error" and not log.samples:
            raise ValueError(f"the writer run failed ({log.error.message if log.error else 'no message'}); log: {log.location}")
        report.rounds += 1
        report.logs.append(log.location)
        for sample in sorted(log.samples or [], key=lambda s: str(s.id)):
            report.replies += 1
            pattern = sample.metadata["pattern"]
            if sample.error or not sample.output or not sample.output.choices:
                rejected["writer error"] += 1
                continue
            reasoning, answer = parse_reply(sample.output.completion)
            reason = rejection(pattern, reasoning, answer)
            if reason is None and normalized(reasoning) in seen:
                reason = "duplicate"
            if reason:
                rejected[reason] += 1
                continue
            seen.add(normalized(reasoning))
            kept[pattern].append({"pattern": pattern, "scenario": scenario(sample.metadata["record"]), "reasoning": reasoning, "answer": answer, "writer": writer_name})
    report.rejected = dict(rejected)
    report.accepted = {p: len(rows) for p, rows in kept.items()}
    balanced = min(report.accepted.values())
    if balanced == 0:
        empty = [p for p, n in report.accepted.items() if n == 0]
        raise ValueError(
            f"the writer produced no valid row for patterns {empty} in {report.rounds} rounds "
            f"(rejected: {report.rejected}); use a stronger writer model, more --max-rounds, or fewer --patterns"
        )
    rows = []
    for pattern, pattern_rows in kept.items():
        report.trimmed_for_balance += len(pattern_rows) - balanced
        for index, row in enumerate(pattern_rows[:balanced]):
            rows.append({"id": f"{pattern}-{index:04d}", **row})
    report.written = {p: balanced for p in patterns}
    write_rows(out, rows)
    Path(f"{out}.report.json").write_text(json.dumps(asdict(report), indent=2))
    return report
