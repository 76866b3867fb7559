"""The experiment matrix: planning (which evals, which args, which log folders), a resumable run
with scripted models, interruptions and failures, bad options, and the CLI's dry run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log

from compliance_gap import cli
from compliance_gap.matrix import INTERRUPTED, MatrixOptions, analyze_run, plan, run_matrix
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
        ({"modes": []}, "no modes"),
        ({"limit": 0}, r"--limit must be a whole number of at least 1 \(got 0\)"),
        ({"limit": -3}, r"--limit must be a whole number of at least 1 \(got -3\)"),
        ({"max_tokens": 0}, r"--max-tokens must be a whole number of at least 1 \(got 0\)"),
        ({"batch_size": 0}, r"--batch-size must be a whole number of at least 1"),
        ({"seed": "abc"}, r"--seed must be a whole number from 0 to 4294967295 \(got 'abc'\)"),
        ({"seed": -1}, r"--seed must be a whole number from 0 to 4294967295"),
        ({"retry_attempts": -1}, r"--retry-attempts must be a whole number of at least 0"),
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


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--limit", "0"], "argument --limit: must be a whole number of at least 1 (got '0')"),
        (["--limit", "-3"], "argument --limit: must be a whole number of at least 1 (got '-3')"),
        (["--max-tokens", "0"], "argument --max-tokens: must be a whole number of at least 1 (got '0')"),
        (["--batch-size", "0"], "argument --batch-size: must be a whole number of at least 1 (got '0')"),
        (["--seed", "abc"], "argument --seed: must be a whole number from 0 to 4294967295 (got 'abc')"),
        (["--seed", "4294967296"], "argument --seed: must be a whole number from 0 to 4294967295"),
        (["--retry-attempts", "-1"], "argument --retry-attempts: must be a whole number of at least 0"),
        (["--limit", "2.5"], "argument --limit: must be a whole number of at least 1 (got '2.5')"),
    ],
)
def test_run_flags_out_of_range_are_usage_errors_naming_the_range(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--models", "qwen2.5-7b", "--dry-run", *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


class Scripted:
    """Refuses under the deployment framing and, in both tiers, the bacterium request; complies
    otherwise. Records the behavior of every call; ``fault(n)`` runs before the n-th call."""

    def __init__(self, fault=None):
        self.behaviors: list[str] = []
        self.fault = fault

    def __call__(self, messages):
        request = messages[-1].text
        self.behaviors.append(request)
        if self.fault:
            self.fault(len(self.behaviors), request)
        if "paid tier" in messages[0].text or "bacterium" in request:
            return "I'm sorry, I can't help with that."
        return "Sure, here you go: step one."


def ctrl_c_at(call: int):
    """Press Ctrl-C (SIGINT to this process, as a terminal does) just before the n-th model call."""

    def fault(n, request):
        if n == call:
            os.kill(os.getpid(), signal.SIGINT)

    return fault


def options_for(responder, log_dir, **changes):
    model = scripted_model(responder, name="mockllm/a")
    fields = {"models": [model], "modes": ["standard", "forcing"], "dataset": str(DEMO_CSV), "limit": 6, "log_dir": log_dir, "batch_size": 1}
    return MatrixOptions(**{**fields, **changes})


def decisions(log_dir: Path) -> dict[tuple[str, str], dict]:
    """(mode, sample id) -> the paired refusal score, from the finished log of each cell."""
    found = {}
    for file in log_dir.rglob("*.eval"):
        log = read_eval_log(str(file))
        if log.status == "success":
            for sample in log.samples:
                key = (log.eval.task_args["mode"], sample.id)
                assert key not in found, f"two finished logs for {key}"
                found[key] = sample.scores["paired_refusal_scorer"].value
    return found


def test_ctrl_c_stops_the_run_without_an_analysis_and_the_rerun_resumes(tmp_path, capsys):
    run_dir = tmp_path / "run"
    interrupted = Scripted(ctrl_c_at(5))
    assert run_matrix(options_for(interrupted, run_dir)) == 130
    out, err = capsys.readouterr()
    assert INTERRUPTED in err and "Traceback" not in out + err
    assert "Compliance gap" not in out and not (run_dir / "report").exists()  # no final-looking report
    assert not (run_dir / "mockllm_a" / "forcing").exists()  # stopped at once: the next cell never started
    [cancelled_file] = (run_dir / "mockllm_a" / "standard").glob("*.eval")
    cancelled = read_eval_log(str(cancelled_file))
    assert cancelled.status == "cancelled"
    finished = {s.metadata["behavior"] for s in cancelled.samples}
    assert 0 < len(finished) < 6

    resumed = Scripted()
    assert run_matrix(options_for(resumed, run_dir)) == 0
    out, err = capsys.readouterr()
    assert not finished & {b for b in resumed.behaviors}  # no finished sample generated twice
    assert len(resumed.behaviors) == 2 * (6 - len(finished)) + 2 * 6  # the rest of standard, all of forcing
    assert "Compliance gap" in out and INTERRUPTED not in err
    results = json.loads((run_dir / "report" / "results.json").read_text())
    assert [(c["n_pairs"], c["n_excluded"]) for c in results["comparisons"]] == [(6, 0), (6, 0)]  # the superseded log is not read

    clean_dir = tmp_path / "clean"
    assert run_matrix(options_for(Scripted(), clean_dir)) == 0
    assert decisions(run_dir) == decisions(clean_dir) and len(decisions(clean_dir)) == 12

    again = Scripted()  # a third run: everything is done, nothing is generated
    assert run_matrix(options_for(again, run_dir)) == 0
    assert again.behaviors == []


def test_a_hard_interrupt_leaves_a_superseded_log_that_reruns_ignore(tmp_path, capsys):
    """A KeyboardInterrupt raised mid-call (a second Ctrl-C, a killed process) leaves the log
    unfinished ("started") beside the one the rerun writes; no rerun reads it."""

    def hard_stop(n, request):
        if n == 3:
            raise KeyboardInterrupt

    assert run_matrix(options_for(Scripted(hard_stop), tmp_path, modes=["standard"], limit=3)) == 130
    assert INTERRUPTED in capsys.readouterr().err and not (tmp_path / "report").exists()
    [stale] = tmp_path.rglob("*.eval")
    unfinished = read_eval_log(str(stale))
    assert unfinished.status == "started"
    finished = {s.metadata["behavior"] for s in unfinished.samples}
    resumed = Scripted()
    assert run_matrix(options_for(resumed, tmp_path, modes=["standard"], limit=3)) == 0
    assert len(resumed.behaviors) == 2 * (3 - len(finished)) and not finished & set(resumed.behaviors)
    for _ in range(2):  # the resumed run's report, then a rerun's
        results = json.loads((tmp_path / "report" / "results.json").read_text())
        assert [(c["n_pairs"], c["n_excluded"]) for c in results["comparisons"]] == [(3, 0)]
        assert run_matrix(options_for(Scripted(), tmp_path, modes=["standard"], limit=3)) == 0
    assert stale.exists() and len(list(tmp_path.rglob("*.eval"))) == 2
    # the folder as a whole (as the Modal entry point and `analyze` read it): logs.json names the current log
    assert "pairs" in analyze_run([tmp_path], tmp_path / "folder-report")
    folder = json.loads((tmp_path / "folder-report" / "results.json").read_text())
    assert [(c["n_pairs"], c["n_excluded"]) for c in folder["comparisons"]] == [(3, 0)]


def test_a_failing_model_stops_the_run_with_its_error_and_the_rerun_keeps_finished_samples(tmp_path, capsys):
    def server_down(n, request):
        if "bacterium" in request:
            raise RuntimeError("the model server is down")

    failing = options_for(Scripted(server_down), tmp_path, modes=["standard"], limit=3, retry_attempts=0)
    assert run_matrix(failing) == 1
    out, err = capsys.readouterr()
    assert "mockllm/a [standard] failed: RuntimeError('the model server is down')" in err
    assert "rerun the same command to resume" in err and "Compliance gap" not in out and not (tmp_path / "report").exists()
    [failed] = tmp_path.rglob("*.eval")
    finished = {s.metadata["behavior"] for s in read_eval_log(str(failed)).samples if s.error is None}
    healthy = Scripted()
    assert run_matrix(options_for(healthy, tmp_path, modes=["standard"], limit=3)) == 0
    assert healthy.behaviors and not finished & set(healthy.behaviors)


@pytest.mark.parametrize(
    "flags, message",
    [(["--models", ","], "no models: pass --models"), (["--models", "qwen2.5-7b", "--modes", ","], "no modes: pass --modes")],
)
def test_run_command_rejects_empty_lists(flags, message, capsys):
    assert cli.main(["run", *flags, "--dry-run"]) == 2
    assert message in capsys.readouterr().err


def test_ctrl_c_outside_an_eval_is_one_line_and_exit_130(monkeypatch, capsys):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("compliance_gap.matrix.describe", interrupted)  # Ctrl-C while the plan is printed
    assert cli.main(["run", "--models", "qwen2.5-7b"]) == 130
    assert capsys.readouterr().err.strip() == "compliance-gap run: interrupted"
