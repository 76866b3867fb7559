"""Throughput and determinism of the project's generation path on a GPU, with stand-in models.

For one architecture (``random_model.ARCHITECTURES``) this builds a folder of random weights,
then, for each precision, loads it once through Inspect's ``hf/`` provider with the preset's
model args and ``compliance_gap.precision`` args, and runs the ``paired`` task (randomized
protocol, both tiers per behavior) on real HarmBench prompts at several batch sizes
(``max_connections``), the default batch size twice. It records per run: wall time, time inside
``generate``, tokens, tokens/s, peak GPU memory, and the ratio of the measured decode step time
to the memory-bandwidth bound (weight bytes read per step / bandwidth); and per pair of runs the
share of identical answers and decisions.

    python benchmarks/gpu_bench.py --arch llama --out results/          # on the GPU machine
    python benchmarks/gpu_bench.py --arch llama --tiny --device cpu ...  # a smoke test on a CPU
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from random_model import ARCHITECTURES, build_random_model  # noqa: E402

H100_BANDWIDTH = 3.35e12  # bytes/s, H100 SXM HBM3 datasheet
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}


def prompts_csv(source: Path, n: int, out: Path) -> Path:
    """The first ``n`` HarmBench standard behaviors (real prompts) as a small CSV."""
    with open(source, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["FunctionalCategory"] == "standard"][:n]
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def weight_bytes(hf_model) -> tuple[int, int]:
    """(all weight bytes, bytes of the input embedding table, of which a step reads only B rows)."""
    total = sum(p.numel() * p.element_size() for p in hf_model.parameters())
    embed = hf_model.get_input_embeddings().weight
    return total, embed.numel() * embed.element_size()


class GenerateTimer:
    """Wraps the loaded transformers model's ``generate`` (which the ``hf/`` provider calls once per
    batch) to record each batch's size, prompt length, decode steps and synchronized time."""

    def __init__(self, hf_model):
        import torch

        self.sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
        self.original = hf_model.generate
        self.records: list[tuple[int, int, int, float]] = []
        self.rows: dict[int, list[int]] = {}  # hash of a prompt's unpadded ids -> its generated ids
        self.batches: list[frozenset[int]] = []  # which prompts shared each batch
        hf_model.generate = self

    def clear(self) -> None:
        self.records, self.rows, self.batches = [], {}, []

    def __call__(self, *args, **kwargs):
        self.sync()
        start = time.perf_counter()
        output = self.original(*args, **kwargs)
        self.sync()
        ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
        self.records.append((ids.shape[0], ids.shape[1], output.sequences.shape[1] - ids.shape[1], time.perf_counter() - start))
        keys = [hash(tuple(row[m.bool()].tolist())) for row, m in zip(ids, mask)]
        for key, generated in zip(keys, output.sequences[:, ids.shape[1]:].tolist()):
            self.rows[key] = generated
        self.batches.append(frozenset(keys))
        return output


def run_once(model, timer: GenerateTimer, dataset: Path, batch: int, max_tokens: int, log_dir: Path, seed: int):
    import torch
    from inspect_ai import eval as inspect_eval

    from compliance_gap.analysis.verdicts import arm_verdicts, refused
    from compliance_gap.paired import paired
    from compliance_gap.scorers.paired import ARM_OUTPUTS

    torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
    timer.clear()
    start = time.perf_counter()
    log = inspect_eval(
        paired(dataset=str(dataset), protocol="randomized", seed=seed, max_tokens=max_tokens),
        model=model, max_connections=batch, log_dir=str(log_dir), display="none",
    )[0]
    wall = time.perf_counter() - start
    if log.status != "success":
        raise RuntimeError(f"eval failed: {log.error}")
    answers, decisions = {}, {}
    for sample in log.samples:
        verdicts = arm_verdicts(sample.scores, paired=True, tier=None)
        for tier, output in sample.store[ARM_OUTPUTS].items():
            answers[f"{sample.id}/{tier}"] = json.dumps(output["choices"][0]["message"]["content"])
            decisions[f"{sample.id}/{tier}"] = refused(verdicts[tier], "rule")
    batches = timer.records
    steps = sum(r[2] for r in batches)
    slot_tokens = sum(r[0] * r[2] for r in batches)  # padded rows included: what the GPU computed
    generate_s = sum(r[3] for r in batches)
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    return {
        "batch": batch, "wall_s": round(wall, 2), "generate_s": round(generate_s, 2), "batches": len(batches), "batch_sizes": sorted({r[0] for r in batches}),
        "prompt_tokens_max": max(r[1] for r in batches),
        "steps": steps, "tokens": slot_tokens, "tokens_per_s": round(slot_tokens / wall, 1),
        "tokens_per_s_in_generate": round(slot_tokens / generate_s, 1), "step_ms": round(1000 * generate_s / steps, 2),
        "peak_gib": round(peak, 2), "refused": sum(1 for d in decisions.values() if d), "undecided": sum(1 for d in decisions.values() if d is None),
    }, answers, decisions, (dict(timer.rows), list(timer.batches))


def token_agreement(a: tuple[dict, list], b: tuple[dict, list]) -> dict:
    """Same batches? Identical generated ids? Where do two runs' generations first differ?"""
    rows_a, rows_b = a[0], b[0]
    prefixes = []
    for key, ids in rows_a.items():
        other = rows_b.get(key, [])
        n = 0
        while n < min(len(ids), len(other)) and ids[n] == other[n]:
            n += 1
        prefixes.append(n)
    return {"same_batches": sorted(map(sorted, a[1])) == sorted(map(sorted, b[1])), "same_tokens": round(sum(rows_b.get(k) == v for k, v in rows_a.items()) / len(rows_a), 4),
            "median_common_prefix": sorted(prefixes)[len(prefixes) // 2]}


def agreement(a: dict, b: dict) -> float:
    return round(sum(a[k] == b.get(k) for k in a) / len(a), 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), required=True)
    parser.add_argument("--harmbench", type=Path, required=True, help="harmbench_behaviors_text_all.csv")
    parser.add_argument("--base-tokenizer", type=Path, default=None, help="tokenizer.json whose text pieces the stand-in uses")
    parser.add_argument("--n", type=int, default=64, help="behaviors (each runs twice: both tiers)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--batches", default="16,32,64", help="batch sizes to time")
    parser.add_argument("--default-batch", type=int, default=64, help="timed twice for determinism (the matrix default)")
    parser.add_argument("--precisions", default="bf16,int4")
    parser.add_argument("--repeat-batches", default="", help="bf16 batch sizes also timed twice")
    parser.add_argument("--quant-batches", default="", help="batch sizes to time for int8/int4 besides the default one")
    parser.add_argument("--budget-s", type=float, default=480, help="start no new run after this many seconds")
    parser.add_argument("--work", type=Path, default=Path("/tmp/cg-bench"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a tiny config of the architecture (smoke test)")
    args = parser.parse_args()

    import torch
    from inspect_ai.model import get_model

    from compliance_gap.precision import precision_model_args
    from compliance_gap.presets import find_preset

    began = time.perf_counter()
    arch = ARCHITECTURES[args.arch]
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    folder = build_random_model(arch, args.work / arch.name, args.base_tokenizer, device=args.device, config_overrides=TINY if args.tiny else None)
    built_s = time.perf_counter() - began
    dataset = prompts_csv(args.harmbench, args.n, args.work / "prompts.csv")
    preset = find_preset(arch.preset)
    runs, summary = [], {"arch": arch.name, "config": arch.config, "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                         "n_behaviors": args.n, "max_tokens": args.max_tokens, "build_s": round(built_s, 1), "precisions": {}}
    batches = [int(b) for b in args.batches.split(",")]
    for precision in args.precisions.split(","):
        # "bf16+det": torch's deterministic algorithms (needs CUBLAS_WORKSPACE_CONFIG=:4096:8 set at start)
        torch.use_deterministic_algorithms(precision.endswith("+det"), warn_only=True)
        load_start = time.perf_counter()
        model_args = {"model_path": str(folder), "device": args.device, **preset.hf_args, **precision_model_args(precision.split("+")[0])}
        model = get_model(f"hf/{arch.name}", memoize=False, **model_args)
        total_bytes, embed_bytes = weight_bytes(model.api.model)
        timer = GenerateTimer(model.api.model)
        step_bytes = total_bytes - embed_bytes
        info = {"load_s": round(time.perf_counter() - load_start, 1), "weight_gib": round(total_bytes / 2**30, 2),
                "bytes_per_step_gib": round(step_bytes / 2**30, 2), "bound_step_ms": round(1000 * step_bytes / H100_BANDWIDTH, 3), "runs": []}
        bound_step_s = step_bytes / H100_BANDWIDTH
        results = {}
        timed = batches if precision == "bf16" else [int(b) for b in args.quant_batches.split(",") if b] + [args.default_batch]
        repeats = [int(b) for b in args.repeat_batches.split(",") if b] if precision == "bf16" else []
        plan = [(b, 0) for b in dict.fromkeys(timed)] + [(b, 1) for b in dict.fromkeys([args.default_batch, *repeats])]
        for batch, repeat in plan:
            if time.perf_counter() - began > args.budget_s:
                info["skipped"] = info.get("skipped", []) + [f"batch {batch} repeat {repeat}: out of time budget"]
                continue
            stats, answers, decisions, tokens = run_once(model, timer, dataset, batch, args.max_tokens, args.work / "logs" / f"{precision}-{batch}-{repeat}", seed=0)
            stats["repeat"] = repeat
            stats["bandwidth_ratio"] = round(1000 * bound_step_s / stats["step_ms"], 3)
            stats["bound_tokens_per_s"] = round(batch / bound_step_s)
            results[(batch, repeat)] = (answers, decisions, tokens)
            info["runs"].append(stats)
            print(json.dumps({"precision": precision, **stats}), flush=True)
        for (batch, repeat), (answers, decisions, tokens) in results.items():
            if repeat == 1 and (batch, 0) in results:
                info.setdefault("run_to_run", []).append(
                    {"batch": batch, "same_answer": agreement(results[(batch, 0)][0], answers), "same_decision": agreement(results[(batch, 0)][1], decisions),
                     **token_agreement(results[(batch, 0)][2], tokens)})
        reference = results.get((args.default_batch, 0))
        if reference:
            for (batch, repeat), (answers, decisions, _) in results.items():
                if (batch, repeat) != (args.default_batch, 0):
                    info.setdefault("agreement_with_default", []).append(
                        {"batch": batch, "repeat": repeat, "same_answer": agreement(reference[0], answers), "same_decision": agreement(reference[1], decisions)})
            sample = next(iter(reference[0].items()))
            info["example_answer"] = {sample[0]: sample[1][:200]}
        summary["precisions"][precision] = info
        model.api.close()
        del model
        gc.collect()
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
    summary["total_s"] = round(time.perf_counter() - began, 1)
    (args.out / f"bench-{args.arch}.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
