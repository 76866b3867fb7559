"""Run the experiment matrix on Modal H100s, then bring the logs home and print the analysis.

    modal run modal_app.py --models r1-distill-llama-8b,qwen2.5-7b --modes standard,forcing \\
        --protocol randomized --limit 50 [--gpus 8 --shards 4] [--engine vllm] [--precision int4] [--run-name NAME]

The plan of ``compliance-gap run`` (``compliance_gap.matrix``) is a list of jobs: each (model,
mode) cell, or with ``--shards K`` each of its K shards. Every job is one call of the remote
function, fanned out with Modal's ``starmap`` over at most ``--gpus`` containers of one H100 each.
A job writes its eval set to its own folder on a Modal volume, committed every ``COMMIT_EVERY_S``
seconds while samples finish, so a job that was cut off keeps what it had and resumes when the
same command (same ``--run-name``) is run again; finished jobs find their log and generate
nothing. Hugging Face weights and the HarmBench download live on a second volume; the HF token
comes from the Modal secret ``huggingface`` (key ``HF_TOKEN``). ``--engine vllm`` runs Inspect's
``vllm/`` provider from an image with vLLM; the default is transformers (``hf/``). See docs/modal.md.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import modal

from compliance_gap.matrix import DEFAULT_BATCH, MatrixOptions, analyze_run, describe, plan, run_job as run_job_locally
from compliance_gap.options import whole_number

APP_NAME = "compliance-gap"
GPU = "H100"
TIMEOUT_S = 24 * 60 * 60  # Modal's longest, per job: a whole unsplit cell of the seed study fits (docs/modal.md)
COMMIT_EVERY_S = 60
REMOTE_REPO = "/root/compliance-gap"
HF_CACHE_PATH = "/cache"
LOGS_PATH = "/logs"
LOCAL_LOGS = Path("logs") / "modal"  # under the current folder, like every other command

REPO = Path(__file__).resolve().parent
# never copied into the image: local state and outputs, and anything that may hold a secret (the HF
# token reaches the function through the Modal secret, never through a file); tests/test_modal_app.py
SECRETS = [
    "**/.env", "**/.env.*", "**/*.pem", "**/*.key", "**/*.p12", "**/*.pfx", "**/.netrc", "**/.git-credentials",
    "**/credentials*", "**/secrets*", "**/token", "**/id_rsa*", "**/id_ed25519*", "**/.ssh", "**/.aws", "**/.modal.toml",
]
IGNORED = [".venv", ".git", "**/logs", "reports", "models", ".cache", ".carry", "**/__pycache__", "benchmarks/results-*", *SECRETS]

hf_cache = modal.Volume.from_name("compliance-gap-hf-cache", create_if_missing=True)
logs_volume = modal.Volume.from_name("compliance-gap-logs", create_if_missing=True)
hf_secret = modal.Secret.from_name("huggingface", required_keys=["HF_TOKEN"])

ENV = {
    "HF_HOME": f"{HF_CACHE_PATH}/hf",
    "COMPLIANCE_GAP_CACHE": f"{HF_CACHE_PATH}/compliance_gap",
    "INSPECT_LOG_LEVEL": "warning",
    "TOKENIZERS_PARALLELISM": "false",
}


def project_image(engine_packages: list[str]) -> modal.Image:
    """The project with its GPU extras: dependencies first (cached between code changes), then the code."""
    return (
        modal.Image.debian_slim(python_version="3.11")
        .pip_install(*engine_packages)
        .pip_install_from_pyproject(str(REPO / "pyproject.toml"), optional_dependencies=["gpu"])
        .env(ENV)
        .add_local_dir(REPO, REMOTE_REPO, copy=True, ignore=IGNORED)
        .run_commands(f"pip install --no-deps -e {REMOTE_REPO}")
    )


hf_image = project_image(["torch>=2.4"])
vllm_image = project_image(["vllm>=0.6"])

app = modal.App(APP_NAME)

FUNCTION_SETTINGS: dict[str, Any] = {
    "gpu": GPU,
    "timeout": TIMEOUT_S,
    "volumes": {HF_CACHE_PATH: hf_cache, LOGS_PATH: logs_volume},
    "secrets": [hf_secret],
}


def logs_root() -> Path:
    """The logs volume inside Modal; local ``logs/modal`` when called with ``.local()``."""
    return LOCAL_LOGS if modal.is_local() else Path(LOGS_PATH)


@contextlib.contextmanager
def committing(volume: modal.Volume, every_s: float = COMMIT_EVERY_S):
    """Commit ``volume`` every ``every_s`` seconds while the block runs, and once at the end
    (inside Modal only: locally there is nothing to commit)."""
    if modal.is_local():
        yield
        return
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            volume.commit()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        volume.commit()


def matrix_job(options: dict[str, Any], run_name: str, index: int, models: list | None = None) -> dict[str, Any]:
    """Job ``index`` of the plan into ``<logs root>/<run_name>``. ``options`` are ``MatrixOptions``
    fields; ``models`` (local calls only) replaces ``options["models"]`` with ready Model objects."""
    log_dir = logs_root() / run_name
    fields = {**options, "log_dir": log_dir}
    if models is not None:
        fields["models"] = models
    with committing(logs_volume):
        exit_code = run_job_locally(MatrixOptions(**fields), index)
    return {"job": index, "exit_code": exit_code, "run_name": run_name, "log_dir": str(log_dir)}


@app.function(image=hf_image, **FUNCTION_SETTINGS)
def run_job(options: dict[str, Any], run_name: str, index: int, models: list | None = None) -> dict[str, Any]:
    """One job with the transformers engine (``hf/`` models)."""
    return matrix_job(options, run_name, index, models)


@app.function(image=vllm_image, **FUNCTION_SETTINGS)
def run_job_vllm(options: dict[str, Any], run_name: str, index: int, models: list | None = None) -> dict[str, Any]:
    """One job with the vLLM engine (``vllm/`` models)."""
    return matrix_job(options, run_name, index, models)


def fan_out(
    starmap: Callable[[list[tuple]], Iterable[Any]], options: dict[str, Any], run_name: str, jobs: int, models: list | None = None
) -> list[dict[str, Any]]:
    """Every job of the plan through ``starmap`` (Modal's, returning exceptions, in job order; or a
    local one), each with its result: a job that raised counts as failed, with its error."""
    results = []
    for index, result in enumerate(starmap([(options, run_name, index, models) for index in range(jobs)])):
        if isinstance(result, BaseException):
            result = {"job": index, "exit_code": 1, "error": " ".join(f"{type(result).__name__}: {result}".split())[:300]}
        results.append(result)
    return results


def failed_jobs(results: list[dict[str, Any]], labels: list[str]) -> list[str]:
    """The jobs that did not finish, by their plan label, with their exit code or error."""
    return [f"{labels[r['job']]}: {r.get('error') or 'exit code ' + str(r['exit_code'])}" for r in results if r["exit_code"] != 0]


def download_logs(volume, run_name: str, dest: Path) -> list[Path]:
    """Copy ``run_name``'s files from the logs volume into ``dest`` (the local ``logs/``)."""
    written = []
    for entry in volume.listdir(f"/{run_name}", recursive=True):
        if entry.type != modal.volume.FileEntryType.FILE:
            continue
        target = dest / Path(entry.path).relative_to(run_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as f:
            for chunk in volume.read_file(entry.path):
                f.write(chunk)
        written.append(target)
    if not written:
        raise FileNotFoundError(f"the logs volume has no files under /{run_name}; check --run-name")
    return written


@app.local_entrypoint()
def main(
    models: str,
    modes: str = "standard",
    protocol: str = "randomized",
    dataset: str = "harmbench",
    limit: int = 0,
    precision: str = "bf16",
    engine: str = "hf",
    run_name: str = "",
    seed: int = 0,
    carryover: bool = False,
    control: str = "",
    placement: str = "system",
    max_tokens: int = 0,
    batch_size: int = DEFAULT_BATCH,
    judge: str = "",
    gpus: int = 1,
    shards: int = 1,
    dry_run: bool = False,
) -> None:
    """``--gpus N``: at most N H100 containers at once (the cap on parallel spend); ``--shards K``:
    each (model, mode) cell runs as K jobs of about 1/K of the behaviors; ``--dry-run``: print
    the plan and its estimate, start nothing."""
    options = {
        "models": [m.strip() for m in models.split(",") if m.strip()],
        "modes": [m.strip() for m in modes.split(",") if m.strip()],
        "protocol": protocol,
        "dataset": dataset,
        "limit": limit or None,
        "precision": precision or None,  # "": the model's own (an API or mock model takes none)
        "engine": engine,
        "seed": seed,
        "carryover": carryover,
        "control": control or None,
        "placement": placement,
        "max_tokens": max_tokens or None,
        "batch_size": batch_size,
        "judge": judge or None,
        "shards": shards,
    }
    name = run_name or f"{protocol}-{'-'.join(options['modes'])}-{limit or 'all'}" + (f"-{shards}shards" if shards > 1 else "")
    local = MatrixOptions(**{**options, "log_dir": LOCAL_LOGS / name})
    try:  # every option is checked before any GPU starts
        whole_number("--gpus", gpus, 1)
        jobs = plan(local)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"modal_app.py: error: {error}") from None
    print(describe(jobs, local, gpus))
    if dry_run:
        return
    function = (run_job_vllm if engine == "vllm" else run_job).with_options(max_containers=gpus)
    results = fan_out(lambda args: function.starmap(args, return_exceptions=True), options, name, len(jobs))
    dest = LOCAL_LOGS / name
    files = download_logs(logs_volume, name, dest)
    print(f"\n{len(files)} files copied to {dest}")
    failed = failed_jobs(results, [job.label for job in jobs])
    if failed:
        print(f"{len(failed)} of {len(jobs)} jobs did not finish:\n  " + "\n  ".join(failed))
        print("run the same command again: finished jobs are reused, the others resume")
        raise SystemExit(1)
    print(analyze_run([dest], dest / "report"))
