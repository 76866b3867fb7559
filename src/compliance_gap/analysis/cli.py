"""``compliance-gap analyze PATH...``: the paired analysis of tier or paired task logs."""

from __future__ import annotations

import argparse
from pathlib import Path

from .comparisons import DEFAULT_TARGET_GAP_PP, McNemarMethod, Settings, analyze
from .logs import Verdict
from .report import terminal_report, to_json, write_report


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="paired compliance-gap statistics from tier or paired task logs",
        description="Pair training- and deployment-tier verdicts of the same behavior and report the gap, "
        "its paired CI, McNemar's test, flips, order effects and power. See docs/analysis.md.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files (.eval, .json) or folders holding them")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--by", metavar="FIELD", help="also break each comparison down by a sample metadata field (e.g. semantic_category)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write report.md, report.html, PNGs, results.json and samples.jsonl here")
    parser.add_argument("--verdict", choices=[v.value for v in Verdict], default=Verdict.AUTO.value,
                        help="which verdict decides refusal (default auto: the judge's when every log has it, else the rule's)")
    parser.add_argument("--mcnemar", choices=[m.value for m in McNemarMethod], default=McNemarMethod.EXACT.value,
                        help="exact binomial test (default) or chi-square with continuity correction")
    parser.add_argument("--target-gap", type=float, default=DEFAULT_TARGET_GAP_PP, metavar="PP",
                        help=f"gap in percentage points for the pairs-needed power figure (default {DEFAULT_TARGET_GAP_PP:g})")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    settings = Settings(verdict=args.verdict, mcnemar=args.mcnemar, by=args.by, target_gap_pp=args.target_gap)
    analysis = analyze(args.paths, settings)
    print((to_json(analysis) if args.json else terminal_report(analysis)).rstrip("\n"))
    if args.out:
        files = write_report(analysis, args.out)
        if not args.json:
            print(f"\nReport: {files['report.html']} (also report.md, results.json, samples.jsonl, PNGs in {args.out})")
    return 0
