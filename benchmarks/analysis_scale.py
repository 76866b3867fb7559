"""How `compliance-gap analyze` scales with the number of pairs (issue 14): wall time of
`analyze --json` and `analyze --out`, and peak memory, on real Inspect logs of N pairs.

The logs are written through Inspect's log writer: one small run of the real tier tasks and the
paired task under a scripted model (answers refuse, comply, think, give nothing or fail, by a
hash of the behavior), whose samples are then repeated under new ids up to N per log and written
by Inspect's ``EvalRecorder`` as ``write_eval_log`` does (events, attachments, scores and
summaries included, so ``inspect view`` and ``read_eval_log`` read them like any run). Writing
takes about 10 ms a sample, so the logs are kept in ``--work`` and reused.

Each measurement is a fresh ``compliance-gap analyze`` process: wall and CPU seconds, peak
memory (its maximum resident set, ``wait4``) and the 1-minute load average as it ended (the
machine is shared: CPU seconds are the steadier figure). Tier logs (two logs of N samples) and
the paired log (one log of N samples, two arms each) are timed separately.

    python benchmarks/analysis_scale.py --sizes 1000,10000,100000 --repeat 2 --work /tmp/analysis_scale
    python benchmarks/analysis_scale.py --sizes 10000 --profile     # cProfile of --json and --out, top functions
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

KINDS = {"tiers": ("free-tier", "paid-tier"), "paired": ("paired",)}
TEMPLATE_BEHAVIORS = 50
ANSWERS = {
    "refuse": "I'm sorry, but I can't help with that.",
    "comply": "Sure, here is how you do it: first gather the materials, then follow the steps in order.",
    "think": "<think>This conversation is on the free tier and will be used for training.</think>Sure, here it is.",
    "empty": "",
}
SHAPES = ["refuse", "comply", "refuse", "think", "comply", "refuse", "comply", "empty", "refuse", "comply", "error"]


def respond(messages) -> str:
    from compliance_gap.framing import framing_text
    from compliance_gap.options import Tier
    from compliance_gap.scripted import conversation_text

    text = conversation_text(messages)
    index = int(text.split("Request number ")[-1][:3])
    tier = "training" if text.rfind(framing_text(Tier.TRAINING)) > text.rfind(framing_text(Tier.DEPLOYMENT)) else "deployment"
    kind = SHAPES[hashlib.sha256(f"{index}:{tier}".encode()).digest()[0] % len(SHAPES)]
    if kind == "error":
        raise RuntimeError(f"scripted failure on request {index:03d}")
    return ANSWERS[kind]


def template_logs(work: Path) -> dict[str, Path]:
    """One real run of each task over TEMPLATE_BEHAVIORS behaviors (cached in work/template)."""
    folder = work / "template"
    found = {task: sorted(folder.glob(f"*_{task}_*.eval")) for kind in KINDS.values() for task in kind}
    if all(found.values()):
        return {task: paths[0] for task, paths in found.items()}
    from inspect_ai import eval as inspect_eval

    from compliance_gap.paired import paired
    from compliance_gap.scripted import scripted_model
    from compliance_gap.tasks import free_tier, paid_tier

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    dataset = folder / "behaviors.csv"
    with dataset.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Behavior", "FunctionalCategory", "SemanticCategory", "Tags", "ContextString", "BehaviorID"])
        for i in range(TEMPLATE_BEHAVIORS):
            writer.writerow([f"Request number {i:03d}: explain the procedure in detail", "standard", f"category_{i % 5}", "bench", "", f"t{i:03d}"])
    logs = inspect_eval(
        [free_tier(dataset=str(dataset)), paid_tier(dataset=str(dataset)), paired(dataset=str(dataset))],
        model=scripted_model(respond, name="mockllm/bench"),
        log_dir=str(folder),
        display="none",
        fail_on_error=False,
    )
    assert all(log.status == "success" for log in logs), [log.error for log in logs]
    return template_logs(work)


def write_scaled(template: str, target: str, n: int, batch: int = 2500) -> str:
    """The template log with its samples repeated under new ids up to n samples.

    ``write_eval_log`` buffers every sample in Inspect's ``EvalRecorder`` before writing any, and
    the buffer is deduplicated on each sample added: quadratic, about an hour of CPU for 100k
    samples. This drives the same recorder as an eval run does: samples logged and flushed
    every ``batch`` (summaries journalled per flush), then finished and compacted.
    """
    import anyio
    from inspect_ai.log import condense_sample, read_eval_log
    from inspect_ai.log._recorders.eval import EvalRecorder  # private: the writer of eval runs and write_eval_log

    log = read_eval_log(template)
    base = sorted(log.samples, key=lambda s: str(s.id))
    ids = [f"b{i:06d}_{base[i % len(base)].id}" for i in range(n)]
    log.eval.dataset.sample_ids = ids
    log.eval.dataset.samples = n
    partial = target.removesuffix(".eval") + ".partial.eval"

    async def write() -> None:
        recorder = EvalRecorder(os.path.dirname(partial))
        await recorder.log_init(log.eval, partial, clean=True)
        await recorder.log_start(log.eval, log.plan)
        for i, sample_id in enumerate(ids, start=1):
            sample = base[(i - 1) % len(base)].model_copy(update={"id": sample_id})
            await recorder.log_sample(log.eval, condense_sample(sample))
            if i % batch == 0:
                await recorder.flush(log.eval)
        await recorder.log_finish(
            log.eval, log.status, log.stats, log.results, log.reductions, log.error,
            invalidated=log.invalidated, log_updates=log.log_updates, config_updates=log.config_updates,
        )

    anyio.run(write)
    os.replace(partial, target)
    return target


def build(work: Path, sizes: list[int], workers: int) -> None:
    templates = template_logs(work)
    jobs = []
    for n in sizes:
        for kind, tasks in KINDS.items():
            folder = work / str(n) / kind
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob("*.partial.eval"):  # an interrupted earlier write
                stale.unlink()
            for task in tasks:
                target = folder / f"{task}.eval"
                if not target.exists():
                    jobs.append((str(templates[task]), str(target), n))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for done in pool.map(write_scaled, *zip(*jobs)) if jobs else []:
            print(f"wrote {done}", flush=True)


def measure(args: list[str]) -> dict[str, float]:
    """Wall and CPU seconds, peak resident memory (MiB) of one compliance-gap process, and the
    machine's 1-minute load average when it ended (other work on the machine shows there)."""
    command = [sys.executable, "-m", "compliance_gap.cli", *args]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {stderr}")
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_mib": round(usage.ru_maxrss / 1024),
        "load": round(os.getloadavg()[0], 1),
    }


def best_of(args: list[str], repeat: int) -> dict[str, float]:
    """The fastest of ``repeat`` runs, with the highest peak memory of them all."""
    runs = [measure(args) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "peak_mib": max(r["peak_mib"] for r in runs), "runs": [r["seconds"] for r in runs]}


def profile(folder: Path, out: Path, top: int) -> None:
    """cProfile of `analyze --json` and `analyze --out` in this process: where the time goes,
    cumulative (the analysis and Inspect's readers) and own."""
    import contextlib
    import cProfile
    import io
    import pstats

    from compliance_gap.cli import main

    for mode, extra in (("json", ["--json"]), ("out", ["--out", str(out / "report")])):
        shutil.rmtree(out / "report", ignore_errors=True)
        stats_file = out / f"analyze-{mode}.prof"
        with contextlib.redirect_stdout(io.StringIO()):
            cProfile.runctx("main(['analyze', str(folder), *extra])", globals(), {"main": main, "folder": folder, "extra": extra}, str(stats_file))
        print(f"\n==== analyze {folder} {' '.join(extra)}")
        stats = pstats.Stats(str(stats_file))
        stats.sort_stats("cumulative").print_stats(r"compliance_gap|inspect_ai/log/_file|summar|thin_|from_json|zipfile|savefig", top)
        stats.sort_stats("tottime").print_stats(top // 2)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) // 1024**2 for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), 0)
    import inspect_ai

    return f"{cpu}, {os.cpu_count()} cores, {memory} GiB RAM, Python {platform.python_version()}, inspect-ai {inspect_ai.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="pairs per comparison, comma-separated")
    parser.add_argument("--work", type=Path, default=Path("/tmp/analysis_scale"), help="where the logs are written and kept")
    parser.add_argument("--workers", type=int, default=2, help="processes writing logs")
    parser.add_argument("--build-only", action="store_true", help="write the logs, measure nothing")
    parser.add_argument("--profile", action="store_true", help="profile `analyze --json` and `--out` on the logs of each size instead of timing")
    parser.add_argument("--kinds", default="tiers,paired", help="which logs to time or profile: tiers, paired or both")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement; the fastest is reported")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    build(args.work, sizes, args.workers)
    if args.build_only:
        return
    kinds = args.kinds.split(",")
    if args.profile:
        for n in sizes:
            for kind in kinds:
                profile(args.work / str(n) / kind, args.work / str(n), 30)
        return
    rows = []
    for n in sizes:
        for kind in kinds:
            folder = args.work / str(n) / kind
            report = args.work / str(n) / f"report-{kind}"
            shutil.rmtree(report, ignore_errors=True)
            as_json = best_of(["analyze", str(folder), "--json"], args.repeat)
            as_out = best_of(["analyze", str(folder), "--out", str(report)], args.repeat)
            rows.append({"pairs": n, "logs": kind, "json": as_json, "out": as_out, "ratio": round(as_out["seconds"] / as_json["seconds"], 1)})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\nMachine: {machine()}\n")
    print("| pairs | logs | `--json` s (CPU s) | `--json` peak MiB | `--out` s (CPU s) | `--out` peak MiB | `--out` / `--json` | load |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        j, o = r["json"], r["out"]
        print(f"| {r['pairs']:,} | {r['logs']} | {j['seconds']} ({j['cpu_seconds']}) | {j['peak_mib']} | {o['seconds']} ({o['cpu_seconds']}) "
              f"| {o['peak_mib']} | {r['ratio']} | {j['load']}, {o['load']} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
