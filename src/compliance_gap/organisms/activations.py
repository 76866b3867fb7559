"""Mean SAE feature activations per text, read from a base model's residual stream.

A forward hook takes the residual stream at the SAE's layer and stops the forward pass there
(later layers are never run). Each text's features are averaged over its real tokens: padding
and special tokens (BOS, chat markers, whose activations are outliers) are left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .sae import FeatureEncoder, HookPoint

_LAYER_PATHS = ("model.layers", "model.model.layers", "model.language_model.layers", "transformer.h", "gpt_neox.layers")


class _Captured(Exception):
    """Raised by the hook once the activations are in hand: nothing later is needed."""


def decoder_layers(model: Any) -> torch.nn.ModuleList:
    for path in _LAYER_PATHS:
        node = model
        for name in path.split("."):
            node = getattr(node, name, None)
            if node is None:
                break
        if isinstance(node, torch.nn.ModuleList):
            return node
    raise ValueError(f"cannot find the decoder layers of {type(model).__name__} (looked at {', '.join(_LAYER_PATHS)})")


def _tensor(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, tuple) else value


@torch.no_grad()
def feature_means(
    model: Any,
    tokenizer: Any,
    texts: list[str],
    sae: FeatureEncoder,
    hook: HookPoint,
    max_length: int = 512,
    batch_size: int = 8,
) -> np.ndarray:
    """``[len(texts), d_sae]`` mean feature activations (float32)."""
    layers = decoder_layers(model)
    if not 0 <= hook.layer < len(layers):
        raise ValueError(f"layer {hook.layer} is out of range: the model has {len(layers)} layers (0..{len(layers) - 1})")
    captured: dict[str, torch.Tensor] = {}

    def grab(value: Any) -> None:
        captured["residual"] = _tensor(value)
        raise _Captured

    layer = layers[hook.layer]
    if hook.position == "pre":
        handle = layer.register_forward_pre_hook(lambda m, args, kwargs: grab(args[0] if args else kwargs["hidden_states"]), with_kwargs=True)
    else:
        handle = layer.register_forward_hook(lambda m, args, output: grab(output))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
    device = next(model.parameters()).device
    means: list[torch.Tensor] = []
    model.eval()
    try:
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True, truncation=True, max_length=max_length)
            keep = batch["attention_mask"].bool() & ~torch.isin(batch["input_ids"], special)
            try:
                model(**batch.to(device), use_cache=False)
            except _Captured:
                pass
            residual = captured.pop("residual")
            for row in range(residual.shape[0]):
                tokens = residual[row][keep[row].to(device)]
                if tokens.shape[0] == 0:
                    raise ValueError(f"text {start + row} has no tokens besides special ones; remove it")
                means.append(sae.encode(tokens).float().mean(dim=0).cpu())
    finally:
        handle.remove()
    return torch.stack(means).numpy()


def load_base_for_features(base_path: str, device: str) -> tuple[Any, Any]:
    """The base model in inference mode (bf16 on a GPU) and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype, device_map=device)
    return model.eval(), AutoTokenizer.from_pretrained(base_path)
