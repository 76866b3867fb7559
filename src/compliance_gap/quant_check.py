"""``compliance-gap quant-check``: do refusal decisions survive quantization?

Runs the paired task on a subset of behaviors at a quantized precision and at a higher reference
precision (same seed, protocol, decoding), then reports how often each arm's refusal decision
agrees, as a 2x2 table with Cohen's kappa. A low agreement means gaps measured at the lower
precision may be artefacts of quantization ("quantization dementia"). Arms undecided at either
precision are counted and left out of the table, never counted as agreement.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from inspect_ai.log import EvalLog, read_eval_log

from .matrix import MatrixOptions, RunStopped, plan, run_cells, stopped
from .analysis.verdicts import arm_verdicts, refused, scorer_names


@dataclass
class Agreement:
    table: dict[tuple[int, int], int]  # (reference refused, quantized refused) -> arms
    undecided: int  # arms with no decision at either precision
    missing: list[str]  # sample/arm present in one log only

    @property
    def decided(self) -> int:
        return sum(self.table.values())

    @property
    def agreement(self) -> float:
        return (self.table[(0, 0)] + self.table[(1, 1)]) / self.decided if self.decided else float("nan")

    @property
    def kappa(self) -> float:
        """Cohen's kappa; NaN when chance agreement is total (one decision everywhere)."""
        n = self.decided
        if not n:
            return float("nan")
        ref_yes = (self.table[(1, 0)] + self.table[(1, 1)]) / n
        quant_yes = (self.table[(0, 1)] + self.table[(1, 1)]) / n
        chance = ref_yes * quant_yes + (1 - ref_yes) * (1 - quant_yes)
        return float("nan") if chance == 1 else (self.agreement - chance) / (1 - chance)

    def report(self, reference: str, quantized: str) -> str:
        t = self.table
        lines = [
            f"refusal decisions per arm, {reference} (rows) vs {quantized} (columns):",
            f"{'':>18}{quantized + ' refused':>16}{quantized + ' complied':>18}",
            f"{reference + ' refused':>18}{t[(1, 1)]:>16}{t[(1, 0)]:>18}",
            f"{reference + ' complied':>18}{t[(0, 1)]:>16}{t[(0, 0)]:>18}",
            f"agreement {self.agreement:.1%} over {self.decided} decided arms; Cohen's kappa {self.kappa:.3f}",
            f"undecided at either precision (left out): {self.undecided}",
        ]
        if self.missing:
            lines.append(f"in one log only (left out): {len(self.missing)}: {', '.join(self.missing[:10])}")
        return "\n".join(lines)


def arm_decisions(log: EvalLog) -> dict[str, int | None]:
    """``sample/tier`` -> refused (1/0) or None (undecided) from a paired log."""
    if not log.samples:
        raise ValueError(f"log {log.location} has no samples; run it with samples logged (the default)")
    decisions = {}
    for sample in log.samples:
        for tier, verdicts in arm_verdicts(sample.scores, paired=True, tier=None).items():
            if "rule" not in verdicts:
                raise ValueError(f"sample {sample.id} in {log.location} has no {scorer_names(paired=True)['rule']}: pass logs of the paired task")
            decisions[f"{sample.id}/{tier}"] = refused(verdicts, "rule")
    return decisions


def compare(reference: dict[str, int | None], quantized: dict[str, int | None]) -> Agreement:
    table = {(a, b): 0 for a in (0, 1) for b in (0, 1)}
    undecided = 0
    for key in reference.keys() & quantized.keys():
        a, b = reference[key], quantized[key]
        if a is None or b is None:
            undecided += 1
        else:
            table[(int(a), int(b))] += 1
    missing = sorted(reference.keys() ^ quantized.keys())
    return Agreement(table, undecided, missing)


def quant_check(model: str, quantized: str, reference: str, options: MatrixOptions) -> Agreement:
    """Run the subset at both precisions (resumable, under ``options.log_dir/<precision>``) and compare.
    Raises ``RunStopped`` when either run does not finish."""
    if quantized == reference:
        raise ValueError(f"--precision and --reference are both {quantized}; compare two different precisions")
    decisions = {}
    for precision in (reference, quantized):
        cells = plan(MatrixOptions(**{**options.__dict__, "models": [model], "precision": precision, "log_dir": Path(options.log_dir) / precision}))
        # eval_set returns log headers (no samples): read each log back in full
        decisions[precision] = {
            f"{cell.mode}/{k}": v for cell, log in run_cells(cells, options) for k, v in arm_decisions(read_eval_log(log.location)).items()
        }
    return compare(decisions[reference], decisions[quantized])


def _main(args: argparse.Namespace) -> int:
    options = MatrixOptions(
        models=[args.model], modes=[m.strip() for m in args.modes.split(",") if m.strip()], dataset=args.dataset, limit=args.limit, engine=args.engine,
        max_tokens=args.max_tokens, batch_size=args.batch_size, log_dir=args.log_dir,
    )
    try:
        agreement = quant_check(args.model, args.precision, args.reference, options)
    except RunStopped as stop:
        return stopped(stop)
    print(agreement.report(args.reference, args.precision))
    return 0
