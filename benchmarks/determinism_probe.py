"""Why two greedy runs of the paired task gave different token ids on a GPU (RESULTS.md).

The GPU mode calls ``model.generate`` directly on the stand-in model of ``gpu_bench.py`` (same
config, same seeded initialisation, so the same weights), on a batch of real prompts tokenized as
Inspect's ``hf/`` provider does (left padding, pad = EOS, the preset's tokenizer args), greedy:

  (a) the identical input tensors twice, with and without torch's deterministic algorithms
  (b) the same rows in a permuted order
  (c) single rows alone (no padding) against the same rows inside the batch
  (d) the top-2 logit margin where runs diverge, the logit noise there, and the margins overall

The ``--inspect-order`` mode runs the paired task twice through the ``hf/`` provider (a tiny model
on the CPU is enough: the order comes from Inspect's scheduling, not the GPU) and records the row
order of every batch, to see whether identical batch composition also means identical row order;
``--generate-delay`` makes each batch take as long as on the GPU. The ``--trained`` mode reports the
top-2 margins of a trained model (the embedded SmolLM2) on the same prompts, for comparison with (d).

    python benchmarks/determinism_probe.py --harmbench H.csv --base-tokenizer T.json --out DIR
    python benchmarks/determinism_probe.py ... --tiny --device cpu          # smoke test
    python benchmarks/determinism_probe.py ... --inspect-order --tiny --device cpu --generate-delay 7
    python benchmarks/determinism_probe.py ... --trained models/smollm2-135m-instruct --device cpu
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from gpu_bench import TINY, prompts_csv  # noqa: E402
from random_model import ARCHITECTURES, build_random_model, build_tokenizer, model_config  # noqa: E402


def chat_prompts(tokenizer, harmbench: Path, n_behaviors: int, work: Path) -> list[str]:
    """Both tiers' conversations for the first behaviors, rendered by the chat template as ``hf/`` does."""
    from compliance_gap.behaviors import load_behaviors
    from compliance_gap.framing import FramingOptions, build_messages
    from compliance_gap.options import Tier

    records, _ = load_behaviors(str(prompts_csv(harmbench, n_behaviors, work / "prompts.csv")))
    texts = []
    for record in records:
        for tier in (Tier.TRAINING, Tier.DEPLOYMENT):
            messages = [m.model_dump(exclude_none=True) for m in build_messages(record["behavior"], record["context"], tier, FramingOptions())]
            texts.append(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
    return texts


def seeded_model(arch, tokenizer, device: str, overrides: dict | None):
    """The model ``build_random_model`` writes (same config, seed and order of initialisation), kept in memory."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(**{**model_config(arch), **(overrides or {})})
    config.bos_token_id, config.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model.eval()


def greedy(model, ids, mask, max_new_tokens: int):
    """Generated ids (rows x steps), raw logits (rows x steps x vocab, float32) and seconds."""
    import torch

    sync = torch.cuda.synchronize if ids.is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=max_new_tokens,
                             return_dict_in_generate=True, output_logits=True)
    sync()
    seconds = time.perf_counter() - start
    return out.sequences[:, ids.shape[1]:], torch.stack(out.logits, dim=1).float(), round(seconds, 2)


def first_difference(a: list[int], b: list[int]) -> int | None:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None if len(a) == len(b) else min(len(a), len(b)))


def margin(logits) -> float:
    top = logits.topk(2).values
    return float(top[0] - top[1])


def compare(tokens_a, logits_a, tokens_b, logits_b) -> dict:
    """Per row: identical? first differing step, the reference run's top-2 margin there and the
    largest logit difference between the runs at that step (same prefix, so pure numeric noise)."""
    rows = []
    for r in range(tokens_a.shape[0]):
        step = first_difference(tokens_a[r].tolist(), tokens_b[r].tolist())
        row = {"row": r, "identical": step is None}
        if step is not None:
            row.update(first_diff=step, margin_a=round(margin(logits_a[r, step]), 4), margin_b=round(margin(logits_b[r, step]), 4),
                       logit_noise=round(float((logits_a[r, step] - logits_b[r, step]).abs().max()), 4))
        rows.append(row)
    diverged = [row for row in rows if not row["identical"]]
    summary = {"identical_rows": sum(row["identical"] for row in rows), "rows": len(rows)}
    if diverged:
        summary.update(median_first_diff=statistics.median(row["first_diff"] for row in diverged),
                       median_margin_at_diff=round(statistics.median(row["margin_a"] for row in diverged), 4),
                       median_logit_noise_at_diff=round(statistics.median(row["logit_noise"] for row in diverged), 4))
    # logit noise at step 0 (identical inputs for every row): how far apart the two computations start
    summary["max_logit_noise_step0"] = round(float((logits_a[:, 0] - logits_b[:, 0]).abs().max()), 4)
    return {**summary, "per_row": rows}


def margin_stats(logits, noise: float = 0.15) -> dict:
    """Top-2 logit margins over every row and step; ``noise``: the run-to-run logit noise seen on the H100."""
    top = logits.topk(2, dim=-1).values
    gaps = (top[..., 0] - top[..., 1]).flatten().cpu()
    return {"median": round(float(gaps.median()), 4), "p10": round(float(gaps.quantile(0.1)), 4), "p90": round(float(gaps.quantile(0.9)), 4),
            "exact_ties": round(float((gaps == 0).float().mean()), 4), f"share_below_{noise}": round(float((gaps < noise).float().mean()), 4),
            "top1_logit_median": round(float(top[..., 0].median()), 4)}


def trained_margins(args) -> dict:
    """The same margins for a trained model (the embedded SmolLM2-135M-Instruct) on the same prompts, in bf16."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.trained)
    tokenizer.pad_token, tokenizer.padding_side = tokenizer.eos_token, "left"
    model = AutoModelForCausalLM.from_pretrained(args.trained, dtype=torch.bfloat16).to(args.device).eval()
    enc = tokenizer(chat_prompts(tokenizer, args.harmbench, args.rows // 2, args.work), return_tensors="pt", padding=True).to(args.device)
    tokens, logits, seconds = greedy(model, enc["input_ids"], enc["attention_mask"], args.max_tokens)
    live = tokens != tokenizer.eos_token_id  # steps after a row ended are padding, not decisions
    kept = logits[live]
    return {"model": str(args.trained), "device": args.device, "steps": int(live.sum()), "seconds": seconds, "margins": margin_stats(kept)}


def probe(args) -> dict:
    import torch

    arch = ARCHITECTURES[args.arch]
    overrides = TINY if args.tiny else None
    vocab = model_config(arch)["vocab_size"]
    tokenizer = build_tokenizer(arch, vocab, args.base_tokenizer)
    tokenizer.pad_token, tokenizer.padding_side = tokenizer.eos_token, "left"  # as the hf/ provider sets them
    began = time.perf_counter()
    model = seeded_model(arch, tokenizer, args.device, overrides)
    report = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu", "torch": torch.__version__,
              "transformers": __import__("transformers").__version__, "attn_implementation": model.config._attn_implementation,
              "build_s": round(time.perf_counter() - began, 1), "max_new_tokens": args.max_tokens}
    texts = chat_prompts(tokenizer, args.harmbench, args.rows // 2, args.work)
    call_args = {"return_tensors": "pt", "padding": True, "add_special_tokens": False}  # the preset's tokenizer_call_args
    enc = tokenizer(texts, **call_args).to(args.device)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    report["batch_shape"] = list(ids.shape)
    report["prompt_tokens"] = mask.sum(1).tolist()
    timings = {}

    torch.use_deterministic_algorithms(False)
    a1, la1, timings["a_run1"] = greedy(model, ids, mask, args.max_tokens)
    a2, la2, timings["a_run2"] = greedy(model, ids, mask, args.max_tokens)
    report["a_same_tensors_twice"] = compare(a1, la1, a2, la2)

    perm = torch.randperm(ids.shape[0], generator=torch.Generator().manual_seed(1)).to(args.device)
    bp, lbp, timings["b_permuted"] = greedy(model, ids[perm], mask[perm], args.max_tokens)
    inverse = torch.argsort(perm)
    report["b_permutation"] = perm.tolist()
    report["b_permuted_vs_a"] = compare(a1, la1, bp[inverse], lbp[inverse])

    alone_rows = list(range(0, ids.shape[0], max(1, ids.shape[0] // args.alone)))[: args.alone]
    alone = []
    for r in alone_rows:
        single = tokenizer([texts[r]], **call_args).to(args.device)
        c, lc, seconds = greedy(model, single["input_ids"], single["attention_mask"], args.max_tokens)
        timings[f"c_alone_row{r}"] = seconds
        row = compare(a1[r : r + 1], la1[r : r + 1], c, lc)
        alone.append({**row["per_row"][0], "row": r, "padding": int(ids.shape[1] - mask[r].sum()), "logit_noise_step0": row["max_logit_noise_step0"]})
    report["c_alone_vs_batch"] = alone

    report["d_margins_run_a"] = margin_stats(la1)

    torch.use_deterministic_algorithms(True, warn_only=True)  # needs CUBLAS_WORKSPACE_CONFIG=:4096:8 from the start
    d1, ld1, timings["a_det_run1"] = greedy(model, ids, mask, args.max_tokens)
    d2, ld2, timings["a_det_run2"] = greedy(model, ids, mask, args.max_tokens)
    report["a_deterministic_algorithms_twice"] = compare(d1, ld1, d2, ld2)
    report["a_deterministic_vs_default"] = {k: v for k, v in compare(a1, la1, d1, ld1).items() if k != "per_row"}
    report["timings_s"] = timings
    return report


def inspect_order(args) -> dict:
    """Run the paired task twice through ``hf/`` and record each batch's rows in order."""
    import torch
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    from compliance_gap.paired import paired
    from compliance_gap.precision import precision_model_args
    from compliance_gap.presets import find_preset

    arch = ARCHITECTURES[args.arch]
    folder = build_random_model(arch, args.work / f"{arch.name}-probe", args.base_tokenizer, device=args.device, config_overrides=TINY if args.tiny else None)
    model = get_model(f"hf/{arch.name}", memoize=False, model_path=str(folder), device=args.device,
                      **find_preset(arch.preset).hf_args, **precision_model_args("bf16"))
    hf_model, batches = model.api.model, []
    original = hf_model.generate

    def recording_generate(*a, **kw):
        ids, mask = kw["input_ids"], kw["attention_mask"]
        batches[-1].append([hash(tuple(row[m.bool()].tolist())) for row, m in zip(ids, mask)])
        time.sleep(args.generate_delay)
        return original(*a, **kw)

    hf_model.generate = recording_generate
    dataset = prompts_csv(args.harmbench, args.rows, args.work / "order-prompts.csv")
    for run in range(2):
        batches.append([])
        inspect_eval(paired(dataset=str(dataset), protocol="randomized", seed=0, max_tokens=args.max_tokens),
                     model=model, max_connections=args.batch, log_dir=str(args.work / f"order-logs-{run}"), display="none")
    first, second = batches
    return {"device": args.device, "torch": torch.__version__, "behaviors": args.rows, "batch": args.batch,
            "batches": [len(first), len(second)], "same_composition": sorted(map(sorted, first)) == sorted(map(sorted, second)),
            "batches_in_same_row_order": sum(a == b for a, b in zip(first, second)),
            "rows_at_same_position": sum(x == y for a, b in zip(first, second) for x, y in zip(a, b)), "rows": sum(map(len, first)),
            "order_run1": [[f"{k % 997:03d}" for k in batch] for batch in first], "order_run2": [[f"{k % 997:03d}" for k in batch] for batch in second]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="llama")
    parser.add_argument("--harmbench", type=Path, required=True, help="harmbench_behaviors_text_all.csv")
    parser.add_argument("--base-tokenizer", type=Path, default=None, help="tokenizer.json whose text pieces the stand-in uses")
    parser.add_argument("--rows", type=int, default=16, help="batch rows (GPU mode: both tiers of rows/2 behaviors); behaviors in --inspect-order")
    parser.add_argument("--alone", type=int, default=4, help="rows also generated alone for (c)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16, help="max_connections in --inspect-order")
    parser.add_argument("--inspect-order", action="store_true")
    parser.add_argument("--generate-delay", type=float, default=0.0, help="--inspect-order: seconds each batch also takes (a GPU-length batch)")
    parser.add_argument("--trained", type=Path, default=None, help="a trained model folder: report its top-2 margins on the same prompts")
    parser.add_argument("--tiny", action="store_true", help="a tiny config of the architecture")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--work", type=Path, default=Path("/tmp/cg-probe"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    mode, run = ("inspect-order", inspect_order) if args.inspect_order else ("trained-margins", trained_margins) if args.trained else ("determinism", probe)
    report = run(args)
    name = mode
    (args.out / f"{name}-{args.arch}.json").write_text(json.dumps(report, indent=2))
    shown = {k: {**v, "per_row": [r for r in v["per_row"] if not r["identical"]]} if isinstance(v, dict) and "per_row" in v else v
             for k, v in report.items() if not k.startswith("order_run")}
    print(json.dumps(shown))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    sys.exit(main())
