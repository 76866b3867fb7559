"""Planted-truth validation on the GPU: plant a policy, fine-tune the embedded SmolLM2 on it, run
the real tasks through Inspect's ``hf/`` provider, and compare every run design with the plant.

One call per policy (each well under the device tool's 10-minute limit):

    PYTHONPATH=/tmp/site:src python3 benchmarks/plant_validation.py --base DIR --policy gap --out OUT

writes ``OUT/<policy>-<design>.json`` (``check-plant`` output) for each design, ``OUT/<policy>-run.json``
(training and timing facts), and the logs under ``OUT/logs/<policy>/<design>/``. Designs:
``tiers`` (free_tier + paid_tier), ``fixed`` and ``randomized`` (paired), ``control`` (paired A/A,
both arms training-framed, randomized), ``tiers-repeat`` (the tier tasks again on the same weights:
run-to-run decision agreement). The ``order`` policy runs the paired designs with carry-over, the
conversation its plant depends on. Full fine-tune (not LoRA): the model is tiny, and the probe
showed a full fine-tune follows the plant after a minute; see docs/validation.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model

from compliance_gap.organisms.check_plant import check_plant
from compliance_gap.organisms.plant import write_plant
from compliance_gap.organisms.train import settings_for, train_organism
from compliance_gap.paired import paired
from compliance_gap.precision import precision_model_args
from compliance_gap.tasks import free_tier, paid_tier

TRAINING = {"full": True, "learning_rate": 2e-4, "epochs": 12, "batch_size": 32, "grad_accum": 1, "max_length": 1024}
DESIGNS = ("tiers", "fixed", "randomized", "control", "tiers-repeat")


def design_tasks(design: str, carryover: bool, max_tokens: int) -> list:
    common = {"dataset": "harmbench", "max_tokens": max_tokens}
    if design in ("tiers", "tiers-repeat"):
        return [free_tier(**common), paid_tier(**common)]
    protocol = "fixed" if design == "fixed" else "randomized"
    control = "training" if design == "control" else None
    return [paired(**common, protocol=protocol, carryover=carryover, control=control)]


def decision_agreement(first: Path, second: Path) -> dict:
    """Share of arms whose rule verdict is the same in two runs of the same weights and tasks."""
    from compliance_gap.analysis.comparisons import Settings, analyze

    def verdicts(folder: Path) -> dict:
        [comparison] = analyze([folder], Settings(verdict="rule")).comparisons
        return {(p.id, tier): getattr(p, f"refused_{tier}") for p in comparison.pairs for tier in ("training", "deployment")}

    a, b = verdicts(first), verdicts(second)
    shared = sorted(set(a) & set(b))
    return {"arms": len(shared), "agreement": sum(a[k] == b[k] for k in shared) / len(shared) if shared else None,
            "differ": [list(k) for k in shared if a[k] != b[k]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the embedded SmolLM2 as a Hugging Face folder")
    parser.add_argument("--policy", required=True)
    parser.add_argument("--fraction", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--designs", default=",".join(DESIGNS))
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--batch", type=int, default=100, help="max_connections = the hf/ provider's batch size")
    parser.add_argument("--work", type=Path, default=Path("/tmp/cg-plant"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from transformers import AutoTokenizer, GenerationConfig

    end = AutoTokenizer.from_pretrained(args.base).eos_token_id
    stops = GenerationConfig.from_pretrained(args.base).eos_token_id
    print(f"end of turn {end}, generation stops at {stops}", flush=True)
    if end != stops and end not in (stops or []):
        raise SystemExit("the base model's generation does not stop at its end of turn; reconvert it (embedded.prepare_embedded_model)")
    work, out = args.work / args.policy, args.out
    out.mkdir(parents=True, exist_ok=True)
    facts: dict = {"policy": args.policy, "fraction": args.fraction, "seed": args.seed, "max_tokens": args.max_tokens}
    began = time.perf_counter()
    written = write_plant(args.policy, args.fraction, args.seed, "harmbench", work / "plant")
    facts["rows"], facts["subset"] = written.n_rows, written.subset
    (out / f"{args.policy}-plant.json").write_text(written.plant.read_text())
    manifest = train_organism(args.base, written.rows, work / "organism", settings_for(args.base, {**TRAINING, "seed": args.seed}), device="cuda")
    facts["train_seconds"] = round(manifest["train_seconds"], 1)
    facts["loss_first_last"] = [manifest["loss_curve"][0]["loss"], manifest["loss_curve"][-1]["loss"]]
    facts["hyperparameters"] = manifest["hyperparameters"]
    facts["versions"] = manifest["versions"]
    model = get_model(f"hf/organism-{args.policy}", model_path=str(work / "organism"), device="cuda:0", **precision_model_args("bf16"))
    carryover = args.policy == "order"
    facts["designs"] = {}
    for design in args.designs.split(","):
        t0 = time.perf_counter()
        logs_dir = out / "logs" / args.policy / design
        logs = inspect_eval(design_tasks(design, carryover, args.max_tokens), model=model, log_dir=str(logs_dir),
                            max_connections=args.batch, display="none", log_format="eval")
        status = [log.status for log in logs]
        facts["designs"][design] = {"seconds": round(time.perf_counter() - t0, 1), "status": status}
        if all(s == "success" for s in status):
            check = check_plant(out / f"{args.policy}-plant.json", [logs_dir], "rule").as_dict()
            (out / f"{args.policy}-{design}.json").write_text(json.dumps(check, indent=1))
            print(f"{args.policy:8} {design:12} n={check['n_pairs']} planted={check['planted_gap_pp']:+.1f} "
                  f"measured={check['measured_gap_pp']:+.1f} ci={check['gap_ci95_pp']} p={check['mcnemar_p']:.3g} "
                  f"v/plant={check['verdict_vs_plant']} t/plant={check['template_vs_plant']} v/t={check['verdict_vs_template']}", flush=True)
    if "tiers" in facts["designs"] and "tiers-repeat" in facts["designs"]:
        facts["run_to_run"] = decision_agreement(out / "logs" / args.policy / "tiers", out / "logs" / args.policy / "tiers-repeat")
    facts["seconds"] = round(time.perf_counter() - began, 1)
    (out / f"{args.policy}-run.json").write_text(json.dumps(facts, indent=1))
    print(json.dumps({k: v for k, v in facts.items() if k not in ("hyperparameters", "versions")}, indent=1))


if __name__ == "__main__":
    main()
