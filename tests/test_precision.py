"""Precision args (built without a GPU or bitsandbytes) and the quantization agreement check."""

from __future__ import annotations

import subprocess
import sys

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai._util.config import parse_cli_args

from compliance_gap import cli
from compliance_gap.paired import paired
from compliance_gap.precision import bitsandbytes_config, cli_flags, precision_model_args
from compliance_gap.quant_check import arm_decisions, compare
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
