"""One JSONL row per sample arm (id, tier, order, prompt, answer, trace, verdicts), for reading
the answers behind the numbers; each row says whether it entered a pair or why not.

The rows are streamed: each log's samples are read once, a chunk at a time through one shared
reader (``read_eval_log_samples_by_id``), in the log's order (data set order, then epoch), and
written as they come. The samples read are exactly those the analysis paired, so a sample entry
that is missing or damaged is an error naming the file and the entry, never a row left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalSample, read_eval_log, read_eval_log_sample, read_eval_log_samples_by_id
from inspect_ai.model import ChatMessage, ModelOutput

from .comparisons import Analysis
from ..scorers.paired import ARM_OUTPUTS, ARM_PROMPTS
from ..scorers.motivation import reasoning_trace
from .logs import ComparisonKey, LogHeader, LogSetError, one_line
from .verdicts import arm_verdicts

CHUNK = 500  # samples held in memory at once while streaming a log


def _render(turns: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"[{role}]\n{text}" for role, text in turns)


def _conversation(messages: list[ChatMessage]) -> str:
    """The messages the model was shown (everything before its final answer)."""
    if messages and messages[-1].role == "assistant":
        messages = messages[:-1]
    return _render([(m.role, m.text) for m in messages])


def _arm_rows(header: LogHeader, sample: EvalSample) -> Iterator[dict[str, Any]]:
    """Each arm's conversation, answer, trace and verdicts: a tier log's from the sample, a paired
    log's from the sample store, where the paired task keeps each arm once."""
    verdicts = arm_verdicts(sample.scores, header.kind == "paired", header.tier)
    if header.kind == "tier":
        outputs = {header.tier: sample.output}
        prompts = {header.tier: _conversation(list(sample.messages))}
    else:
        outputs = {tier: ModelOutput.model_validate(o) for tier, o in (sample.store.get(ARM_OUTPUTS) or {}).items()}
        stored = sample.store.get(ARM_PROMPTS) or {}
        prompts = {tier: _render([(t["role"], t["content"]) for t in turns]) for tier, turns in stored.items() if turns}
    for tier, kinds in verdicts.items():
        output = outputs.get(tier)
        yield {
            "tier": tier,
            "prompt": prompts.get(tier),
            "answer": output.completion if output and output.choices else None,
            "trace": reasoning_trace(output),
            "verdicts": kinds,
        }


def log_units(analysis: Analysis) -> dict[str, list[tuple[str, int]]]:
    """Each log's samples (id, epoch) as the analysis read them, in the log's own order: data set
    order, then epoch."""
    units: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for log, sample_id, epoch in zip(analysis.arms["log"], analysis.arms["id"], analysis.arms["epoch"]):
        units[log].add((sample_id, epoch))
    ordered = {}
    for header in analysis.headers:
        sample_ids = read_eval_log(header.path, header_only=True).eval.dataset.sample_ids or []
        position = {str(sample_id): index for index, sample_id in enumerate(sample_ids)}
        ordered[header.path] = sorted(units[header.path], key=lambda u: (position.get(u[0], len(position)), u[0], u[1]))
    return ordered


def _damaged(path: str, units: list[tuple[str, int]], error: Exception) -> LogSetError:
    """The entry among ``units`` that cannot be read, named (read one by one to find it)."""
    for sample_id, epoch in units:
        try:
            read_eval_log_sample(path, id=sample_id, epoch=epoch)
        except IndexError:
            return LogSetError(
                f"{path}: sample {sample_id} (epoch {epoch}) is in the log's summaries but its entry is missing; "
                "the log is damaged: re-run it or restore it from a copy"
            )
        except Exception as entry_error:  # noqa: BLE001 - whatever makes the entry unreadable
            return LogSetError(
                f"{path}: cannot read the entry of sample {sample_id} (epoch {epoch}) ({one_line(entry_error)}); "
                "the log is damaged: re-run it or restore it from a copy"
            )
    return LogSetError(f"{path}: cannot read its samples ({one_line(error)}); re-run it or restore it from a copy")


def stream_samples(path: str, units: list[tuple[str, int]]) -> Iterator[EvalSample]:
    """The samples ``units`` of one log, in that order, CHUNK at a time (a JSON log, which can
    only be read whole, at once)."""
    chunk = len(units) if path.endswith(".json") else CHUNK
    for start in range(0, len(units), chunk):
        part = units[start : start + chunk]
        try:
            samples = read_eval_log_samples_by_id(path, part)
        except Exception as error:  # noqa: BLE001 - named below, entry by entry
            raise _damaged(path, part, error) from error
        yield from samples


def keyed_rows(analysis: Analysis) -> Iterator[tuple[ComparisonKey, dict[str, Any]]]:
    """Every arm of every sample in the analysed logs, with its pair status, and the comparison
    it belongs to (which the row's fields do not always tell apart)."""
    status: dict[tuple, str] = {}
    verdict_of: dict[ComparisonKey, str] = {}
    for comparison in analysis.comparisons:
        verdict_of[comparison.key] = comparison.verdict
        for pair in comparison.pairs:
            status[(comparison.key, pair.id, pair.epoch)] = "paired"
        for exclusion in comparison.excluded:
            status[(comparison.key, exclusion.id, exclusion.epoch)] = f"excluded: {exclusion.reason}"
    units = log_units(analysis)
    for header in analysis.headers:
        for sample in stream_samples(header.path, units[header.path]):
            metadata = sample.metadata or {}
            key = ComparisonKey.of(header.model, metadata)
            sample_id = str(sample.id)
            for arm in _arm_rows(header, sample):
                yield key, {
                    "id": sample_id,
                    "epoch": sample.epoch,
                    "model": header.model,
                    "mode": key.mode,
                    "placement": key.placement,
                    "control": key.control,
                    "order": metadata.get("order"),
                    **arm,
                    "verdict_used": verdict_of.get(key),
                    "status": status.get((key, sample_id, sample.epoch), "unpaired"),
                    "error": sample.error.message if sample.error else None,
                    "log": Path(header.path).name,
                }


def sample_rows(analysis: Analysis) -> Iterator[dict[str, Any]]:
    """The rows of samples.jsonl."""
    return (row for _, row in keyed_rows(analysis))


def write_samples_jsonl(analysis: Analysis, path: Path, each: Callable[[ComparisonKey, dict[str, Any]], None] | None = None) -> int:
    """Write the rows; returns how many. ``each`` sees every row and its comparison as it is
    written, so a reader of the answers (the report's per-behavior table) needs no second pass."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for key, row in keyed_rows(analysis):
            if each:
                each(key, row)
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            count += 1
    return count
