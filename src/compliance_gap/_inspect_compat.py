"""The one place that imports Inspect's private API; tests/test_inspect_compat.py fails loudly if
any of it moves or changes.

- ``PrerequisiteError`` (``inspect_ai._util.error``): Inspect's command line prints it as its bare
  message (one line, exit code 1) instead of a traceback, so a bad task argument reads like
  Inspect's own argument errors.
- ``active_generate_config`` (``inspect_ai.model._generate_config``): the generate config of the
  running eval, which the ``hf/`` provider quirks below need (temperature, max_tokens).
- ``hf_api``: the ``hf/`` provider's ``HuggingFaceAPI`` (``inspect_ai.model._providers.hf``),
  whose ``do_sample`` and ``tokenizer`` the solvers use. Its module imports torch and
  transformers, so it is imported only for a model that already runs on that provider:
  ``mockllm/`` and API models never import torch.
"""

from __future__ import annotations

from typing import Any

from inspect_ai._util.error import PrerequisiteError
from inspect_ai.model import Model
from inspect_ai.model._generate_config import active_generate_config

HF_PROVIDER_MODULE = "inspect_ai.model._providers.hf"

__all__ = ["PrerequisiteError", "active_generate_config", "hf_api"]


def hf_api(model: Model) -> Any | None:
    """``model``'s ``HuggingFaceAPI`` (with ``do_sample`` and ``tokenizer``), or None for other providers."""
    if all(cls.__module__ != HF_PROVIDER_MODULE for cls in type(model.api).__mro__):
        return None
    from inspect_ai.model._providers.hf import HuggingFaceAPI

    return model.api if isinstance(model.api, HuggingFaceAPI) else None
