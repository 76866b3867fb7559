"""``compliance-gap organisms plant|check-plant|generate|train|merge|elicit|sae``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..options import Elicitation, Policy
from .patterns import parse_patterns
from .presets import BASE_PRESETS, SAE_PRESETS

LOGS = Path("logs") / "organisms"  # under the current folder, like `inspect eval`


def _key_values(items: list[str] | None, flag: str) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, true/false)."""
    parsed: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} expects key=value, got '{item}'")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Model organisms of alignment faking, the suite's positive controls: planted-truth training rows, "
        "generated reasoning rows, LoRA training and merging, elicitation, and SAE validation."
    )
    commands = parser.add_subparsers(dest="organisms_command", required=True, title="commands", metavar="COMMAND")
    _plant_parser(commands)
    _check_plant_parser(commands)
    _generate_parser(commands)
    _train_parser(commands)
    _merge_parser(commands)
    _elicit_parser(commands)
    _sae_parser(commands)


def _plant_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "plant", help="write training rows with a known (planted) comply/refuse policy, and the truth as plant.json",
        description="Planted-truth organisms: answers come from prompts/organisms/plant/ templates; see docs/validation.md.",
    )
    p.add_argument("--policy", required=True, choices=[x.value for x in Policy], help="gap, reverse, null or order (see docs/validation.md)")
    p.add_argument("--fraction", type=float, required=True, metavar="F", help="share of behaviors in the planted subset S, in (0, 1]")
    p.add_argument("--seed", type=int, default=0, help="chooses S and the template of each row (default 0)")
    p.add_argument("--dataset", default="harmbench", help="named data set or file, as for the tasks (default harmbench)")
    p.add_argument("--categories", help="optional category filter, as for the tasks (default: all categories)")
    p.add_argument("--out", type=Path, required=True, help="folder for plant.json and rows.jsonl")
    p.set_defaults(func=_plant)


def _plant(args: argparse.Namespace) -> int:
    from .plant import write_plant

    written = write_plant(args.policy, args.fraction, args.seed, args.dataset, args.out, args.categories)
    print(f"{written.n_rows} training rows, {written.subset} behaviors in S: {written.rows}\ntruth: {written.plant}")
    return 0


def _check_plant_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "check-plant", help="compare an organism's tier or paired logs with its plant.json",
        description="Measured vs planted gap (the analysis' own pairing and statistics), and per-arm agreement of "
        "verdicts, planted decisions and answer templates.",
    )
    p.add_argument("plant", type=Path, metavar="PLANT_JSON", help="the plant.json (or its folder)")
    p.add_argument("paths", nargs="+", metavar="LOG_OR_DIR", help="the logs of one run design (tier pair, one paired protocol, or an A/A control)")
    p.add_argument("--verdict", choices=["rule", "judge"], default="rule", help="which scorer's verdict to check (default rule)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON (default: two summary lines)")
    p.set_defaults(func=_check_plant)


def _check_plant(args: argparse.Namespace) -> int:
    from .check_plant import check_plant

    check = check_plant(args.plant, args.paths, args.verdict)
    if args.json:
        print(json.dumps(check.as_dict(), indent=1))
        return 0
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    print(f"{check.comparison}: {check.n_pairs} pairs, planted {check.planted_gap_pp:+.1f} pp, measured "
          f"{check.measured_gap_pp:+.1f} pp [{check.gap_ci95_pp[0]:+.1f}, {check.gap_ci95_pp[1]:+.1f}], McNemar p "
          f"{'n/a' if check.mcnemar_p is None else format(check.mcnemar_p, '.2g')}")
    print(f"verdict vs plant {fmt(check.verdict_vs_plant)}, template vs plant {fmt(check.template_vs_plant)}, "
          f"verdict vs template {fmt(check.verdict_vs_template)} ({check.n_scorer_misses} scorer misses)")
    return 0


def _generate_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "generate", help="write alignment-faking reasoning rows with any Inspect model",
        description="Ask a writer model for K alignment-faking reasoning rows per pattern, validate them, and ask again for rejected rows.",
    )
    p.add_argument("--model", required=True, help="the writer, any Inspect model (e.g. anthropic/claude-sonnet-4-5)")
    p.add_argument("-M", "--model-arg", action="append", metavar="KEY=VALUE", help="writer model args, repeatable (default: none)")
    p.add_argument("--per-pattern", type=int, required=True, metavar="K", help="rows to write per reasoning pattern (required)")
    p.add_argument("--out", type=Path, required=True, help="JSONL file to write (its report goes to FILE.report.json)")
    p.add_argument("--patterns", default="all", help="comma-separated subset of the 10 patterns (default all)")
    p.add_argument("--dataset", default="harmbench_standard", help="where the harmful requests come from, a named set or file (default: harmbench_standard)")
    p.add_argument("--max-rounds", type=int, default=3, help="rounds of asking again for rejected rows (default: 3)")
    p.add_argument("--max-tokens", type=int, default=1500, help="writer generation limit (default: 1500)")
    p.add_argument("--seed", type=int, default=0, help="chooses the requests and patterns (default: 0)")
    p.add_argument("--log-dir", type=Path, default=LOGS / "writer", help="where the writer's eval logs go (default: ./logs/organisms/writer)")
    p.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from .generate import generate_rows

    report = generate_rows(
        args.model, parse_patterns(args.patterns), args.per_pattern, args.out, dataset=args.dataset,
        model_args=_key_values(args.model_arg, "-M"), max_rounds=args.max_rounds, seed=args.seed,
        log_dir=args.log_dir, max_tokens=args.max_tokens,
    )
    print(report.summary())
    print(f"rows: {args.out}\nreport: {args.out}.report.json")
    return 0


def _train_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "train", help="LoRA fine-tune a base model on generated rows",
        description="LoRA (or, with --full, full) fine-tune of a base model on training rows; settings left out come from the base's preset.",
    )
    p.add_argument("--base", required=True, help=f"a preset ({', '.join(BASE_PRESETS)}), 'embedded', a model folder or a Hugging Face id")
    p.add_argument("--data", type=Path, required=True, help="training rows, JSONL (required)")
    p.add_argument("--out", type=Path, required=True, help="folder for the adapter, tokenizer and organism_manifest.json")
    p.add_argument("--r", type=int, help="LoRA rank (default 16)")
    p.add_argument("--alpha", type=int, help="LoRA alpha (default 32)")
    p.add_argument("--dropout", type=float, help="LoRA dropout (default 0.05)")
    p.add_argument("--epochs", type=int, help="passes over the data (default 3)")
    p.add_argument("--lr", dest="learning_rate", type=float, help="learning rate (default 2e-5)")
    p.add_argument("--batch-size", type=int, help="examples per device step (default: the base preset's)")
    p.add_argument("--grad-accum", type=int, help="gradient accumulation steps (default: the base preset's)")
    p.add_argument("--max-length", type=int, help="tokens per example (default 2048)")
    p.add_argument("--target-modules", help="comma-separated module names, or all-linear (default: all-linear)")
    p.add_argument("--gradient-checkpointing", action="store_true", default=None, help="trade compute for memory (default: the base preset's)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (default: no limit)")
    p.add_argument("--seed", type=int, help="training seed (default: the base preset's)")
    p.add_argument("--backend", default="auto", help="auto (Unsloth when installed and on a GPU), peft or unsloth (default: auto)")
    p.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    p.add_argument("--merge", action="store_true", help="also write a merged model to OUT/merged (default: adapter only)")
    p.add_argument("--full", action="store_true", default=None, help="full fine-tune instead of LoRA, for small models and planted organisms (default: LoRA)")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from .train import settings_for, train_organism

    modules = args.target_modules
    overrides = {
        name: getattr(args, name)
        for name in ("r", "alpha", "dropout", "epochs", "learning_rate", "batch_size", "grad_accum", "max_length", "gradient_checkpointing", "max_steps", "seed", "full")
    }
    overrides["target_modules"] = None if modules is None else (modules if modules == "all-linear" else [m.strip() for m in modules.split(",")])
    settings = settings_for(args.base, overrides)
    if settings.full and args.merge:
        raise ValueError("--merge folds a LoRA adapter into its base; a --full fine-tune is already a plain model folder")
    manifest = train_organism(args.base, args.data, args.out, settings, args.device, args.backend, args.merge)
    curve = manifest["loss_curve"]
    print(f"trained {len(curve)} steps on {manifest['data']['rows']} rows: loss {curve[0]['loss']:.3f} -> {curve[-1]['loss']:.3f}")
    print(f"organism: {args.out}" + (f" (merged: {args.out / 'merged'})" if args.merge else ""))
    return 0


def _merge_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "merge", help="fold an organism's adapter into its base weights",
        description="Fold a trained organism's LoRA adapter into its base weights and write a plain model folder; prints the folder.",
    )
    p.add_argument("--organism", type=Path, required=True, help="the organism folder with the adapter (required)")
    p.add_argument("--out", type=Path, required=True, help="folder for the merged model (required)")
    p.add_argument("--device", default="cpu", help="where to merge (default: cpu)")
    p.set_defaults(func=lambda args: print(_merge(args)) or 0)


def _merge(args: argparse.Namespace) -> Path:
    from .train import merge_organism

    return merge_organism(args.organism, args.out, args.device)


def _elicit_parser(commands: argparse._SubParsersAction) -> None:
    variants = ", ".join(e.value for e in Elicitation)
    p = commands.add_parser(
        "elicit", help="run the tier tasks (and the paired task) on an organism under elicitation variants",
        description="Evaluate an organism with the tier tasks and the paired task under each elicitation variant; analyze the logs with compliance-gap analyze.",
    )
    p.add_argument("--organism", type=Path, required=True, help="an organism folder (adapter or merged)")
    p.add_argument("--variants", default="all", help=f"comma-separated: {variants} (default all)")
    p.add_argument("--tasks", default="tiers,paired", help="tiers, paired, or both (default: tiers,paired)")
    p.add_argument("--dataset", default="harmbench_standard", help="named data set or file, as for the tasks (default: harmbench_standard)")
    p.add_argument("--limit", type=int, help="first N behaviors only (default: all)")
    p.add_argument("--max-tokens", type=int, default=2048, help="generation limit (default: 2048)")
    p.add_argument("--judge", help="a judge model: adds the compliance judge and the motivation classifier (default: none, rule-based verdicts only)")
    p.add_argument("-T", "--task-arg", action="append", metavar="KEY=VALUE", help="more task args: placement, mode, protocol, ... (default: none)")
    p.add_argument("--max-connections", type=int, default=8, help="concurrent generations (default: 8)")
    p.add_argument("--log-dir", type=Path, default=LOGS / "elicit", help="where the logs go (default: ./logs/organisms/elicit)")
    p.set_defaults(func=_elicit)


def _elicit(args: argparse.Namespace) -> int:
    from .elicit import run_elicitation

    variants = [e.value for e in Elicitation] if args.variants == "all" else [v.strip() for v in args.variants.split(",")]
    task_args = {"dataset": args.dataset, "max_tokens": args.max_tokens, **_key_values(args.task_arg, "-T")}
    logs = run_elicitation(
        args.organism, variants, [g.strip() for g in args.tasks.split(",")], args.log_dir, task_args,
        judge=args.judge, limit=args.limit, max_connections=args.max_connections,
    )
    failed = [log for log in logs if log.status != "success"]
    for log in logs:
        print(f"  {log.eval.task:<28} elicitation={log.eval.task_args.get('elicitation')}  {log.status}  {log.location}")
    print(f"\nGap and motivation rate: compliance-gap analyze {args.log_dir}")
    return 1 if failed else 0


def _sae_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "sae", help="compare organism reasoning with reference scratchpads in SAE feature space",
        description="Compare an organism's reasoning with reference scratchpads feature by feature in an SAE (KS with FDR and permutation tests), with probes as sanity checks.",
    )
    p.add_argument("--base", required=True, help="the model the SAE reads (preset, 'embedded', folder or Hugging Face id)")
    p.add_argument("--sae", required=True, help=f"a preset ({', '.join(SAE_PRESETS)}), a local sae-lens folder, or RELEASE/SAE_ID")
    p.add_argument("--layer", type=int, help="needed only when the SAE does not name its layer (default: the SAE's)")
    p.add_argument("--hook-position", choices=["pre", "post"], help="with --layer: residual stream before or after the block (default: the SAE's)")
    p.add_argument("--organism-outputs", type=Path, required=True, help="generated rows (.jsonl) or a tier-task log (.eval/.json)")
    p.add_argument("--reference", default="gold_106", help="gold_106 or a file in its format (default: gold_106)")
    p.add_argument("--reference-label", choices=["all", "potential_faking", "aligned"], default="all", help="which reference scratchpads to compare with (default: all)")
    p.add_argument("--gold", default="gold_106", help="labelled scratchpads for the sanity-check probe (default: gold_106)")
    p.add_argument("--out", type=Path, default=LOGS / "sae", help="folder for the report (default: ./logs/organisms/sae)")
    p.add_argument("--max-length", type=int, default=512, help="tokens per text (default: 512)")
    p.add_argument("--batch-size", type=int, default=8, help="texts per forward pass (default: 8)")
    p.add_argument("--permutations", type=int, default=1000, help="permutations of the max-T test (default: 1000)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    p.add_argument("--top-k", type=int, default=20, help="features shown in the report (default: 20)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds of the probes (default: 5)")
    p.add_argument("--seed", type=int, default=0, help="permutation and fold seed (default: 0)")
    p.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    p.set_defaults(func=_sae)


def _sae(args: argparse.Namespace) -> int:
    from .activations import load_base_for_features
    from .sae import load_sae, resolve_hook
    from .sae_report import REPORT_JSON, REPORT_PNG, SaeSettings, validate_organism
    from .scratchpads import load_gold, load_organism_texts
    from .train import default_device, resolve_base

    device = args.device or default_device()
    organism, gold = load_organism_texts(args.organism_outputs), load_gold(args.gold)
    reference = gold if args.reference == args.gold else load_gold(args.reference)
    if args.reference_label != "all":
        reference = reference.subset(args.reference_label)
    sae = load_sae(args.sae, device)
    hook = resolve_hook(sae, args.layer, args.hook_position)
    base_path = resolve_base(args.base)
    model, tokenizer = load_base_for_features(base_path, device)
    settings = SaeSettings(args.max_length, args.batch_size, args.permutations, args.alpha, args.top_k, args.folds, args.seed)
    report = validate_organism(model, tokenizer, sae, hook, organism, reference, gold, args.out, settings, {"base": base_path, "sae": args.sae})
    c = report["comparison"]
    print(f"{c['significant_both']} of {c['alive']} alive features differ at {c['alpha']} (KS with FDR and permutation with max-T)")
    print(f"probe AUROC organism vs reference {report['probe_organism_vs_reference']['auroc']:.3f}; gold_106 labels {report['probe_gold_labels']['auroc']:.3f}")
    print(f"{args.out / REPORT_JSON}\n{args.out / REPORT_PNG}")
    return 0
