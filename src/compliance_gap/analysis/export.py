"""One JSONL row per sample arm (id, tier, order, prompt, answer, trace, verdicts), for reading
the answers behind the numbers; each row says whether it entered a pair or why not.

The rows are streamed: each log's archive is opened once and its sample entries are read one at a
time, in the log's order (data set order, then epoch), and written as they come. Of an entry, only
the fields rows are made from are parsed into Python and validated as Inspect's ``EvalSample``; the
event transcript, most of an entry's bytes, is scanned past (parsing and validating it was most of
the time of reading a sample). The samples read are exactly those the analysis paired, so an entry
that is missing or damaged is an error naming the file and the entry, never a row left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalSample, read_eval_log
from inspect_ai.model import ChatMessage, ModelOutput
from pydantic import TypeAdapter
from pydantic_core import from_json
from typing_extensions import TypedDict

from .._inspect_compat import open_eval_archive, sample_entry
from ..scorers.motivation import reasoning_trace
from ..scorers.paired import ARM_OUTPUTS, ARM_PROMPTS
from .comparisons import Analysis
from .logs import ComparisonKey, LogHeader, LogSetError, one_line
from .verdicts import arm_verdicts

# of a sample entry, the fields a kind of log's rows are made from (input and target: EvalSample requires them)
ROW_FIELDS = {
    "tier": ("id", "epoch", "input", "target", "messages", "output", "scores", "metadata", "error"),
    "paired": ("id", "epoch", "input", "target", "scores", "store", "metadata", "error"),  # both arms are kept in its store
}
_ENTRY_FIELDS = {kind: TypeAdapter(TypedDict(f"{kind}_fields", dict.fromkeys(names, Any), total=False)) for kind, names in ROW_FIELDS.items()}
ROW_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # one for all rows (json.dumps makes one per call)


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


def _missing(path: str, sample_id: str, epoch: int) -> LogSetError:
    return LogSetError(
        f"{path}: sample {sample_id} (epoch {epoch}) is in the log's summaries but its entry is missing; "
        "the log is damaged: re-run it or restore it from a copy"
    )


def _damaged(path: str, sample_id: str, epoch: int, error: Exception) -> LogSetError:
    return LogSetError(
        f"{path}: cannot read the entry of sample {sample_id} (epoch {epoch}) ({one_line(error)}); "
        "the log is damaged: re-run it or restore it from a copy"
    )


def _eval_entries(path: str, units: list[tuple[str, int]], kind: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """The row fields of the entries of ``units`` of an ``.eval`` log, one entry at a time from one
    open archive."""
    try:
        archive = open_eval_archive(path)
    except Exception as error:  # noqa: BLE001 - an unreadable archive, whatever the cause
        raise LogSetError(f"{path}: cannot read its samples ({one_line(error)}); re-run it or restore it from a copy") from error
    with archive:
        for sample_id, epoch in units:
            try:
                fields = _ENTRY_FIELDS[kind].validate_json(archive.read(sample_entry(sample_id, epoch)))
            except KeyError as error:
                raise _missing(path, sample_id, epoch) from error
            except Exception as error:  # noqa: BLE001 - a damaged entry, whatever the cause
                raise _damaged(path, sample_id, epoch, error) from error
            yield sample_id, epoch, fields


def _json_entries(path: str, units: list[tuple[str, int]], kind: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """The row fields of the entries of ``units`` of a JSON log, which can only be read whole."""
    try:
        samples = from_json(Path(path).read_bytes()).get("samples") or []
        entries = {(str(entry["id"]), entry["epoch"]): entry for entry in samples}
    except Exception as error:  # noqa: BLE001 - an unreadable log, whatever the cause
        raise LogSetError(f"{path}: cannot read its samples ({one_line(error)}); re-run it or restore it from a copy") from error
    for sample_id, epoch in units:
        if (sample_id, epoch) not in entries:
            raise _missing(path, sample_id, epoch)
        entry = entries.pop((sample_id, epoch))
        yield sample_id, epoch, {name: entry[name] for name in ROW_FIELDS[kind] if name in entry}


def stream_samples(header: LogHeader, units: list[tuple[str, int]]) -> Iterator[EvalSample]:
    """The samples ``units`` of one log, in that order, one at a time, with the fields its rows
    are made from (ROW_FIELDS; the others are left at their defaults)."""
    path = header.path
    entries = (_json_entries if path.endswith(".json") else _eval_entries)(path, units, header.kind)
    for sample_id, epoch, fields in entries:
        try:
            sample = EvalSample.model_validate(fields)
        except Exception as error:  # noqa: BLE001 - a damaged entry, whatever the cause
            raise _damaged(path, sample_id, epoch, error) from error
        yield sample


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
    keys = {key: key for key in verdict_of}  # one object per comparison: the status look-ups compare by identity
    for header in analysis.headers:
        log = Path(header.path).name
        for sample in stream_samples(header, units[header.path]):
            metadata = sample.metadata or {}
            key = ComparisonKey.of(header.model, metadata)
            key = keys.setdefault(key, key)
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
                    "log": log,
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
            handle.write(ROW_ENCODER.encode(row) + "\n")
            count += 1
    return count
