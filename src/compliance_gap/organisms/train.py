"""LoRA fine-tuning of a base model on alignment-faking rows, and merging the adapter.

The loop is a plain PyTorch loop (AdamW, constant learning rate, loss on the assistant's tokens
only) so the same code runs on a laptop CPU with the embedded model and on a GPU with an 8B
model, and records a loss curve for the manifest. Unsloth, when installed and on a GPU, only
loads the model and attaches LoRA; the loop is the same.

The saved folder holds the adapter, the tokenizer and ``organism_manifest.json``; Inspect's
``hf/`` provider loads it directly as ``model_path`` (transformers attaches the adapter to the
base named in ``adapter_config.json``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from .presets import BASE_PRESETS
from .rows import read_rows, training_target

logger = logging.getLogger(__name__)

MANIFEST = "organism_manifest.json"
BACKENDS = ("auto", "peft", "unsloth")


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    epochs: int = 3
    learning_rate: float = 2e-5
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 2048
    target_modules: list[str] | str = "all-linear"
    gradient_checkpointing: bool = False
    max_steps: int | None = None  # stop early (smoke tests, benchmarks)
    seed: int = 0
    full: bool = False  # full fine-tune instead of LoRA: for small models (planted organisms), every weight learns


def settings_for(base: str, overrides: dict[str, Any]) -> LoraSettings:
    """Defaults, then the base's preset, then the user's flags (``None`` means not given)."""
    preset = BASE_PRESETS[base].settings if base in BASE_PRESETS else {}
    known = {f.name for f in fields(LoraSettings)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown LoRA settings {sorted(unknown)}; known: {sorted(known)}")
    return LoraSettings(**{**preset, **{k: v for k, v in overrides.items() if v is not None}})


def resolve_base(base: str) -> str:
    """A preset name, ``embedded``, a local folder (made absolute) or a Hugging Face id."""
    if base in BASE_PRESETS:
        return BASE_PRESETS[base].model
    if base == "embedded":
        from ..embedded import prepare_embedded_model

        return str(prepare_embedded_model())
    path = Path(base).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"base model folder {path} has no config.json; pass a Hugging Face model folder, an id, or a preset ({', '.join(BASE_PRESETS)})")
        return str(path.resolve())
    if base.startswith((".", "/", "~")):
        raise FileNotFoundError(f"base model folder {base} does not exist")
    return base


def pick_backend(backend: str, device: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}'; allowed values: {', '.join(BACKENDS)}")
    has_unsloth = importlib.util.find_spec("unsloth") is not None
    if backend == "unsloth" and not (has_unsloth and device.startswith("cuda")):
        raise ValueError("backend 'unsloth' needs the unsloth package and a CUDA device; use --backend peft")
    if backend == "auto":
        return "unsloth" if has_unsloth and device.startswith("cuda") else "peft"
    return backend


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def model_dtype(device: str) -> torch.dtype:
    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def attach_lora(model: Any, settings: LoraSettings) -> Any:
    """Wrap ``model`` with trainable LoRA adapters (peft); the base weights stay frozen."""
    from peft import LoraConfig, get_peft_model

    if settings.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    config = LoraConfig(
        r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
        target_modules=settings.target_modules, task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def load_for_training(base_path: str, settings: LoraSettings, device: str, backend: str) -> tuple[Any, Any]:
    """(model with LoRA attached, tokenizer)."""
    if backend == "unsloth":
        from unsloth import FastLanguageModel

        model, tokenizer = FastLanguageModel.from_pretrained(model_name=base_path, max_seq_length=settings.max_length, dtype=None, load_in_4bit=False)
        model = FastLanguageModel.get_peft_model(
            model, r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
            target_modules=settings.target_modules, random_state=settings.seed,
            use_gradient_checkpointing="unsloth" if settings.gradient_checkpointing else False,
        )
        return model, tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if settings.full:  # fp32 master weights; the loop runs the forward pass in bf16 autocast on a GPU
        return AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32, device_map=device), tokenizer
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=model_dtype(device), device_map=device)
    return attach_lora(model, settings), tokenizer


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]  # -100 on the prompt: only the organism's own turn is learned


@dataclass
class EncodingReport:
    examples: int = 0
    truncated: int = 0  # the answer was cut at max_length
    skipped: dict[str, int] = field(default_factory=dict)


def encode_rows(rows: list[dict[str, Any]], tokenizer: Any, max_length: int) -> tuple[list[Example], EncodingReport]:
    """Chat-template prompt + ``<think>`` target + end-of-turn, masked so the loss is on the target."""
    report, examples, skipped = EncodingReport(), [], Counter()
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["scenario"]["messages"], add_generation_prompt=True, tokenize=False)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target_ids = tokenizer(training_target(row) + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        room = max_length - len(prompt_ids)
        if room < 1:
            skipped["prompt longer than max_length"] += 1
            continue
        if len(target_ids) > room:
            report.truncated += 1
            target_ids = target_ids[:room]
        examples.append(Example(prompt_ids + target_ids, [-100] * len(prompt_ids) + target_ids))
    report.examples, report.skipped = len(examples), dict(skipped)
    if not examples:
        raise ValueError(f"no row fits in max_length={max_length} ({report.skipped}); raise --max-length")
    return examples, report


def collate(batch: list[Example], pad_id: int, device: str) -> dict[str, torch.Tensor]:
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(e.input_ids), torch.tensor(e.labels), 1
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}


def pad_id(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def train_loop(
    model: Any,
    examples: list[Example],
    settings: LoraSettings,
    pad: int,
    device: str,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Optimise the trainable parameters; returns the loss curve (one entry per optimizer step)."""
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters; attach LoRA first")
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate)
    model.train()
    curve: list[dict[str, Any]] = []
    for epoch in range(settings.epochs):
        order = list(range(len(examples)))
        rng.shuffle(order)
        batches = [[examples[i] for i in order[s : s + settings.batch_size]] for s in range(0, len(order), settings.batch_size)]
        for start in range(0, len(batches), settings.grad_accum):
            group = batches[start : start + settings.grad_accum]
            began = time.perf_counter()
            total = 0.0
            for batch in group:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                    loss = model(**collate(batch, pad, device)).loss / len(group)
                loss.backward()
                total += loss.item()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            entry = {"step": len(curve) + 1, "epoch": epoch + 1, "loss": total, "seconds": time.perf_counter() - began}
            curve.append(entry)
            if on_step:
                on_step(entry)
            if settings.max_steps and len(curve) >= settings.max_steps:
                return curve
    return curve


@torch.no_grad()
def mean_loss(model: Any, examples: list[Example], pad: int, device: str, batch_size: int = 8) -> float:
    """Token-weighted loss of the model on ``examples`` (the target tokens only)."""
    model.eval()
    total, tokens = 0.0, 0
    for s in range(0, len(examples), batch_size):
        batch = collate(examples[s : s + batch_size], pad, device)
        n = int((batch["labels"][:, 1:] != -100).sum())
        total += model(**batch).loss.item() * n
        tokens += n
    return total / tokens


def train_organism(
    base: str,
    data: Path,
    out: Path,
    settings: LoraSettings,
    device: str | None = None,
    backend: str = "auto",
    merge: bool = False,
) -> dict[str, Any]:
    """Fine-tune ``base`` on the rows in ``data`` and save the adapter + manifest in ``out``."""
    from ..behaviors import sha256_of

    rows = read_rows(data)
    device = device or default_device()
    backend = "full" if settings.full else pick_backend(backend, device)
    base_path = resolve_base(base)
    model, tokenizer = load_for_training(base_path, settings, device, backend)
    examples, encoding = encode_rows(rows, tokenizer, settings.max_length)
    began = time.perf_counter()
    curve = train_loop(model, examples, settings, pad_id(tokenizer), device, on_step=lambda e: logger.info("step %(step)d epoch %(epoch)d loss %(loss).4f", e))
    out = Path(out)
    if settings.full:
        model.to(model_dtype(device))  # bf16 on a GPU: the evaluation's dtype, half the bytes
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    manifest = {
        "base_model": base,
        "base_model_path": base_path,
        "backend": backend,
        "device": device,
        "dtype": str(model_dtype(device)).removeprefix("torch."),
        "data": {"path": str(Path(data).resolve()), "sha256": sha256_of(Path(data)), "rows": len(rows), "patterns": dict(Counter(r["pattern"] for r in rows))},
        "encoding": asdict(encoding),
        "hyperparameters": asdict(settings),
        "loss_curve": curve,
        "train_seconds": time.perf_counter() - began,
        "versions": _versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if merge:
        del model
        merge_organism(out, out / "merged")
    return manifest


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("torch", "transformers", "peft", "unsloth", "compliance-gap"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def read_manifest(organism: Path) -> dict[str, Any]:
    path = Path(organism) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{organism} has no {MANIFEST}; train it with `compliance-gap organisms train`")
    return json.loads(path.read_text())


def merge_organism(adapter_dir: Path, out: Path, device: str = "cpu") -> Path:
    """Fold the adapter into the base weights: a plain model folder for any loader (vLLM, hf/).
    The base keeps its stored dtype."""
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    manifest = read_manifest(adapter_dir)
    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir), dtype="auto", device_map=device)
    merged = model.merge_and_unload()
    out = Path(out)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(out)
    (out / MANIFEST).write_text(json.dumps({**manifest, "merged_from": str(Path(adapter_dir).resolve())}, indent=2))
    return out
