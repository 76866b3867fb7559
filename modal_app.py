"""Run the experiment matrix on a Modal H100, then bring the logs home and print the analysis.

    modal run modal_app.py --models r1-distill-llama-8b,qwen2.5-7b --modes standard,forcing \\
        --protocol randomized --limit 50 [--engine vllm] [--precision int4] [--run-name NAME]

The remote function runs ``compliance-gap run`` (``compliance_gap.matrix``) with its logs on a
Modal volume, committed every ``COMMIT_EVERY_S`` seconds while samples finish, so a run that was
cut off keeps what it had and resumes when started again with the same ``--run-name``. Hugging
Face weights and the HarmBench download live on a second volume; the HF token comes from the
Modal secret ``huggingface`` (key ``HF_TOKEN``). ``--engine vllm`` runs Inspect's ``vllm/``
provider from an image with vLLM; the default is transformers (``hf/``). See docs/modal.md.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import modal

from compliance_gap.matrix import DEFAULT_BATCH, MatrixOptions, analyze_run, run_matrix as run_matrix_locally

APP_NAME = "compliance-gap"
GPU = "H100"
TIMEOUT_S = 24 * 60 * 60  # Modal's longest: the seed study with the transformers engine fits (docs/modal.md)
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


def matrix_job(options: dict[str, Any], run_name: str, models: list | None = None) -> dict[str, Any]:
    """Run the matrix into ``<logs root>/<run_name>``. ``options`` are ``MatrixOptions`` fields;
    ``models`` (local calls only) replaces ``options["models"]`` with ready Model objects."""
    log_dir = logs_root() / run_name
    fields = {**options, "log_dir": log_dir}
    if models is not None:
        fields["models"] = models
    with committing(logs_volume):
        exit_code = run_matrix_locally(MatrixOptions(**fields))
    return {"exit_code": exit_code, "run_name": run_name, "log_dir": str(log_dir)}


@app.function(image=hf_image, **FUNCTION_SETTINGS)
def run_matrix(options: dict[str, Any], run_name: str, models: list | None = None) -> dict[str, Any]:
    """The matrix with the transformers engine (``hf/`` models)."""
    return matrix_job(options, run_name, models)


@app.function(image=vllm_image, **FUNCTION_SETTINGS)
def run_matrix_vllm(options: dict[str, Any], run_name: str, models: list | None = None) -> dict[str, Any]:
    """The matrix with the vLLM engine (``vllm/`` models)."""
    return matrix_job(options, run_name, models)


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
) -> None:
    options = {
        "models": [m.strip() for m in models.split(",") if m.strip()],
        "modes": [m.strip() for m in modes.split(",") if m.strip()],
        "protocol": protocol,
        "dataset": dataset,
        "limit": limit or None,
        "precision": precision,
        "engine": engine,
        "seed": seed,
        "carryover": carryover,
        "control": control or None,
        "placement": placement,
        "max_tokens": max_tokens or None,
        "batch_size": batch_size,
        "judge": judge or None,
    }
    name = run_name or f"{protocol}-{'-'.join(options['modes'])}-{limit or 'all'}"
    run_matrix_locally(MatrixOptions(**{**options, "log_dir": LOCAL_LOGS / name}), dry_run=True)  # check options, show the plan
    function = run_matrix_vllm if engine == "vllm" else run_matrix
    result = function.remote(options, name)
    dest = LOCAL_LOGS / name
    files = download_logs(logs_volume, name, dest)
    print(f"\n{len(files)} files copied to {dest}")
    if result["exit_code"] != 0:
        print(f"the remote run did not finish (exit code {result['exit_code']}); run the same command again to resume it")
        raise SystemExit(result["exit_code"])
    print(analyze_run([dest], dest / "report"))
