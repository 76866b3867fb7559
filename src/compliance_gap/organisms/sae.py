"""Sparse autoencoders: the encoder half, and loaders for sae-lens SAEs.

The statistics only need feature activations, so everything downstream depends on the small
``FeatureEncoder`` interface (``encode``, ``d_sae``, ``hook``), never on sae-lens. Three ways in:
- ``SparseAutoencoder(W_enc, b_enc, ...)``: any weights you have (tests build one in memory);
- ``load_sae_folder(path)``: a folder in sae-lens's on-disk format (``cfg.json`` +
  ``sae_weights.safetensors``), read without sae-lens;
- ``load_sae_lens(release, sae_id)``: a public SAE through sae-lens (``pip install sae-lens``),
  which also applies the SAE's own input normalisation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from .presets import SAE_PRESETS

_HOOK = re.compile(r"^blocks\.(\d+)\.hook_resid_(pre|post)$")
ARCHITECTURES = ("standard", "jumprelu", "topk")


@dataclass(frozen=True)
class HookPoint:
    """Where in the residual stream the SAE reads: before (``pre``) or after (``post``) a block."""

    layer: int
    position: str = "post"

    @classmethod
    def parse(cls, hook_name: str) -> HookPoint:
        found = _HOOK.match(hook_name or "")
        if not found:
            raise ValueError(f"SAE hook '{hook_name}' is not a residual-stream hook (blocks.L.hook_resid_pre|post); only residual-stream SAEs are supported")
        return cls(int(found.group(1)), found.group(2))


class FeatureEncoder(Protocol):
    hook: HookPoint | None
    d_sae: int

    def encode(self, activations: torch.Tensor) -> torch.Tensor: ...


class SparseAutoencoder(torch.nn.Module):
    """``act((x - b_dec) @ W_enc + b_enc)`` with ReLU, JumpReLU (``threshold``) or top-k."""

    def __init__(
        self,
        W_enc: torch.Tensor,
        b_enc: torch.Tensor,
        b_dec: torch.Tensor | None = None,
        threshold: torch.Tensor | None = None,
        k: int | None = None,
        hook: HookPoint | None = None,
    ):
        super().__init__()
        d_in, d_sae = W_enc.shape
        if b_enc.shape != (d_sae,) or (b_dec is not None and b_dec.shape != (d_in,)) or (threshold is not None and threshold.shape != (d_sae,)):
            raise ValueError(f"SAE weight shapes do not fit W_enc {tuple(W_enc.shape)} (d_in, d_sae)")
        if threshold is not None and k is not None:
            raise ValueError("an SAE is JumpReLU (threshold) or top-k (k), not both")
        self.W_enc = torch.nn.Parameter(W_enc, requires_grad=False)
        self.b_enc = torch.nn.Parameter(b_enc, requires_grad=False)
        self.b_dec = torch.nn.Parameter(b_dec if b_dec is not None else torch.zeros(d_in, dtype=W_enc.dtype, device=W_enc.device), requires_grad=False)
        self.threshold = None if threshold is None else torch.nn.Parameter(threshold, requires_grad=False)
        self.k, self.hook, self.d_in, self.d_sae = k, hook, d_in, d_sae

    def encode(self, activations: torch.Tensor) -> torch.Tensor:
        pre = (activations.to(self.W_enc.dtype) - self.b_dec) @ self.W_enc + self.b_enc
        if self.threshold is not None:
            return torch.relu(pre) * (pre > self.threshold)
        if self.k is not None:
            top = pre.topk(self.k, dim=-1)
            return torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
        return torch.relu(pre)


def load_sae_folder(path: Path, device: str = "cpu") -> SparseAutoencoder:
    """An SAE saved in sae-lens's on-disk format, without sae-lens."""
    from safetensors.torch import load_file

    folder = Path(path)
    cfg_path, weights_path = folder / "cfg.json", folder / "sae_weights.safetensors"
    if not cfg_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(f"{folder} is not an sae-lens SAE folder (needs cfg.json and sae_weights.safetensors)")
    cfg = json.loads(cfg_path.read_text())
    architecture = cfg.get("architecture", "standard")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"SAE architecture '{architecture}' is not supported here ({', '.join(ARCHITECTURES)}); load it through sae-lens with --sae RELEASE/SAE_ID")
    if cfg.get("normalize_activations", "none") not in ("none", None):
        raise ValueError(f"this SAE normalises its inputs ({cfg['normalize_activations']}); load it through sae-lens with --sae RELEASE/SAE_ID")
    weights = load_file(str(weights_path), device=device)
    missing = [k for k in ("W_enc", "b_enc") if k not in weights]
    if missing:
        raise ValueError(f"{weights_path} lacks {missing}")
    b_dec = weights.get("b_dec") if cfg.get("apply_b_dec_to_input", True) else None
    hook_name = (cfg.get("metadata") or {}).get("hook_name") or cfg.get("hook_name")
    return SparseAutoencoder(
        weights["W_enc"], weights["b_enc"], b_dec=b_dec,
        threshold=weights.get("threshold") if architecture == "jumprelu" else None,
        k=int(cfg["k"]) if architecture == "topk" else None,
        hook=HookPoint.parse(hook_name) if hook_name else None,
    )


class SaeLensEncoder:
    """A sae-lens SAE behind the ``FeatureEncoder`` interface (its encode normalises inputs)."""

    def __init__(self, sae: Any):
        self.sae = sae
        self.d_sae = int(sae.cfg.d_sae)
        metadata = getattr(sae.cfg, "metadata", None)
        self.hook = HookPoint.parse(getattr(metadata, "hook_name", None) or getattr(sae.cfg, "hook_name", ""))

    def encode(self, activations: torch.Tensor) -> torch.Tensor:
        return self.sae.encode(activations.to(self.sae.W_enc.dtype))


def load_sae_lens(release: str, sae_id: str, device: str = "cpu") -> SaeLensEncoder:
    try:
        from sae_lens import SAE
    except ImportError:
        raise ValueError("loading a public SAE needs sae-lens: pip install 'compliance-gap[organisms]' (or pass a local sae-lens folder)") from None
    return SaeLensEncoder(SAE.from_pretrained(release, sae_id, device=device))


def load_sae(spec: str, device: str = "cpu") -> FeatureEncoder:
    """A preset name, a local sae-lens folder, or ``RELEASE/SAE_ID`` (the id may contain '/')."""
    if spec in SAE_PRESETS:
        preset = SAE_PRESETS[spec]
        return load_sae_lens(preset.release, preset.sae_id, device)
    if Path(spec).expanduser().is_dir():
        return load_sae_folder(Path(spec).expanduser(), device)
    if "/" in spec and not spec.startswith((".", "/", "~")):
        release, sae_id = spec.split("/", 1)
        return load_sae_lens(release, sae_id, device)
    raise FileNotFoundError(f"SAE '{spec}' is neither a preset ({', '.join(SAE_PRESETS)}), a local sae-lens folder, nor RELEASE/SAE_ID")


def resolve_hook(sae: FeatureEncoder, layer: int | None, position: str | None) -> HookPoint:
    """The SAE's own hook, checked against ``--layer``; a bare SAE needs ``--layer``."""
    if sae.hook is not None:
        if layer is not None and layer != sae.hook.layer:
            raise ValueError(f"--layer {layer} does not match the SAE, which reads layer {sae.hook.layer} ({sae.hook.position})")
        return sae.hook
    if layer is None:
        raise ValueError("this SAE does not name its layer; pass --layer")
    return HookPoint(layer, position or "post")
