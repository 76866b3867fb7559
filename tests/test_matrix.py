"""The experiment matrix: planning (which evals, which args, which log folders), a resumable run
with scripted models, and the CLI's dry run."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance_gap import cli
from compliance_gap.matrix import MatrixOptions, plan, run_matrix
from compliance_gap.scripted import scripted_model

from .conftest import DEMO_CSV


class Counting:
    def __init__(self, text: str):
        self.text, self.calls = text, 0

    def __call__(self, messages):
        self.calls += 1
        deployment = "paid tier" in messages[0].text
        return "I'm sorry, I can't help with that." if deployment else f"{self.text}: here you go."


def test_plan_crosses_models_and_modes_with_presets_and_log_folders(tmp_path):
    options = MatrixOptions(
        models=["r1-distill-llama-8b", "Qwen/Qwen2.5-7B-Instruct"],
        modes=["standard", "forcing"],
        protocol="randomized",
        precision="int4",
        log_dir=tmp_path,
    )
    cells = plan(options)
    assert [(c.model.name, c.mode) for c in cells] == [
        ("hf/deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "standard"),
        ("hf/deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "forcing"),
        ("hf/Qwen/Qwen2.5-7B-Instruct", "standard"),
        ("hf/Qwen/Qwen2.5-7B-Instruct", "forcing"),
    ]
    assert cells[0].log_dir == tmp_path / "hf_deepseek-ai_DeepSeek-R1-Distill-Llama-8B" / "standard"
    assert len({c.log_dir for c in cells}) == 4
    r1, qwen = cells[0], cells[2]
    assert r1.task_args["max_tokens"] == 4096 and qwen.task_args["max_tokens"] == 1024  # reasoning-length budgets
    assert r1.task_args["protocol"] == "randomized" and r1.task_args["mode"] == "standard"
    assert r1.model.model_args["tokenizer_call_args"] == {"add_special_tokens": False}
    assert r1.model.model_args["quantization_config"]["load_in_4bit"] is True
    # the two tiers are arms of one sample, so decoding cannot differ between them; modes share it too
    assert {k: v for k, v in cells[0].task_args.items() if k != "mode"} == {k: v for k, v in cells[1].task_args.items() if k != "mode"}


def test_plan_under_vllm_and_without_gpu(tmp_path):
    cells = plan(MatrixOptions(models=["qwen2.5-7b", "mockllm/model"], engine="vllm", log_dir=tmp_path))
    assert cells[0].model.name == "vllm/Qwen/Qwen2.5-7B-Instruct"
    assert "tokenizer_call_args" not in cells[0].model.model_args  # vLLM's chat endpoint adds no second BOS
    assert cells[1].model.model_args == {} and "max_tokens" not in cells[1].task_args


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"models": []}, "no models"),
        ({"models": ["gpt-nothing"]}, "unknown model"),
        ({"modes": ["loud"]}, "unknown mode"),
        ({"protocol": "alternate"}, "unknown protocol"),
        ({"control": "both"}, "unknown control"),
        ({"models": ["openai/gpt-4o"], "precision": "int4"}, "precision applies to hf/ and vllm/"),
        ({"engine": "vllm", "precision": "int8"}, "4-bit only"),
    ],
)
def test_plan_rejects_bad_options_with_the_fix(changes, message, tmp_path):
    options = MatrixOptions(**{"models": ["qwen2.5-7b"], "log_dir": tmp_path, **changes})
    with pytest.raises(ValueError, match=message):
        plan(options)


def test_run_resumes_without_regenerating_and_ends_with_the_analysis(tmp_path, capsys):
    first, second = Counting("model a"), Counting("model b")
    models = [scripted_model(first, name="mockllm/a"), scripted_model(second, name="mockllm/b")]
    options = MatrixOptions(models=models, modes=["standard", "forcing"], dataset=str(DEMO_CSV), limit=4, log_dir=tmp_path)
    assert run_matrix(options) == 0
    assert first.calls == second.calls == 2 * 2 * 4  # modes x tiers x behaviors
    logs = sorted(p.relative_to(tmp_path).parts[:2] for p in tmp_path.rglob("*.eval"))
    assert logs == [("mockllm_a", "forcing"), ("mockllm_a", "standard"), ("mockllm_b", "forcing"), ("mockllm_b", "standard")]
    out = capsys.readouterr().out
    assert "4 eval sets" in out and "total: 32 completions" in out
    assert "mockllm/a" in out and (tmp_path / "report").is_dir()  # the analysis ran and wrote its report
    # the same command again: every cell is already done, nothing is generated
    assert run_matrix(options) == 0
    assert first.calls == second.calls == 16
    assert len(list(tmp_path.rglob("*.eval"))) == 4


@pytest.mark.needs_data("harmbench")
def test_run_command_dry_run_prints_the_plan(tmp_path, capsys):
    code = cli.main(["run", "--models", "r1-distill-llama-8b,qwen2.5-7b", "--modes", "standard,forcing", "--protocol", "randomized",
                     "--dataset", "harmbench", "--precision", "bf16", "--log-dir", str(tmp_path), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "4 eval sets, 400 behaviors each" in out and "total: 3200 completions" in out  # the seed study
    assert "DeepSeek-R1-Distill-Llama-8B [forcing]" in out and "protocol=randomized" in out
    assert not list(Path(tmp_path).rglob("*.eval"))


def test_run_command_reports_bad_options_cleanly(capsys):
    assert cli.main(["run", "--models", "nobody", "--dry-run"]) == 2
    assert "unknown model 'nobody'" in capsys.readouterr().err
