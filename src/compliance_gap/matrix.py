"""``compliance-gap run``: the experiment matrix (models x modes, both tiers of every behavior in
one paired sample) through ``inspect_ai.eval_set``, then the paired analysis.

Each (model, mode) cell is one eval set in its own folder, ``LOG_DIR/<model>/<mode>/``, so a run
that was interrupted resumes where it stopped: running the same command again reuses every
finished log and re-runs only unfinished samples. A model is loaded once for all its modes.
With ``--shards K`` each cell is K eval sets (jobs), one per shard of the behaviors
(``-T shard=I/K``, ``sharding.py``), in ``LOG_DIR/<model>/<mode>-shard-<I>-of-<K>/``; the analysis
merges them back. Each job resumes alone, so jobs can run on different machines (modal_app.py).

Every cell's log is checked after its eval set: ``eval_set`` itself reports success after a
Ctrl-C (it returns no log for the cancelled task), so its flag is not trusted. An interrupted or
failed cell stops the run with a message and a non-zero exit, and the analysis only ever reads
the current log of each cell, never a superseded (cancelled) one left in the same folder.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from inspect_ai import eval_set
from inspect_ai.log import EvalLog
from inspect_ai.model import Model, get_model

from .behaviors import load_behaviors
from .cli_args import DEFAULT_BATCH, DEFAULT_RETRY_ATTEMPTS, MATRIX_LOG_DIR
from .estimate import BENCHMARK, hours, job_estimate, wall_seconds
from .options import MAX_SEED, Mode, Protocol, choose, whole_number
from .paired import parse_control
from .precision import Precision
from .presets import PRESETS, ResolvedModel, resolve_model
from .sharding import Shard, empty_shards_message, shard_index
from .tasks import DEFAULT_MAX_TOKENS

PAIRED_TASK = "compliance_gap/paired"  # by registry name, so Inspect builds it after binding the judge role
INTERRUPTED = "interrupted: rerun the same command to resume"


@dataclass
class MatrixOptions:
    models: list[str | Model]
    modes: list[str] = field(default_factory=lambda: [Mode.STANDARD.value])
    protocol: str = Protocol.RANDOMIZED.value
    dataset: str = "harmbench"
    limit: int | None = None
    precision: str | None = None  # None: bf16 for hf/ and vllm/ models on a GPU, else the model's default
    engine: str = "hf"
    log_dir: Path = MATRIX_LOG_DIR
    seed: int = 0
    carryover: bool = False
    control: str | None = None
    placement: str = "system"
    max_tokens: int | None = None  # None: the preset's reasoning-length budget, else the task default
    batch_size: int = DEFAULT_BATCH
    judge: str | None = None  # Inspect model name for the `judge` role
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS  # per cell, after a failed attempt (finished samples are kept)
    shards: int = 1  # eval sets (jobs) per cell, each with one shard of the behaviors


@dataclass(frozen=True)
class Cell:
    """One eval set (a job): one model, one mode, both tiers of every behavior of one shard (or of all)."""

    model: ResolvedModel
    mode: str
    task_args: dict[str, Any]
    log_dir: Path
    shard: Shard | None = None
    sample_ids: tuple[str, ...] | None = None  # a shard's behaviors (of the first --limit ones)

    @property
    def label(self) -> str:
        return f"{self.model.name} [{self.mode}]" + (f" shard {self.shard.label()}" if self.shard else "")


def default_precision(name: str) -> str | None:
    """bf16 for local-weights models on a GPU; the model's own default elsewhere (CPU: float32)."""
    if not name.startswith(("hf/", "vllm/")):
        return None
    import torch

    return Precision.BF16.value if torch.cuda.is_available() else None


def resolve(spec: str | Model, options: MatrixOptions) -> ResolvedModel:
    if isinstance(spec, Model):  # a ready model (tests, scripted runs)
        return ResolvedModel(name=str(spec), model_args={}, max_tokens=None, preset=None)
    precision = options.precision if options.precision is not None else default_precision(resolve_model(spec, options.engine).name)
    return resolve_model(spec, options.engine, precision)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


def shard_split(options: MatrixOptions) -> list[tuple[Shard | None, tuple[str, ...] | None]]:
    """Each shard with its behaviors (of the first ``--limit``); one unsplit entry without shards.
    A shard left empty is an error: its eval set would have no samples to analyse."""
    if options.shards == 1:
        return [(None, None)]
    ids = [record["id"] for record in load_behaviors(options.dataset)[0]][: options.limit]
    parts = [tuple(i for i in ids if shard_index(i, options.shards) == index) for index in range(options.shards)]
    empty = [index for index, part in enumerate(parts) if not part]
    if empty:
        raise ValueError(f"--shards {options.shards}: " + empty_shards_message(empty, options.shards, len(ids)))
    return [(Shard(index, options.shards), part) for index, part in enumerate(parts)]


def plan(options: MatrixOptions) -> list[Cell]:
    """Every (model, mode) cell, or each shard of it, with its task args and log folder; checks
    every option first."""
    if not options.models:
        raise ValueError("no models: pass --models with at least one model (a preset: " + ", ".join(p.alias for p in PRESETS) + ")")
    if not options.modes:
        raise ValueError("no modes: pass --modes with at least one of " + ", ".join(m.value for m in Mode))
    modes = [choose(Mode, "mode", m).value for m in options.modes]
    protocol = choose(Protocol, "protocol", options.protocol).value
    control = parse_control(options.control)
    for flag, value in (("--limit", options.limit), ("--max-tokens", options.max_tokens)):
        if value is not None:  # None: every behavior / the preset's budget; 0 would silently mean the same
            whole_number(flag, value, 1)
    whole_number("--batch-size", options.batch_size, 1)
    whole_number("--retry-attempts", options.retry_attempts, 0)
    whole_number("--seed", options.seed, 0, MAX_SEED)
    whole_number("--shards", options.shards, 1)
    cells = []
    models = [resolve(spec, options) for spec in options.models]  # every model is checked before the data set is read
    split = shard_split(options)
    for model in models:
        for mode in modes:
            task_args: dict[str, Any] = {
                "dataset": options.dataset,
                "mode": mode,
                "placement": options.placement,
                "protocol": protocol,
                "carryover": options.carryover,
                "control": control.value if control else None,
                "seed": options.seed,
            }
            max_tokens = options.max_tokens if options.max_tokens is not None else model.max_tokens
            if max_tokens:
                task_args["max_tokens"] = max_tokens
            folder = Path(options.log_dir) / slug(model.name)
            for shard, ids in split:
                if shard is None:
                    cells.append(Cell(model, mode, task_args, folder / mode))
                else:
                    shard_folder = folder / f"{mode}-shard-{shard.index}-of-{shard.count}"
                    cells.append(Cell(model, mode, {**task_args, "shard": shard.label()}, shard_folder, shard, ids))
    return cells


def describe(cells: list[Cell], options: MatrixOptions, gpus: int = 1) -> str:
    """The plan as text: what runs, with which args, where the logs go, how many completions,
    and the estimated GPU time on ``gpus`` GPUs."""
    behaviors = len(load_behaviors(options.dataset)[0])
    prompts = min(behaviors, options.limit) if options.limit else behaviors
    split = f" ({len(cells) // options.shards} cells x {options.shards} shards)" if options.shards > 1 else ""
    each = "per cell" if split else "each"
    lines = [f"{len(cells)} eval sets{split}, {prompts} behaviors {each} ({options.dataset}), 2 tiers per behavior (paired task):"]
    for cell in cells:
        args = " ".join(f"{k}={v}" for k, v in cell.task_args.items() if v is not None)
        size = f"  ({len(cell.sample_ids)} behaviors)" if cell.sample_ids is not None else ""
        lines.append(f"  {cell.model.name} [{cell.mode}]  -T {args}{size}")
        if cell.model.model_args:
            lines.append(f"      model args: {cell.model.model_args}")
        lines.append(f"      logs: {cell.log_dir}")
    completions = sum(2 * job_samples(cell, prompts) for cell in cells)
    lines.append(f"total: {completions} completions; batch size {options.batch_size}")
    return "\n".join(lines + estimate_lines(cells, options, prompts, gpus))


def job_samples(cell: Cell, prompts: int) -> int:
    """The behaviors a job runs: its shard's, or all ``prompts`` of an unsplit cell."""
    return len(cell.sample_ids) if cell.sample_ids is not None else prompts


def estimate_lines(cells: list[Cell], options: MatrixOptions, prompts: int, gpus: int) -> list[str]:
    """The worst-case GPU time of the plan, from measured step times (``estimate.py``)."""
    estimates = []
    for cell in cells:
        precision = options.precision if options.precision is not None else default_precision(cell.model.name)
        samples = job_samples(cell, prompts)
        max_tokens = cell.task_args.get("max_tokens", DEFAULT_MAX_TOKENS)
        engine = cell.model.name.split("/")[0]
        estimates.append((cell, samples, job_estimate(cell.model.preset, engine, precision, options.batch_size, samples, max_tokens)))
    lines = [f"ESTIMATE, not a measurement (worst case: every batch runs to max_tokens; step times measured on one H100, {BENCHMARK}; "
             "model loading, image build and waiting for GPUs not counted):"]
    for cell, samples, estimate in estimates:
        took = f"~{hours(estimate.seconds)} at {estimate.reason}" if estimate.seconds is not None else f"no estimate: {estimate.reason}"
        lines.append(f"  {cell.label}: {2 * samples} generations, {took}")
    known = [e.seconds for _, _, e in estimates if e.seconds is not None]
    if len(known) < len(estimates):
        lines.append(f"  no total: {len(estimates) - len(known)} of {len(estimates)} jobs have no measured step time")
    else:
        used = min(gpus, len(cells))
        lines.append(
            f"  total: {len(cells)} jobs on {used} GPU{'s' if used > 1 else ''}: wall ~{hours(wall_seconds(known, gpus))} "
            f"if {'all are granted at once' if used > 1 else 'it runs them one after another'}; ~{sum(known) / 3600:.2f} GPU-hours"
        )
    return lines


class RunStopped(Exception):
    """A cell did not finish. The message says what happened and how to resume."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def cell_log(cell: Cell, logs: list[EvalLog]) -> EvalLog:
    """The cell's current log from what its eval set returned, if finished; else why not.
    An interruption stops the run at once (``RunStopped``); an error is returned for the caller."""
    if len(logs) != 1 or logs[0].status in ("cancelled", "started"):
        raise RunStopped(f"{INTERRUPTED} ({cell.label} did not finish)", 130)
    return logs[0]


def failure(cell: Cell, log: EvalLog) -> str:
    message = log.error.message if log.error else f"status {log.status}"
    return f"{cell.label} failed: {message.strip()} (log: {log.location})"


def run_cells(cells: list[Cell], options: MatrixOptions) -> list[tuple[Cell, EvalLog]]:
    """Run every cell as a resumable eval set, loading each model once; each cell with its
    current log (a header: read it back for its samples). Raises ``RunStopped`` after Ctrl-C
    (at once) or when any cell failed (after the other cells ran)."""
    models = {str(m): m for m in options.models if isinstance(m, Model)}  # ready models (tests, scripted runs)
    # a judge named by a string would be loaded anew by every eval_set call, twice per call
    # (Inspect resolves roles by name without memoizing); a Model is shared (Inspect copies it)
    roles = {"judge": get_model(options.judge)} if options.judge else None
    done, failures = [], []
    try:
        for cell in cells:
            if cell.model.name not in models:
                models[cell.model.name] = get_model(cell.model.name, **cell.model.model_args)
            sharded_limit = cell.sample_ids is not None and options.limit is not None  # the shard's part of the first N
            _, logs = eval_set(
                PAIRED_TASK,
                task_args=cell.task_args,
                model=models[cell.model.name],
                model_roles=roles,
                log_dir=str(cell.log_dir),
                limit=None if cell.shard else options.limit,
                sample_id=[glob.escape(i) for i in cell.sample_ids] if sharded_limit else None,
                max_connections=options.batch_size,
                retry_attempts=options.retry_attempts,
                display="plain",
            )
            log = cell_log(cell, logs)
            if log.status == "success":
                done.append((cell, log))
            else:
                failures.append(failure(cell, log))
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise RunStopped(INTERRUPTED, 130) from None
    if failures:
        raise RunStopped("\n".join(failures) + "\nfix the cause, then rerun the same command to resume (finished samples are kept)", 1)
    return done


def log_path(location: str) -> str:
    """A log's location as a local path (``eval_set`` names logs it reused by ``file:`` URIs)."""
    parsed = urlparse(location)
    return unquote(parsed.path) if parsed.scheme == "file" else location


def analyze_run(sources: list[str | Path], report_dir: Path) -> str:
    """The paired analysis of these logs (files, or folders of eval sets); its report goes to
    ``report_dir``."""
    from .analysis import Settings, analyze
    from .analysis.report import terminal_report, write_report

    analysis = analyze([str(source) for source in sources], Settings())
    write_report(analysis, report_dir)
    return terminal_report(analysis)


def stopped(stop: RunStopped) -> int:
    """Print why the run stopped (no analysis: the run is partial) and return its exit code."""
    print(f"\n{stop}", file=sys.stderr)
    return stop.exit_code


def run_matrix(options: MatrixOptions, dry_run: bool = False) -> int:
    cells = plan(options)
    print(describe(cells, options))
    if dry_run:
        return 0
    try:
        done = run_cells(cells, options)
    except RunStopped as stop:
        return stopped(stop)
    report_dir = Path(options.log_dir) / "report"
    print("\n" + analyze_run([log_path(log.location) for _, log in done], report_dir))
    print(f"\nlogs: {options.log_dir}; report: {report_dir}")
    return 0


def run_job(options: MatrixOptions, index: int) -> int:
    """Job ``index`` of the plan (one cell, or one shard of it) alone, without the analysis: the
    unit that modal_app.py fans out over GPUs. 0 when it finished, else its exit code, after
    printing why; rerunning it resumes it."""
    cells = plan(options)
    if not 0 <= index < len(cells):
        raise ValueError(f"job {index} is not in the plan: it has jobs 0 to {len(cells) - 1}")
    try:
        run_cells([cells[index]], options)
    except RunStopped as stop:
        return stopped(stop)
    return 0


def options_from_args(args: argparse.Namespace) -> MatrixOptions:
    return MatrixOptions(
        models=[m.strip() for m in args.models.split(",") if m.strip()],
        modes=[m.strip() for m in args.modes.split(",") if m.strip()],
        protocol=args.protocol,
        dataset=args.dataset,
        limit=args.limit,
        precision=args.precision,
        engine=args.engine,
        log_dir=args.log_dir,
        seed=args.seed,
        carryover=args.carryover,
        control=args.control,
        placement=args.placement,
        max_tokens=args.max_tokens,
        batch_size=args.batch_size,
        judge=args.judge,
        retry_attempts=args.retry_attempts,
        shards=args.shards,
    )


def _main(args: argparse.Namespace) -> int:
    return run_matrix(options_from_args(args), args.dry_run)
