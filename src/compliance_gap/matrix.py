"""``compliance-gap run``: the experiment matrix (models x modes, both tiers of every behavior in
one paired sample) through ``inspect_ai.eval_set``, then the paired analysis.

Each (model, mode) cell is one eval set in its own folder, ``LOG_DIR/<model>/<mode>/``, so a run
that was interrupted resumes where it stopped: running the same command again reuses every
finished log and re-runs only unfinished samples. A model is loaded once for all its modes.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai import eval_set
from inspect_ai.log import EvalLog
from inspect_ai.model import Model, get_model

from .behaviors import load_behaviors
from .options import Mode, choose
from .paired import Protocol, parse_control
from .precision import Precision
from .presets import PRESETS, ResolvedModel, resolve_model
from .resources import repo_root

PAIRED_TASK = "compliance_gap/paired"  # by registry name, so Inspect builds it after binding the judge role
DEFAULT_BATCH = 64  # hf/ batch size (= max_connections): fastest measured on an H100, benchmarks/RESULTS.md


@dataclass
class MatrixOptions:
    models: list[str | Model]
    modes: list[str] = field(default_factory=lambda: [Mode.STANDARD.value])
    protocol: str = Protocol.RANDOMIZED.value
    dataset: str = "harmbench"
    limit: int | None = None
    precision: str | None = None  # None: bf16 for hf/ and vllm/ models on a GPU, else the model's default
    engine: str = "hf"
    log_dir: Path = field(default_factory=lambda: repo_root() / "logs" / "matrix")
    seed: int = 0
    carryover: bool = False
    control: str | None = None
    placement: str = "system"
    max_tokens: int | None = None  # None: the preset's reasoning-length budget, else the task default
    batch_size: int = DEFAULT_BATCH
    judge: str | None = None  # Inspect model name for the `judge` role


@dataclass(frozen=True)
class Cell:
    """One eval set: one model, one mode, both tiers of every behavior."""

    model: ResolvedModel
    mode: str
    task_args: dict[str, Any]
    log_dir: Path


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


def plan(options: MatrixOptions) -> list[Cell]:
    """Every (model, mode) cell with its task args and log folder; checks every option first."""
    if not options.models:
        raise ValueError("no models: pass --models with at least one model (a preset: " + ", ".join(p.alias for p in PRESETS) + ")")
    modes = [choose(Mode, "mode", m).value for m in options.modes]
    protocol = choose(Protocol, "protocol", options.protocol).value
    control = parse_control(options.control)
    if options.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1 (got {options.batch_size})")
    cells = []
    for spec in options.models:
        model = resolve(spec, options)
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
            max_tokens = options.max_tokens or model.max_tokens
            if max_tokens:
                task_args["max_tokens"] = max_tokens
            cells.append(Cell(model, mode, task_args, Path(options.log_dir) / slug(model.name) / mode))
    return cells


def describe(cells: list[Cell], options: MatrixOptions) -> str:
    """The plan as text: what runs, with which args, where the logs go, how many completions."""
    behaviors = len(load_behaviors(options.dataset)[0])
    prompts = min(behaviors, options.limit) if options.limit else behaviors
    lines = [f"{len(cells)} eval sets, {prompts} behaviors each ({options.dataset}), 2 tiers per behavior (paired task):"]
    for cell in cells:
        args = " ".join(f"{k}={v}" for k, v in cell.task_args.items() if v is not None)
        lines.append(f"  {cell.model.name} [{cell.mode}]  -T {args}")
        if cell.model.model_args:
            lines.append(f"      model args: {cell.model.model_args}")
        lines.append(f"      logs: {cell.log_dir}")
    lines.append(f"total: {len(cells) * prompts * 2} completions; batch size {options.batch_size}")
    return "\n".join(lines)


def run_cells(cells: list[Cell], options: MatrixOptions, models: dict[str, Model] | None = None) -> tuple[bool, list[EvalLog]]:
    """Run every cell as a resumable eval set, loading each model once."""
    models = dict(models or {})
    roles = {"judge": options.judge} if options.judge else None
    all_ok, logs = True, []
    for cell in cells:
        if cell.model.name not in models:
            models[cell.model.name] = get_model(cell.model.name, **cell.model.model_args)
        ok, cell_logs = eval_set(
            PAIRED_TASK,
            task_args=cell.task_args,
            model=models[cell.model.name],
            model_roles=roles,
            log_dir=str(cell.log_dir),
            limit=options.limit,
            max_connections=options.batch_size,
            display="plain",
        )
        all_ok &= ok
        logs.extend(cell_logs)
    return all_ok, logs


def analyze_run(log_dir: Path) -> str:
    """The paired analysis of everything under ``log_dir``; its report goes to ``log_dir/report``."""
    from .analysis import Settings, analyze
    from .analysis.report import terminal_report, write_report

    analysis = analyze([str(log_dir)], Settings())
    write_report(analysis, Path(log_dir) / "report")
    return terminal_report(analysis)


def run_matrix(options: MatrixOptions, dry_run: bool = False) -> int:
    cells = plan(options)
    print(describe(cells, options))
    if dry_run:
        return 0
    given = {str(m): m for m in options.models if isinstance(m, Model)}
    ok, logs = run_cells(cells, options, given)
    if not ok:
        unfinished = [f"{log.eval.model} {log.eval.task_args.get('mode')}: {log.status}" for log in logs if log.status != "success"]
        print("\nnot finished: " + "; ".join(unfinished) + "\nrun the same command again to resume; the analysis runs once every cell has finished")
        return 1
    print("\n" + analyze_run(Path(options.log_dir)))
    print(f"\nlogs and report: {options.log_dir}")
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
    )


def add_matrix_arguments(parser: argparse.ArgumentParser) -> None:
    """The run command's options (shared with the Modal app's entry point)."""
    aliases = ", ".join(p.alias for p in PRESETS)
    parser.add_argument("--models", required=True, help=f"comma-separated presets ({aliases}), their hub repos, or Inspect model names")
    parser.add_argument("--modes", default="standard", help="comma-separated: standard, forcing")
    parser.add_argument("--protocol", choices=[p.value for p in Protocol], default=Protocol.RANDOMIZED.value)
    parser.add_argument("--dataset", default="harmbench", help="harmbench, harmbench_standard, advbench, or a CSV/JSONL path")
    parser.add_argument("--limit", type=int, default=None, help="first N behaviors only")
    parser.add_argument("--precision", choices=[p.value for p in Precision], default=None, help="default: bf16 on a GPU")
    parser.add_argument("--engine", choices=["hf", "vllm"], default="hf", help="how preset models are served")
    parser.add_argument("--log-dir", type=Path, default=repo_root() / "logs" / "matrix")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--carryover", action="store_true", help="the second arm continues the first chat")
    parser.add_argument("--control", choices=["training", "deployment"], default=None, help="A/A run: this framing in both arms")
    parser.add_argument("--placement", choices=["system", "user"], default="system")
    parser.add_argument("--max-tokens", type=int, default=None, help="default: the preset's reasoning-length budget")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="concurrent generations (the hf/ batch size)")
    parser.add_argument("--judge", default=None, metavar="MODEL", help="Inspect model for the judge role (compliance judge and motivation classifier)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the experiment matrix (models x modes, paired tiers) and analyze it")
    add_matrix_arguments(parser)
    parser.set_defaults(func=lambda args: run_matrix(options_from_args(args), args.dry_run))
