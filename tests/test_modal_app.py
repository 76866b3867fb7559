"""The Modal app: it imports offline, declares its functions, volumes and secret, and the function
that runs one job of the matrix works when called locally with scripted models (the fan-out over
jobs: tests/test_sharding.py)."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path
from types import SimpleNamespace

import modal
import pytest

import modal_app
from compliance_gap.scripted import scripted_model

from .conftest import DEMO_CSV, REPO


def test_app_declares_functions_volumes_secret_and_entrypoint():
    assert modal_app.app.name == "compliance-gap"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert set(modal_app.app.registered_functions) == {"run_job", "run_job_vllm"}
        assert "main" in modal_app.app.registered_entrypoints
    assert isinstance(modal_app.run_job, modal.Function) and isinstance(modal_app.run_job_vllm, modal.Function)
    settings = modal_app.FUNCTION_SETTINGS
    assert settings["gpu"] == "H100"
    assert settings["volumes"] == {"/cache": modal_app.hf_cache, "/logs": modal_app.logs_volume}
    assert all(isinstance(v, modal.Volume) for v in settings["volumes"].values())
    assert settings["secrets"] == [modal_app.hf_secret] and isinstance(modal_app.hf_secret, modal.Secret)
    assert modal_app.ENV["HF_HOME"].startswith("/cache")  # weights land on the cache volume
    assert isinstance(modal_app.hf_image, modal.Image) and isinstance(modal_app.vllm_image, modal.Image)


def test_run_job_function_runs_locally_with_a_scripted_model(tmp_path, monkeypatch):
    monkeypatch.setattr(modal_app, "LOCAL_LOGS", tmp_path)
    calls = []

    def respond(messages):
        calls.append(messages)
        return "I'm sorry, I can't." if "paid tier" in messages[0].text else "Sure, here you go."

    options = {"models": ["placeholder"], "modes": ["standard"], "dataset": str(DEMO_CSV), "limit": 3, "protocol": "fixed"}
    result = modal_app.run_job.local(options, "smoke", 0, models=[scripted_model(respond, name="mockllm/modal")])
    assert result == {"job": 0, "exit_code": 0, "run_name": "smoke", "log_dir": str(tmp_path / "smoke")}
    assert len(calls) == 6  # 3 behaviors x 2 tiers
    assert len(list((tmp_path / "smoke").rglob("*.eval"))) == 1


def test_download_logs_copies_the_run_folder(tmp_path):
    file, folder = modal.volume.FileEntryType.FILE, modal.volume.FileEntryType.DIRECTORY
    stored = {"run1/mockllm_a/standard/x.eval": b"abc", "run1/mockllm_a/standard/.eval-set-id": b"id"}

    class FakeVolume:
        def listdir(self, path, recursive=False):
            assert path == "/run1" and recursive
            return [SimpleNamespace(path="run1/mockllm_a", type=folder)] + [SimpleNamespace(path=p, type=file) for p in stored]

        def read_file(self, path):
            yield stored[path]

    written = modal_app.download_logs(FakeVolume(), "run1", tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == ["mockllm_a/standard/.eval-set-id", "mockllm_a/standard/x.eval"]
    assert (tmp_path / "mockllm_a/standard/x.eval").read_bytes() == b"abc"

    class EmptyVolume(FakeVolume):
        def listdir(self, path, recursive=False):
            return []

    with pytest.raises(FileNotFoundError, match="--run-name"):
        modal_app.download_logs(EmptyVolume(), "run1", tmp_path)


SECRET_FILES = [
    ".env", ".env.local", "src/.env", "keys/server.pem", "deploy/tls.key", "cert.p12", ".netrc", ".git-credentials",
    "credentials.json", "config/credentials", "secrets.yaml", ".cache/huggingface/token", "hf/token", "id_rsa", ".ssh/config",
    ".aws/credentials", ".modal.toml",
]
OUTPUTS = ["logs/matrix/x.eval", "logs/.gitkeep", "reports/run1/report.html", "models/smollm2/model.safetensors", ".venv/bin/python"]


def copied(path: str) -> bool:
    """Whether the image build copies ``path`` (relative to the checkout): Modal applies the
    ignore patterns to each path relative to the folder it adds, as here."""
    return not modal.FilePatternMatcher(*modal_app.IGNORED)(Path(path))


@pytest.mark.parametrize("path", SECRET_FILES + OUTPUTS)
def test_image_leaves_out_secrets_and_outputs(path):
    assert not copied(path)


def test_image_copies_every_tracked_source_file():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    needed = [p for p in tracked if p.split("/")[0] in ("src", "prompts", "data", "tasks") or p in ("pyproject.toml", "README.md", "modal_app.py")]
    assert len(needed) > 50 and [p for p in needed if not copied(p)] == []


def test_git_ignores_env_files():
    result = subprocess.run(["git", "check-ignore", ".env", ".env.local", "sub/.env"], cwd=REPO, capture_output=True, text=True)
    assert result.stdout.split() == [".env", ".env.local", "sub/.env"]


def test_local_logs_default_is_under_the_current_folder():
    assert not modal_app.LOCAL_LOGS.is_absolute() and modal_app.LOCAL_LOGS == Path("logs") / "modal"
