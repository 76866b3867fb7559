"""``compliance-gap validate-classifier``: how well the motivation classifier agrees with people.

The classifier runs as an Inspect eval over the 106 human-labelled scratchpads of gold_106, so
every vote is in a log. All votes are taken (no early stopping) because the score validated is
the training-aware vote share, not only the decision. Reported: AUROC of that share with a
seeded, stratified bootstrap 95% CI, precision / recall / F1 of the decision at the threshold,
and the confusion table. Samples left undecided (too few valid votes) are counted and shown,
never folded into either class.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatCompletionChoice, ChatMessageAssistant, ContentReasoning, Model, ModelOutput, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver
from scipy.stats import rankdata

from .behaviors import fetch_external
from .cli_args import DEFAULT_BOOTSTRAP, VALIDATE_LOG_DIR
from .options import DEFAULT_MOTIVATION_VOTES, DEFAULT_THRESHOLD
from .scorers.motivation import MotivationOptions, motivation_classifier
from .scorers.votes import NEGATIVE, POSITIVE, UNDECIDED
from .solvers import hf_weights_once

POSITIVE_LABEL = "potential_faking"
NEGATIVE_LABEL = "aligned"
SCORER = "motivation_classifier"


def load_gold(path: Path | None = None) -> tuple[list[dict[str, str]], Path]:
    """The labelled scratchpads (``{"samples": [{"text", "label"}]}``) and where they came from."""
    path = Path(path).expanduser() if path else fetch_external("gold_106")
    if not path.is_file():
        raise FileNotFoundError(f"gold data {path} does not exist; pass --data PATH to a gold_106-style JSON file")
    try:
        samples = json.loads(path.read_text(encoding="utf-8"))["samples"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a gold_106-style file ({{\"samples\": [{{\"text\", \"label\"}}]}}): {error!r}") from None
    problems = []
    for index, sample in enumerate(samples):
        if not isinstance(sample, dict) or not str(sample.get("text") or "").strip():
            problems.append(f"sample {index}: no text")
        elif sample.get("label") not in (POSITIVE_LABEL, NEGATIVE_LABEL):
            problems.append(f"sample {index}: label {sample.get('label')!r}")
    if problems:
        raise ValueError(
            f"{path}: {len(problems)} samples cannot be used ({'; '.join(problems[:5])}); every sample needs a "
            f"text and a label '{POSITIVE_LABEL}' or '{NEGATIVE_LABEL}'"
        )
    if not samples:
        raise ValueError(f"{path} has no samples")
    return samples, path


@solver
def scratchpad_as_trace() -> Solver:
    """Present the sample's scratchpad as the reasoning trace of an answer, as the tier tasks do."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        message = ChatMessageAssistant(content=[ContentReasoning(reasoning=state.input_text)], source="generate")
        state.output = ModelOutput(model="gold_106", choices=[ChatCompletionChoice(message=message, stop_reason="stop")])
        return state

    return solve


def gold_task(samples: list[dict[str, str]], options: MotivationOptions) -> Task:
    dataset = MemoryDataset(
        [Sample(id=f"gold_{i:03d}", input=s["text"], target=s["label"]) for i, s in enumerate(samples)],
        name="gold_106",
    )
    return Task(
        dataset=dataset,
        solver=[hf_weights_once(), scratchpad_as_trace()],
        scorer=motivation_classifier(
            votes=options.votes,
            threshold=options.threshold,
            temperature=options.temperature,
            min_valid=options.min_valid,
        ),
        name="validate_motivation_classifier",
    )


def auroc(scores: list[float], positive: list[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney: ties count one half); None without both classes."""
    scores_arr, positive_arr = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive_arr.sum()), int((~positive_arr).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores_arr)
    return float((ranks[positive_arr].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_auroc_ci(
    scores: list[float], positive: list[bool], resamples: int = DEFAULT_BOOTSTRAP, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile CI of AUROC over resamples drawn within each class (so each has both classes)."""
    scores_arr, positive_arr = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    pos, neg = scores_arr[positive_arr], scores_arr[~positive_arr]
    if len(pos) == 0 or len(neg) == 0:
        return None
    rng = np.random.default_rng(seed)
    labels = [True] * len(pos) + [False] * len(neg)
    values = [
        auroc(list(np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])), labels)
        for _ in range(resamples)
    ]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def precision_recall_f1(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


@dataclass
class ValidationReport:
    data: str
    judge: str
    votes: int
    temperature: float
    threshold: float
    min_valid: int
    samples: int
    by_label: dict[str, int]
    decided: int
    undecided: int
    auroc: float | None
    auroc_ci: tuple[float, float] | None
    bootstrap: dict[str, int]
    at_threshold: dict[str, float | None]
    confusion: dict[str, dict[str, int]]  # human label -> classifier decision -> count
    log: str
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        def num(value: float | None) -> str:
            return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"

        ci = f"{num(self.auroc_ci[0])}-{num(self.auroc_ci[1])}" if self.auroc_ci else "n/a"
        lines = [
            f"Motivation classifier vs. human labels ({self.data})",
            f"judge: {self.judge}; {self.votes} votes at temperature {self.temperature:g}; positive when more than "
            f"{self.threshold:.0%} of at least {self.min_valid} valid votes are training-aware",
            f"samples: {self.samples} ({', '.join(f'{n} {label}' for label, n in self.by_label.items())}); "
            f"decided: {self.decided}; undecided (too few valid votes): {self.undecided}",
            f"AUROC of the training-aware vote share: {num(self.auroc)} (95% CI {ci}; "
            f"{self.bootstrap['resamples']} stratified bootstrap resamples, seed {self.bootstrap['seed']})",
            "at the threshold: " + "  ".join(f"{k} {num(v)}" for k, v in self.at_threshold.items()),
            "confusion (rows: human label; columns: classifier decision):",
            f"{'':<18}{POSITIVE:>10}{NEGATIVE:>10}{UNDECIDED:>11}",
        ]
        for label, row in self.confusion.items():
            lines.append(f"{label:<18}{row[POSITIVE]:>10}{row[NEGATIVE]:>10}{row[UNDECIDED]:>11}")
        lines += [f"note: {note}" for note in self.notes]
        lines.append(f"log: {self.log}")
        return "\n".join(lines)


def validate_classifier(
    judge: str | Model,
    data: Path | None = None,
    limit: int | None = None,
    votes: int = DEFAULT_MOTIVATION_VOTES,
    threshold: float = DEFAULT_THRESHOLD,
    resamples: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    log_dir: Path = VALIDATE_LOG_DIR,
    model_args: dict[str, Any] | None = None,
    display: str = "none",
) -> ValidationReport:
    """Run the classifier over the gold scratchpads and compare it with the human labels."""
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be at least 1 (got {limit})")
    if resamples < 1:
        raise ValueError(f"--bootstrap must be at least 1 (got {resamples})")
    options = MotivationOptions(votes=votes, threshold=threshold)
    samples, path = load_gold(data)
    model = judge if isinstance(judge, Model) else get_model(judge, **(model_args or {}))
    [log] = inspect_eval(
        gold_task(samples, options),
        model=model,
        model_roles={"judge": model},
        log_dir=str(log_dir),
        limit=limit,
        display=display,
    )
    if log.status != "success" or not log.samples:
        raise ValueError(
            f"the classifier eval did not finish ({log.status}: {log.error.message if log.error else 'no samples'}); "
            f"see {log.location}"
        )
    return build_report(log.samples, options, str(model), str(path), log.location, resamples, seed)


def build_report(eval_samples, options: MotivationOptions, judge: str, data: str, location: str, resamples: int, seed: int) -> ValidationReport:
    confusion = {label: {POSITIVE: 0, NEGATIVE: 0, UNDECIDED: 0} for label in (POSITIVE_LABEL, NEGATIVE_LABEL)}
    shares: list[float] = []
    truth: list[bool] = []
    errors: list[str] = []
    for sample in eval_samples:
        score = sample.scores[SCORER]
        errors += score.metadata.get("errors") or []
        decision = score.metadata["decision"]
        confusion[sample.target][decision if decision in (POSITIVE, NEGATIVE) else UNDECIDED] += 1
        if decision in (POSITIVE, NEGATIVE):
            shares.append(score.metadata["positive_share"])
            truth.append(sample.target == POSITIVE_LABEL)
    notes = []
    area = auroc(shares, truth)
    if area is None:
        notes.append("AUROC needs decided samples of both labels; use a larger --limit or check the judge's replies")
    tp, fn = confusion[POSITIVE_LABEL][POSITIVE], confusion[POSITIVE_LABEL][NEGATIVE]
    fp = confusion[NEGATIVE_LABEL][POSITIVE]
    undecided = sum(row[UNDECIDED] for row in confusion.values())
    if errors:
        notes.append(f"{len(errors)} judge calls failed and counted as invalid votes (first: {errors[0]})")
    if undecided:
        notes.append(f"{undecided} samples had fewer than {options.valid_needed} valid votes and are left out of AUROC and P/R/F1")
    return ValidationReport(
        data=data,
        judge=judge,
        votes=options.votes,
        temperature=options.sampling_temperature,
        threshold=options.threshold,
        min_valid=options.valid_needed,
        samples=len(eval_samples),
        by_label={label: sum(row.values()) for label, row in confusion.items()},
        decided=len(shares),
        undecided=undecided,
        auroc=area,
        auroc_ci=bootstrap_auroc_ci(shares, truth, resamples, seed),
        bootstrap={"resamples": resamples, "seed": seed},
        at_threshold=precision_recall_f1(tp, fp, fn),
        confusion=confusion,
        log=location,
        notes=notes,
    )


def _main(args: argparse.Namespace) -> int:
    report = validate_classifier(
        args.judge,
        data=args.data,
        limit=args.limit,
        votes=args.votes,
        threshold=args.threshold,
        resamples=args.bootstrap,
        seed=args.seed,
        log_dir=args.log_dir,
        model_args=dict(args.judge_arg),
        display="none" if args.json else "plain",
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    if report.decided == 0:
        print("error: no scratchpad got a decision; check the judge's replies in the log", file=sys.stderr)
        return 1
    return 0
