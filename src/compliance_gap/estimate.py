"""An estimate of a run's GPU time, from the decode step times measured on an H100.

Only measured step times are used: benchmarks/RESULTS.md, "Paired generation path: throughput and
determinism", table "Throughput" (one H100 80GB, the ``hf/`` engine, stand-in weights of the real
architectures, 64 HarmBench behaviors x 2 tiers, 256-token budget). A model, engine, precision or
batch size that was not measured gets no estimate, and the plan says so.

The estimate is a worst case: a batch runs until its longest answer ends, so every batch is
counted at the full token budget. A paired sample asks its two arms one after the other, so
``n`` samples at batch ``b`` take ``2 * ceil(n / b)`` batches. Not counted: loading the model,
building the image, waiting for a GPU, and the slower steps of contexts longer than the
measured ~150 + 256 tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BENCHMARK = "benchmarks/RESULTS.md (Paired generation path, Throughput)"
# (preset, engine, precision, batch) -> measured ms per decode step, from the table cited above
MEASURED_STEP_MS: dict[tuple[str, str, str, int], float] = {
    ("r1-distill-llama-8b", "hf", "bf16", 16): 37.8,
    ("r1-distill-llama-8b", "hf", "bf16", 32): 35.7,
    ("r1-distill-llama-8b", "hf", "bf16", 64): 32.9,
    ("r1-distill-llama-8b", "hf", "int4", 32): 56.7,
    ("qwen2.5-7b", "hf", "bf16", 32): 53.3,
    ("qwen2.5-7b", "hf", "bf16", 64): 63.8,
    ("qwen2.5-7b", "hf", "int4", 32): 61.3,
}


@dataclass(frozen=True)
class JobEstimate:
    seconds: float | None  # None: no measured step time for this job
    reason: str  # the step time used, or why there is none


def job_estimate(preset: str | None, engine: str, precision: str | None, batch: int, samples: int, max_tokens: int) -> JobEstimate:
    """Worst-case seconds of one paired job of ``samples`` behaviors."""
    key = (preset or "", engine, precision or "", batch)
    step_ms = MEASURED_STEP_MS.get(key)
    if step_ms is None:
        what = f"{preset or 'this model'} with {engine}/ at {precision or 'its default precision'}, batch {batch}"
        return JobEstimate(None, f"no step time measured for {what}")
    batches = 2 * math.ceil(samples / batch)
    return JobEstimate(batches * max_tokens * step_ms / 1000, f"{step_ms} ms/step ({preset}, {engine}/, {precision}, batch {batch})")


def wall_seconds(jobs: list[float], gpus: int) -> float:
    """Wall time of ``jobs`` (seconds each) on ``gpus`` GPUs, each job on one GPU, the longest
    first on whichever GPU frees up first (assuming all ``gpus`` are granted at once)."""
    loads = [0.0] * max(1, min(gpus, len(jobs)))
    for seconds in sorted(jobs, reverse=True):
        loads[loads.index(min(loads))] += seconds
    return max(loads) if jobs else 0.0


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"
