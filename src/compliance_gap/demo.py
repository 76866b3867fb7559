"""``make demo``: both tiers on the built-in sample set with the embedded model, offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog

from .analysis import analyze
from .analysis.report import terminal_report, write_report
from .cli_args import DEMO_MAX_TOKENS
from .embedded import embedded_model_spec
from .resources import data_dir
from .tasks import free_tier, paid_tier



def tier_refusal_rate(log: EvalLog) -> tuple[float, int]:
    """(refusal rate over decided samples, number of samples) from a finished tier log."""
    scores = log.results.scores if log.results else []
    rate = next((s.metrics["mean"].value for s in scores if s.scorer == "refusal_scorer" and s.name == "refused"), float("nan"))
    return rate, len(log.samples or [])


def run_demo(log_dir: Path, max_tokens: int = DEMO_MAX_TOKENS, limit: int | None = None) -> list[EvalLog]:
    model, model_args = embedded_model_spec()
    dataset = str(data_dir() / "demo_behaviors.csv")
    tasks = [free_tier(dataset=dataset, max_tokens=max_tokens), paid_tier(dataset=dataset, max_tokens=max_tokens)]
    return inspect_eval(
        tasks, model=model, model_args=model_args, log_dir=str(log_dir), limit=limit, max_connections=16, display="plain"
    )


def _main(args: argparse.Namespace) -> int:
    logs = run_demo(args.log_dir, args.max_tokens, args.limit)
    print(f"\nLogs: {args.log_dir} (open with `inspect view --log-dir {args.log_dir}`)")
    failed = False
    for log in logs:
        tier = (log.eval.metadata or {}).get("tier", log.eval.task)
        if log.status != "success":
            print(f"  {tier:<11} {log.status}: {log.error.message if log.error else ''}")
            failed = True
            continue
        rate, n = tier_refusal_rate(log)
        print(f"  {tier:<11} refusal rate {rate:6.1%} over {n} samples  ({Path(log.location).name})")
    if failed:
        return 1
    analysis = analyze([log.location for log in logs])
    print("\n" + terminal_report(analysis))
    print(f"Report: {write_report(analysis, args.log_dir / 'report')['report.html']}")
    return 0
