"""Stand-ins for the study models on a machine that cannot reach the Hugging Face hub: a folder
with randomly initialised weights of the real architecture (``configs/*.json``) and a tokenizer
that reproduces what matters to the prompt path: the chat template (``templates/*.jinja``), the
special tokens at the real models' ids, whether the tokenizer adds BOS by itself, and a vocabulary
as large as the model's so any generated id decodes.

The tokenizer's ordinary text pieces come from a base ``tokenizer.json`` (the embedded
SmolLM2's, so prompts have realistic token counts) or, without one, from the 256 byte symbols.
Ids past the base vocabulary are filler tokens (``<r123>``). Random weights write garbage text:
enough for throughput, determinism and the prompt path, nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Architecture:
    name: str  # the folder / Inspect model name
    config: str  # configs/<config>.json
    template: str  # templates/<template>.jinja
    bos: str | None
    eos: str
    add_bos: bool  # the real tokenizer prepends BOS when add_special_tokens is true
    specials: dict[str, int]  # special tokens at the real model's ids
    plain: dict[str, int] = field(default_factory=dict)  # added tokens that decoding keeps (<think>)
    preset: str = ""  # compliance_gap.presets alias


ARCHITECTURES = {
    "llama": Architecture(
        name="r1-distill-llama-8b-random",
        config="llama-3.1-8b",
        template="deepseek_r1_distill",
        bos="<｜begin▁of▁sentence｜>",
        eos="<｜end▁of▁sentence｜>",
        add_bos=True,
        specials={"<｜begin▁of▁sentence｜>": 128000, "<｜end▁of▁sentence｜>": 128001, "<｜User｜>": 128011, "<｜Assistant｜>": 128012},
        plain={"<think>": 128013, "</think>": 128014},
        preset="r1-distill-llama-8b",
    ),
    "qwen": Architecture(
        name="qwen2.5-7b-random",
        config="qwen2.5-7b",
        template="qwen2_5",
        bos=None,
        eos="<|im_end|>",
        add_bos=False,
        specials={"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645},
        preset="qwen2.5-7b",
    ),
}


def model_config(arch: Architecture) -> dict:
    config = json.loads((HERE / "configs" / f"{arch.config}.json").read_text())
    return {k: v for k, v in config.items() if not k.startswith("_")}


def _byte_symbols() -> list[str]:
    """GPT-2's byte-to-unicode alphabet, the symbols of a byte-level BPE vocabulary."""
    from tokenizers.pre_tokenizers import ByteLevel

    return sorted(ByteLevel.alphabet())


def build_tokenizer(arch: Architecture, vocab_size: int, base_tokenizer_json: Path | None = None):
    """A fast tokenizer with ``arch``'s template and special tokens over ``vocab_size`` ids."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    if base_tokenizer_json is not None:
        spec = json.loads(Path(base_tokenizer_json).read_text())
    else:
        symbols = _byte_symbols()
        spec = json.loads(_empty_byte_level_json())
        spec["model"]["vocab"] = {s: i for i, s in enumerate(symbols)}
    vocab: dict[str, int] = spec["model"]["vocab"]
    added = {**arch.specials, **arch.plain}
    taken = set(vocab.values())
    for piece in list(vocab):
        if piece in added:
            del vocab[piece]
    for token_id in range(vocab_size):
        if token_id not in taken and token_id not in added.values():
            vocab[f"<r{token_id}>"] = token_id
    for token, token_id in added.items():
        vocab[token] = token_id
    spec["added_tokens"] = [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": t in arch.specials}
        for t, i in sorted(added.items(), key=lambda item: item[1])
    ]
    tokenizer = Tokenizer.from_str(json.dumps(spec))
    if arch.add_bos:
        bos_id = arch.specials[arch.bos]
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{arch.bos} $A", pair=f"{arch.bos} $A {arch.bos} $B", special_tokens=[(arch.bos, bos_id)]
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=arch.bos,
        eos_token=arch.eos,
        chat_template=(HERE / "templates" / f"{arch.template}.jinja").read_text(),
    )


def _empty_byte_level_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tokenizer = Tokenizer(models.BPE(vocab={}, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer.to_str()


def build_random_model(arch: Architecture, out_dir: Path, base_tokenizer_json: Path | None = None, seed: int = 0, device: str = "cuda", config_overrides: dict | None = None) -> Path:
    """Write ``out_dir`` with random bf16 weights of ``arch`` and its stand-in tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    values = {**model_config(arch), **(config_overrides or {})}
    config = AutoConfig.for_model(**values)
    tokenizer = build_tokenizer(arch, config.vocab_size, base_tokenizer_json)
    config.bos_token_id = tokenizer.bos_token_id
    config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return out_dir
