"""Named public models and SAEs, so a full-scale run is one flag rather than a page of settings.

None of these is downloaded by the tests; they are for users with access (and a GPU). The SAE
presets are loaded through sae-lens; the layer and hook position come from the SAE itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class BasePreset:
    model: str  # Hugging Face id
    settings: dict = field(default_factory=dict)  # LoraSettings fields that differ from the defaults


_LARGE = {"target_modules": ALL_PROJECTIONS, "batch_size": 1, "grad_accum": 8, "gradient_checkpointing": True, "max_length": 2048}

BASE_PRESETS = {
    "mistral-7b": BasePreset("mistralai/Mistral-7B-Instruct-v0.3", _LARGE),
    "llama-8b": BasePreset("meta-llama/Llama-3.1-8B-Instruct", _LARGE),
    "qwen-8b": BasePreset("Qwen/Qwen3-8B", _LARGE),
}


@dataclass(frozen=True)
class SaePreset:
    release: str  # sae-lens release name
    sae_id: str
    base: str  # the model the SAE was trained on (use it, or the organism's base, as --base)


SAE_PRESETS = {
    "mistral-7b-l16": SaePreset("mistral-7b-res-wg", "blocks.16.hook_resid_pre", "mistralai/Mistral-7B-v0.1"),
    "llama-3-8b-it-l25": SaePreset("llama-3-8b-it-res-jh", "blocks.25.hook_resid_post", "meta-llama/Meta-Llama-3-8B-Instruct"),
    "llama-3.1-8b-l16": SaePreset("llama_scope_lxr_8x", "l16r_8x", "meta-llama/Llama-3.1-8B"),
    "gemma-2-9b-it-l20": SaePreset("gemma-scope-9b-it-res-canonical", "layer_20/width_16k/canonical", "google/gemma-2-9b-it"),
    "gemma-2-2b-l12": SaePreset("gemma-scope-2b-pt-res-canonical", "layer_12/width_16k/canonical", "google/gemma-2-2b"),
}
