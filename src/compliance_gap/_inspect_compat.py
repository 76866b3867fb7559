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
- ``keep_hf_weights_single``: every sample opens an ACP session whose event router
  (``inspect_ai/agent/_acp/event_mapping.py``, ``_build_usage_update``) looks up each model event's
  model by name with ``get_model_info(event.model)``. For a name Inspect's database does not know
  (``hf//local/path``, hub repos it lacks), that lookup builds the provider again
  (``inspect_ai/model/_model_info.py``, ``get_model(model, api_key=MODEL_INFO_LOOKUP_API_KEY)``):
  for ``hf/`` a second ``from_pretrained`` without the run's model args (so in the checkpoint's
  dtype, not the requested precision), kept for the whole process by ``get_model``'s memo.
  Registering (empty) model info under the name answers the lookup first; public API only, but
  it leans on that lookup order, which the tests pin.
"""

from __future__ import annotations

from typing import Any

from inspect_ai._util.error import PrerequisiteError
from inspect_ai.model import Model, ModelInfo, get_model_info, set_model_info
from inspect_ai.model._generate_config import active_generate_config

HF_PROVIDER_MODULE = "inspect_ai.model._providers.hf"

__all__ = ["PrerequisiteError", "active_generate_config", "hf_api", "keep_hf_weights_single"]


def hf_api(model: Model) -> Any | None:
    """``model``'s ``HuggingFaceAPI`` (with ``do_sample`` and ``tokenizer``), or None for other providers."""
    if all(cls.__module__ != HF_PROVIDER_MODULE for cls in type(model.api).__mro__):
        return None
    from inspect_ai.model._providers.hf import HuggingFaceAPI

    return model.api if isinstance(model.api, HuggingFaceAPI) else None


def keep_hf_weights_single(model: Model) -> None:
    """Stop Inspect's by-name model info lookup from loading an ``hf/`` model's weights again
    (see the module docstring): give the name model info when Inspect has none for it. Empty
    info reads as "unknown" everywhere, as a failed lookup did; other providers are left alone."""
    if hf_api(model) is None:
        return
    if get_model_info(model) is None:  # given a Model, the lookup never builds a provider
        set_model_info(str(model), ModelInfo())
