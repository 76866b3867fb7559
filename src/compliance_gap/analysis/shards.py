"""Logs that are the shards of one run (``-T shard=I/K``) count as one log of each arm they hold.

Shards belong together when they hold the same arm of one comparison (same model and design),
were cut from the same data set (the full-data-set hash each records) into the same number of
shards, and every index from 0 to K-1 is there once. The decoding, judge and scorer settings are
compared between all the logs of a comparison, shards included, by ``logs.setup_mismatches``.
A missing shard, a shard run twice, a shard that holds another shard's samples, or shards mixed
with another run of the same arm are errors that name the logs and the fix.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..options import Tier
from ..sharding import SHARD_KEY, Shard, shard_index

if TYPE_CHECKING:
    from .logs import Arm, LogHeader


@dataclass(frozen=True)
class ShardRecord(Shard):
    """What a sharded log records in ``eval.metadata["shard"]``."""

    dataset_hash: str = ""  # of the full data set the shard was cut from


def shard_record(metadata: dict[str, Any] | None) -> ShardRecord | None:
    record = (metadata or {}).get(SHARD_KEY)
    if record is None:
        return None
    return ShardRecord(int(record["index"]), int(record["count"]), str(record["dataset_hash"]))


def _name(header: LogHeader) -> str:
    return f"{header.name} (shard {header.shard.label()})" if header.shard else header.name


def runs_of(logs: set[str], by_path: dict[str, LogHeader]) -> list[list[LogHeader]]:
    """The logs of one arm grouped into runs: all the shards of one split form one run, any
    other log is a run of its own."""
    split: dict[tuple[int, str], list[LogHeader]] = defaultdict(list)
    runs: list[list[LogHeader]] = []
    for path in sorted(logs):
        header = by_path[path]
        if header.shard is None:
            runs.append([header])
        else:
            split[(header.shard.count, header.shard.dataset_hash)].append(header)
    return runs + list(split.values())


def run_problem(what: str, runs: list[list[LogHeader]]) -> tuple[str, str] | None:
    """Why the logs of one arm (``what``, e.g. "training tier of <comparison>") cannot be read as
    one run, as (kind, message): kind "several" (more than one run, or a shard run twice) or
    "missing" (a shard is absent); None when they can."""
    if len(runs) > 1:
        listing = ", ".join(_name(h) for run in runs for h in run)
        splits = {(h.shard.count, h.shard.dataset_hash) for run in runs for h in run if h.shard}
        detail = " (shards of different splits or data sets)" if len(splits) > 1 else ""
        return "several", f"{what}: {listing}{detail}"
    [run] = runs
    if run[0].shard is None:
        return None
    count = run[0].shard.count
    by_index: dict[int, list[LogHeader]] = defaultdict(list)
    for header in run:
        by_index[header.shard.index].append(header)
    twice = [headers for headers in by_index.values() if len(headers) > 1]
    if twice:
        return "several", f"{what}: " + "; ".join(", ".join(_name(h) for h in headers) for headers in twice)
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        have = ", ".join(_name(h) for h in sorted(run, key=lambda h: h.shard.index))
        shards = ", ".join(str(i) for i in missing)
        run_them = ", ".join(f"-T shard={i}/{count}" for i in missing)
        return "missing", f"{what}: shard{'s' if len(missing) > 1 else ''} {shards} of {count} missing, run with {run_them} (have {have})"
    return None


def misplaced_samples(arms: list[Arm], by_path: dict[str, LogHeader]) -> list[str]:
    """Samples held by a shard log that the split puts in another shard: such logs overlap the
    shard that owns them (or were cut by another split), so their samples would count twice."""
    wrong: dict[str, dict[str, None]] = defaultdict(dict)  # log -> ids, in order, once (a paired sample has two arms)
    for arm in arms:
        shard = by_path[arm.log].shard
        if shard is not None and shard_index(arm.id, shard.count) != shard.index:
            wrong[arm.log][arm.id] = None
    problems = []
    for log, ids in wrong.items():
        shard = by_path[log].shard
        owners = ", ".join(f"{i} belongs to shard {shard_index(i, shard.count)}/{shard.count}" for i in list(ids)[:3])
        more = ", ..." if len(ids) > 3 else ""
        problems.append(f"{Path(log).name} (shard {shard.label()}) holds {len(ids)} samples of other shards ({owners}{more})")
    return problems


def shard_counts(arms: list[Arm], by_path: dict[str, LogHeader]) -> dict[str, int]:
    """For each arm merged from shards, how many (training first)."""
    counts = {arm.tier: by_path[arm.log].shard.count for arm in arms if by_path[arm.log].shard is not None}
    return {tier.value: counts[tier.value] for tier in Tier if tier.value in counts}


def shards_note(counts: dict[str, int]) -> list[str]:
    """The comparison's note on its arms merged from shards (none when no arm was)."""
    if len(counts) == len(Tier) and len(set(counts.values())) == 1:
        return [f"the training and deployment arms each merged from {counts[Tier.TRAINING.value]} shards"]
    return [f"the {tier} arm merged from {count} shards" for tier, count in counts.items()]
