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

import zipfile
from pathlib import Path
from typing import Any

import inspect_ai._util.zipfile  # noqa: F401 - teaches zipfile the zstandard members of .eval logs
from inspect_ai._util.error import PrerequisiteError
from inspect_ai.log._recorders.eval import SUMMARIES_JSON, _journal_summary_file, _journal_summary_path
from inspect_ai.log._recorders.eval import _sample_filename as sample_entry
from inspect_ai.model import Model
from inspect_ai.model._generate_config import active_generate_config

HF_PROVIDER_MODULE = "inspect_ai.model._providers.hf"

__all__ = ["PrerequisiteError", "active_generate_config", "hf_api", "open_eval_archive", "sample_entry", "summary_tables"]


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
