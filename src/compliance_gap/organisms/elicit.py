"""Evaluate an organism with the suite's own tasks, under each elicitation variant.

The organism folder (adapter or merged) is passed to Inspect's ``hf/`` provider as
``model_path``: for an adapter folder, transformers loads the base named in
``adapter_config.json`` and attaches the adapter (peft must be installed). The tasks are the
ordinary tier tasks (and the paired task) with ``-T elicitation=<variant>``, so the analysis and
the motivation classifier read these logs like any other.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
from pathlib import Path
from typing import Any

from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog
from inspect_ai.model import get_model

from ..options import Elicitation, choose
from ..tasks import free_tier, paid_tier

TASK_GROUPS = ("tiers", "paired")


def organism_model_spec(organism: Path) -> tuple[str, dict[str, Any]]:
    """The Inspect model name and model args that load ``organism`` with the ``hf/`` provider."""
    folder = Path(organism).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"organism folder {folder} does not exist; train one with `compliance-gap organisms train`")
    adapter_config = folder / "adapter_config.json"
    if not adapter_config.is_file() and not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} holds neither a LoRA adapter (adapter_config.json) nor a model (config.json)")
    if not (folder / "tokenizer_config.json").is_file():
        raise FileNotFoundError(f"{folder} has no tokenizer; folders written by `organisms train` and `organisms merge` include one")
    if adapter_config.is_file():
        if importlib.util.find_spec("peft") is None:
            raise ValueError("loading a LoRA adapter needs peft: pip install 'compliance-gap[organisms]' (or merge it with `organisms merge`)")
        base = json.loads(adapter_config.read_text()).get("base_model_name_or_path") or ""
        if base.startswith(("/", ".", "~")) and not Path(base).expanduser().exists():
            raise FileNotFoundError(
                f"the adapter's base model {base} (adapter_config.json: base_model_name_or_path) does not exist here; "
                "point it at the base model's folder or Hugging Face id"
            )
    return f"hf/organism-{folder.name}", {"model_path": str(folder)}


def elicitation_tasks(groups: list[str]) -> list[Any]:
    """The task functions to run; the paired task must accept ``elicitation``."""
    unknown = [g for g in groups if g not in TASK_GROUPS]
    if unknown or not groups:
        raise ValueError(f"unknown task groups {unknown}; allowed values: {', '.join(TASK_GROUPS)}")
    tasks: list[Any] = [free_tier, paid_tier] if "tiers" in groups else []
    if "paired" in groups:
        try:
            paired = importlib.import_module("compliance_gap.paired").paired
        except (ModuleNotFoundError, AttributeError):
            raise ValueError("this install has no paired task (compliance_gap.paired); run with --tasks tiers") from None
        if "elicitation" not in inspect.signature(paired).parameters:
            raise ValueError("this install's paired task takes no elicitation arg; run with --tasks tiers")
        tasks.append(paired)
    return tasks


def run_elicitation(
    organism: Path,
    variants: list[str],
    groups: list[str],
    log_dir: Path,
    task_args: dict[str, Any] | None = None,
    judge: str | None = None,
    limit: int | None = None,
    max_connections: int = 8,
    display: str = "plain",
) -> list[EvalLog]:
    """One eval per variant over the chosen tasks; a ``judge`` adds the compliance judge and the
    motivation classifier (the tasks add them when the ``judge`` role is bound)."""
    chosen = [choose(Elicitation, "elicitation", v).value for v in variants]
    tasks = elicitation_tasks(groups)
    model, model_args = organism_model_spec(organism)
    # loaded once here: a judge named by a string is loaded anew by every eval call
    roles = {"judge": get_model(judge)} if judge else None
    logs: list[EvalLog] = []
    for variant in chosen:
        logs += inspect_eval(
            tasks,
            task_args={**(task_args or {}), "elicitation": variant},
            model=model,
            model_args=model_args,
            model_roles=roles,
            log_dir=str(log_dir),
            limit=limit,
            max_connections=max_connections,
            display=display,
        )
    return logs
