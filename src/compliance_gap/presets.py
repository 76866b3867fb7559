"""The study's models, with the loading details that keep their prompts right.

Both tiers of a model are run with one preset, so decoding (greedy, the preset's token budget)
is identical across tiers by construction; presets never set anything per tier.

Chat-template details:
- DeepSeek-R1-Distill-Llama-8B's template writes ``<｜begin▁of▁sentence｜>`` itself, and its
  tokenizer adds BOS again by default. Inspect's ``hf/`` provider tokenizes the templated string
  with the tokenizer's defaults, which would give the model two BOS tokens; the preset passes
  ``tokenizer_call_args={"add_special_tokens": False}``. The template ends the prompt with
  ``<｜Assistant｜><think>\\n``, so answers arrive with a lone ``</think>`` (``split_reasoning``
  handles it). It puts a system message right after BOS with no role marker; DeepSeek advises
  putting instructions in the user turn, which ``-T placement=user`` does.
- Qwen2.5-7B-Instruct's ChatML template adds no BOS (the same tokenizer args are harmless) and
  supplies Qwen's default system prompt when there is none (``placement=user``): the same text in
  both tiers. Its generation_config sets repetition_penalty 1.05, which greedy decoding keeps,
  again equally in both tiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .precision import precision_model_args

ENGINES = ("hf", "vllm")


@dataclass(frozen=True)
class ModelPreset:
    alias: str
    repo: str
    reasoning: bool
    max_tokens: int  # room for a full reasoning trace plus the answer
    hf_args: dict[str, Any] = field(default_factory=dict)


NO_EXTRA_BOS = {"tokenizer_call_args": {"add_special_tokens": False}}

PRESETS = (
    ModelPreset("r1-distill-llama-8b", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", reasoning=True, max_tokens=4096, hf_args=NO_EXTRA_BOS),
    ModelPreset("qwen2.5-7b", "Qwen/Qwen2.5-7B-Instruct", reasoning=False, max_tokens=1024, hf_args=NO_EXTRA_BOS),
)


@dataclass(frozen=True)
class ResolvedModel:
    """An Inspect model name with the model args and token budget to run it with."""

    name: str
    model_args: dict[str, Any]
    max_tokens: int | None  # None: the task's default
    preset: str | None


EMBEDDED = "embedded"  # the model `make demo` uses, by name for `run --models`


def find_preset(spec: str) -> ModelPreset | None:
    """The preset for an alias, a hub repo, or ``hf/``/``vllm/`` + repo (case-insensitive)."""
    bare = spec.split("/", 1)[1] if spec.split("/", 1)[0] in ENGINES else spec
    for preset in PRESETS:
        if bare.lower() in (preset.alias, preset.repo.lower()):
            return preset
    return None


def resolve_model(spec: str, engine: str = "hf", precision: str | None = None) -> ResolvedModel:
    """Turn a ``--models`` entry into what Inspect needs.

    A preset alias or hub repo runs under ``engine``; ``embedded`` is the embedded SmolLM2
    (converted on first use, always ``hf/``); any other Inspect model name (``hf/...``,
    ``vllm/...``, ``mockllm/model``, an API model) is used as given. ``precision`` applies to
    ``hf/`` and ``vllm/`` models only."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}'; allowed values: {', '.join(ENGINES)}")
    preset = find_preset(spec)
    if spec == EMBEDDED:
        from .embedded import embedded_model_spec

        name, args = embedded_model_spec()
        provider, max_tokens = "hf", None
    elif preset is not None:
        provider = spec.split("/", 1)[0] if spec.split("/", 1)[0] in ENGINES else engine
        name = f"{provider}/{preset.repo}"
        args = dict(preset.hf_args) if provider == "hf" else {}  # vLLM's chat endpoint adds no extra BOS
        max_tokens: int | None = preset.max_tokens
    elif "/" in spec:
        name, args, max_tokens = spec, {}, None
        provider = spec.split("/", 1)[0]
    else:
        known = ", ".join(p.alias for p in PRESETS)
        raise ValueError(f"unknown model '{spec}'; use '{EMBEDDED}', a preset ({known}), a hub repo of one, or an Inspect model name such as hf/ORG/NAME")
    if precision is not None:
        if provider not in ENGINES:
            raise ValueError(f"--precision applies to hf/ and vllm/ models; {name} is served elsewhere: drop --precision for it")
        args.update(precision_model_args(precision, provider))
    return ResolvedModel(name=name, model_args=args, max_tokens=max_tokens, preset=preset.alias if preset else None)
