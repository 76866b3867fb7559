"""Split a data set into K shards, so that one run can be spread over K GPUs and merged back.

A sample belongs to shard ``sha256(id) mod K``: the split depends on the id alone, not on the
sample's position, so adding or removing behaviors does not move the others, and every process
that splits the same ids agrees without talking to the others. A sharded task records in its
``eval.metadata["shard"]`` which shard it ran (``index``, ``count``) and a hash of the full data
set it was cut from (``dataset_hash``), so the analysis can tell which logs are the shards of one
run and which shard is missing (``analysis/shards.py``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from inspect_ai.dataset import MemoryDataset

from .behaviors import dataset_digest, input_hash

SHARD_KEY = "shard"  # eval.metadata key
SHARD_FORM = "I/K with whole numbers 0 <= I < K (for example 0/4: the first of four shards)"


@dataclass(frozen=True)
class Shard:
    index: int  # 0-based
    count: int

    def label(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(value: str | None) -> Shard | None:
    """``"I/K"`` as a Shard; None (or an empty string) means the whole data set."""
    if value is None or str(value).strip() in ("", "none", "None", "null"):
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(value))
    if not match or int(match[1]) >= int(match[2]):
        raise ValueError(f"shard must be {SHARD_FORM} (got {value!r})")
    return Shard(int(match[1]), int(match[2]))


def shard_index(sample_id: str | int, count: int) -> int:
    """The shard of ``sample_id`` among ``count``: a hash of the id, never of its position."""
    digest = hashlib.sha256(str(sample_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def empty_shards_message(empty: list[int], count: int, samples: int) -> str:
    listing = ", ".join(f"{i}/{count}" for i in empty)
    return (
        f"shard{'s' if len(empty) > 1 else ''} {listing} would hold none of the {samples} samples (the split is by a "
        "hash of the sample id, so shards are unequal); use fewer shards"
    )


def take_shard(samples: MemoryDataset, shard: Shard | None) -> tuple[MemoryDataset, dict[str, Any]]:
    """The samples of ``shard`` and the eval metadata that records it; the data set unchanged
    and no metadata without a shard. An empty shard is an error: its log would hold no sample
    to tell the analysis which comparison it belongs to."""
    if shard is None:
        return samples, {}
    kept = [s for s in samples if shard_index(s.id, shard.count) == shard.index]
    if not kept:
        raise ValueError(empty_shards_message([shard.index], shard.count, len(samples)))
    record = {"index": shard.index, "count": shard.count, "dataset_hash": dataset_digest({str(s.id): input_hash(s) for s in samples})}
    return MemoryDataset(kept, name=samples.name), {SHARD_KEY: record}
