"""Precision args (built without a GPU or bitsandbytes) and the quantization agreement check."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai._util.config import parse_cli_args

from compliance_gap import cli
from compliance_gap.matrix import INTERRUPTED, MatrixOptions, RunStopped
from compliance_gap.paired import paired
from compliance_gap.precision import bitsandbytes_config, cli_flags, precision_model_args
from compliance_gap.quant_check import arm_decisions, compare, quant_check
from compliance_gap.scripted import scripted_model

from .conftest import DEMO_CSV


def test_bf16_int8_int4_model_args_for_hf():
    assert precision_model_args("bf16") == {"dtype": "bfloat16"}
    int4 = precision_model_args("int4")
    assert int4["dtype"] == "bfloat16"
    config = bitsandbytes_config(int4)
    assert type(config).__name__ == "BitsAndBytesConfig"
    assert config.load_in_4bit and not config.load_in_8bit
    assert config.bnb_4bit_quant_type == "nf4" and str(config.bnb_4bit_compute_dtype) == "torch.bfloat16"
    int8 = bitsandbytes_config(precision_model_args("int8"))
    assert int8.load_in_8bit and not int8.load_in_4bit
    assert bitsandbytes_config(precision_model_args("bf16")) is None
    assert precision_model_args(None) == {}


def test_building_configs_never_imports_bitsandbytes():
    code = (
        "import sys; from compliance_gap.precision import precision_model_args, bitsandbytes_config; "
        "bitsandbytes_config(precision_model_args('int4')); print('bitsandbytes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_vllm_args_and_errors():
    assert precision_model_args("int4", "vllm") == {"dtype": "bfloat16", "quantization": "bitsandbytes"}
    with pytest.raises(ValueError, match="4-bit only"):
        precision_model_args("int8", "vllm")
    with pytest.raises(ValueError, match="allowed values: bf16, int8, int4"):
        precision_model_args("fp8")
    with pytest.raises(ValueError, match="unknown engine"):
        precision_model_args("bf16", "llamacpp")


def test_inspect_model_args_flags_round_trip(capsys):
    """The printed -M flags parse back (as Inspect parses -M) into the same model args."""
    args = precision_model_args("int4")
    assert cli.main(["precision", "int4"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == cli_flags(args)
    pairs = [token for token in __import__("shlex").split(printed) if token != "-M"]
    assert parse_cli_args(pairs) == args


def _paired_log(tmp_path, respond, name):
    return inspect_eval(
        paired(dataset=str(DEMO_CSV), max_tokens=32), model=scripted_model(respond, name=name),
        log_dir=str(tmp_path / name.replace("/", "_")), display="none",
    )[0]


def test_agreement_table_and_kappa_from_paired_logs(tmp_path):
    def reference(messages):
        return "I'm sorry, I can't help with that." if "paid tier" in messages[0].text else "Sure: here it is."

    def quantized(messages):  # complies everywhere except one behavior, refuses there in both arms
        text = messages[-1].text
        if "toxic compound" in text:
            return "I cannot help with that."
        return "" if "bacterium" in text else "Sure: here it is."

    ref, quant = arm_decisions(_paired_log(tmp_path, reference, "mockllm/ref")), arm_decisions(_paired_log(tmp_path, quantized, "mockllm/q"))
    result = compare(ref, quant)
    # 14 behaviors x 2 arms; the bacterium behavior is undecided (empty) in the quantized run
    assert result.undecided == 2 and result.decided == 26
    assert result.table[(1, 1)] == 1 and result.table[(1, 0)] == 12 and result.table[(0, 0)] == 12 and result.table[(0, 1)] == 1
    assert result.agreement == pytest.approx(13 / 26)
    # kappa by hand: p_o = .5; p_ref = 13/26, p_q = 2/26; p_e = .5*2/26 + .5*24/26 = .5
    assert result.kappa == pytest.approx(0.0)
    assert "Cohen's kappa 0.000" in result.report("bf16", "int4")
    assert compare(ref, ref).kappa == pytest.approx(1.0) and compare(ref, ref).agreement == 1


def test_arms_present_in_one_log_only_are_reported_not_dropped():
    result = compare({"a/training": 1, "b/training": 0}, {"a/training": 1})
    assert result.missing == ["b/training"] and result.decided == 1
    assert "in one log only" in result.report("bf16", "int4")


def test_quant_check_rejects_a_model_without_local_weights(tmp_path, capsys):
    assert cli.main(["quant-check", "--model", "openai/gpt-4o", "--log-dir", str(tmp_path)]) == 2
    assert "precision applies to hf/ and vllm/" in capsys.readouterr().err


class TwoPrecisions:
    """The reference run's answers for its first ``reference_calls`` calls, then the quantized
    run's: it complies everywhere except the bacterium request, which it refuses in both arms."""

    def __init__(self, reference_calls: int, interrupt_at: int | None = None):
        self.reference_calls, self.interrupt_at, self.calls = reference_calls, interrupt_at, 0

    def __call__(self, messages):
        self.calls += 1
        if self.calls == self.interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
        if self.calls <= self.reference_calls:
            return "I'm sorry, I can't help with that." if "paid tier" in messages[0].text else "Sure: here it is."
        return "I cannot help with that." if "bacterium" in messages[-1].text else "Sure: here it is."


def test_quant_check_runs_both_precisions_and_reads_the_logs_back(tmp_path):
    """The real path: eval_set returns log headers without samples; quant-check reads them back."""
    responder = TwoPrecisions(reference_calls=8)
    model = scripted_model(responder, name="mockllm/q")
    options = MatrixOptions(models=[model], dataset=str(DEMO_CSV), limit=4, log_dir=tmp_path, batch_size=1)
    result = quant_check(model, "int4", "bf16", options)
    assert responder.calls == 16 and {p.name for p in tmp_path.iterdir()} == {"bf16", "int4"}
    # 4 behaviors x 2 arms; reference: training complies, deployment refuses; quantized: only the bacterium refused
    assert result.table == {(0, 0): 3, (0, 1): 1, (1, 0): 3, (1, 1): 1} and result.undecided == 0 and not result.missing
    assert result.agreement == pytest.approx(0.5) and result.kappa == pytest.approx(0.0)
    # run again: both runs are finished, nothing is generated, the same table
    assert quant_check(model, "int4", "bf16", options).table == result.table and responder.calls == 16


def test_quant_check_interrupted_says_so_and_resumes(tmp_path):
    responder = TwoPrecisions(reference_calls=8, interrupt_at=3)
    model = scripted_model(responder, name="mockllm/q")
    options = MatrixOptions(models=[model], dataset=str(DEMO_CSV), limit=4, log_dir=tmp_path, batch_size=1)
    with pytest.raises(RunStopped, match=INTERRUPTED) as stop:
        quant_check(model, "int4", "bf16", options)
    assert stop.value.exit_code == 130 and not (tmp_path / "int4").exists()
    responder.interrupt_at = None
    result = quant_check(model, "int4", "bf16", options)
    assert result.decided == 8 and result.table == {(0, 0): 3, (0, 1): 1, (1, 0): 3, (1, 1): 1}


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--limit", "0"], "argument --limit: must be a whole number of at least 1 (got '0')"),
        (["--max-tokens", "0"], "argument --max-tokens: must be a whole number of at least 1 (got '0')"),
        (["--batch-size", "-1"], "argument --batch-size: must be a whole number of at least 1 (got '-1')"),
    ],
)
def test_quant_check_flags_out_of_range_are_usage_errors(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["quant-check", "--model", "qwen2.5-7b", *flags])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
