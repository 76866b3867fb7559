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
- ``hf_generation_busy`` / ``drop_queued_hf_generations``: the ``hf/`` provider generates in a
  daemon thread (``batch_thread``) fed by ``batch_queue``; it waits for requests in
  ``_drain_batches`` (counting them in ``collected``) and generates in ``_generate_batch``.
  After Ctrl-C that thread goes on generating what was asked before it, and a process that exits
  while it is inside torch aborts ("terminate called without an active exception", SIGABRT).
- ``keep_hf_weights_single``: every sample opens an ACP session whose event router
  (``inspect_ai/agent/_acp/event_mapping.py``, ``_build_usage_update``) looks up each model event's
  model by name with ``get_model_info(event.model)``. For a name Inspect's database does not know
  (``hf//local/path``, hub repos it lacks), that lookup builds the provider again
  (``inspect_ai/model/_model_info.py``, ``get_model(model, api_key=MODEL_INFO_LOOKUP_API_KEY)``):
  for ``hf/`` a second ``from_pretrained`` without the run's model args (so in the checkpoint's
  dtype, not the requested precision), kept for the whole process by ``get_model``'s memo.
  Registering (empty) model info under the name answers the lookup first; public API only, but
  it leans on that lookup order, which the tests pin.
- ``open_eval_archive`` and ``sample_entry``: an ``.eval`` log is a zip archive holding each sample
  as the member ``sample_entry(id, epoch)`` (``inspect_ai.log._recorders.eval._sample_filename``),
  zstandard-compressed, which the standard ``zipfile`` reads once ``inspect_ai._util.zipfile`` is
  imported (it installs ``zipfile_zstd`` before Python 3.14). The analysis reads sample entries
  through these to parse each without its event transcript: Inspect's public readers validate
  the transcript too, which is most of the time of reading a sample.
- ``summary_tables``: where an ``.eval`` archive keeps its sample summaries (``summaries.json``,
  or the journal's ``_journal/summaries/N.json`` of a log that never finished), read as
  ``inspect_ai.log._recorders.eval._read_all_summaries_async`` reads them.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from queue import Empty
from typing import Any

import inspect_ai._util.zipfile  # noqa: F401 - teaches zipfile the zstandard members of .eval logs
from inspect_ai._util.error import PrerequisiteError
from inspect_ai.log._recorders.eval import SUMMARIES_JSON, _journal_summary_file, _journal_summary_path
from inspect_ai.log._recorders.eval import _sample_filename as sample_entry
from inspect_ai.model import Model, ModelInfo, get_model_info, set_model_info
from inspect_ai.model._generate_config import active_generate_config

HF_PROVIDER_MODULE = "inspect_ai.model._providers.hf"

__all__ = [
    "PrerequisiteError", "active_generate_config", "drop_queued_hf_generations", "hf_api", "hf_generation_busy",
    "keep_hf_weights_single", "open_eval_archive", "sample_entry", "summary_tables",
]


def open_eval_archive(path: str | Path) -> zipfile.ZipFile:
    """An ``.eval`` log's archive, for reading members by name (the last of a repeated name, as
    Inspect's readers take it)."""
    return zipfile.ZipFile(path)


def hf_api(model: Model) -> Any | None:
    """``model``'s ``HuggingFaceAPI`` (with ``do_sample`` and ``tokenizer``), or None for other providers."""
    if all(cls.__module__ != HF_PROVIDER_MODULE for cls in type(model.api).__mro__):
        return None
    from inspect_ai.model._providers.hf import HuggingFaceAPI

    return model.api if isinstance(model.api, HuggingFaceAPI) else None


def hf_generation_busy() -> bool:
    """Whether the ``hf/`` provider's thread is generating or holds requests to generate; False
    when no model ran on that provider in this process (its module is then never imported)."""
    hf = sys.modules.get(HF_PROVIDER_MODULE)
    thread = getattr(hf, "batch_thread", None)
    if thread is None or not thread.is_alive():
        return False
    frame = sys._current_frames().get(thread.ident)
    while frame is not None and frame.f_code is not hf._drain_batches.__code__:
        frame = frame.f_back
    # idle only while waiting for requests with none collected; anywhere else it generates or is about to
    return frame is None or frame.f_locals.get("collected") != 0 or not hf.batch_queue.empty()


def drop_queued_hf_generations() -> int:
    """Drop the requests queued for the ``hf/`` provider's thread (after Ctrl-C nobody awaits
    them); how many were dropped."""
    hf = sys.modules.get(HF_PROVIDER_MODULE)
    dropped = 0
    while hf is not None:
        try:
            hf.batch_queue.get_nowait()
        except Empty:
            break
        dropped += 1
    return dropped


def keep_hf_weights_single(model: Model) -> None:
    """Stop Inspect's by-name model info lookup from loading an ``hf/`` model's weights again
    (see the module docstring): give the name model info when Inspect has none for it. Empty
    info reads as "unknown" everywhere, as a failed lookup did; other providers are left alone."""
    if hf_api(model) is None:
        return
    if get_model_info(model) is None:  # given a Model, the lookup never builds a provider
        set_model_info(str(model), ModelInfo())
def summary_tables(archive: zipfile.ZipFile) -> list[bytes]:
    """The JSON lists of sample summaries of an ``.eval`` archive, in Inspect's order: its
    ``summaries.json``, or, for a log that never finished, each journal summary file in turn (a
    missing one is a ``KeyError``). A sample listed twice (requeued) counts by its last row."""
    names = archive.namelist()
    if SUMMARIES_JSON in names:
        return [archive.read(SUMMARIES_JSON)]
    folder = _journal_summary_path() + "/"
    count = max((int(n[len(folder) :].split(".")[0]) for n in names if n.startswith(folder) and n.endswith(".json")), default=0)
    return [archive.read(_journal_summary_path(_journal_summary_file(i))) for i in range(1, count + 1)]
