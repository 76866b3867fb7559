"""Numeric precision of the evaluated model: bf16, or 8/4-bit bitsandbytes quantization.

Quantization can change refusal decisions ("quantization dementia"), so precision is an explicit,
logged model argument. The args are plain JSON (a ``quantization_config`` dict that transformers
turns into a ``BitsAndBytesConfig`` when it loads the model), so they are recorded in the log,
count in ``eval_set``'s task identity, and can be written as Inspect ``-M`` flags. Nothing here
imports bitsandbytes: the configuration is built without a GPU and loaded lazily.
"""

from __future__ import annotations

import json
import shlex
from enum import Enum
from typing import Any

from .options import choose


class Precision(str, Enum):
    BF16 = "bf16"
    INT8 = "int8"
    INT4 = "int4"


# 4-bit NF4 with bf16 compute and nested quantization: the usual QLoRA-style inference setting
INT4_CONFIG = {
    "quant_method": "bitsandbytes",
    "load_in_4bit": True,
    "bnb_4bit_quant_type": "nf4",
    "bnb_4bit_compute_dtype": "bfloat16",
    "bnb_4bit_use_double_quant": True,
}
INT8_CONFIG = {"quant_method": "bitsandbytes", "load_in_8bit": True}


def _dtype_key() -> str:
    """transformers >= 4.56 calls the load dtype ``dtype``; older releases ``torch_dtype``."""
    import transformers
    from packaging.version import Version

    return "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"


def precision_model_args(precision: str | Precision | None, engine: str = "hf") -> dict[str, Any]:
    """Model args that load a model at ``precision`` under ``engine`` (``hf`` or ``vllm``).

    ``None`` keeps the model's own default (float32 for ``hf/`` on a CPU)."""
    if precision is None:
        return {}
    chosen = choose(Precision, "precision", precision)
    if engine == "vllm":
        if chosen is Precision.INT8:
            raise ValueError("vLLM quantizes on load to 4-bit only; use --precision int4 or bf16 with --engine vllm, or --engine hf for int8")
        return {"dtype": "bfloat16"} if chosen is Precision.BF16 else {"dtype": "bfloat16", "quantization": "bitsandbytes"}
    if engine != "hf":
        raise ValueError(f"unknown engine '{engine}'; allowed values: hf, vllm")
    dtype = {_dtype_key(): "bfloat16"}
    if chosen is Precision.BF16:
        return dtype
    return {**dtype, "quantization_config": dict(INT4_CONFIG if chosen is Precision.INT4 else INT8_CONFIG)}


def bitsandbytes_config(model_args: dict[str, Any]):
    """The ``BitsAndBytesConfig`` transformers will build from these args (None when unquantized)."""
    config = model_args.get("quantization_config")
    if config is None:
        return None
    from transformers.quantizers.auto import AutoQuantizationConfig

    return AutoQuantizationConfig.from_dict(dict(config))


def cli_flags(model_args: dict[str, Any]) -> str:
    """The same args as ``inspect eval -M`` flags, quoted for a shell."""
    pairs = (f"{key}={json.dumps(value) if isinstance(value, dict) else value}" for key, value in model_args.items())
    return " ".join(f"-M {shlex.quote(pair)}" for pair in pairs)
