"""The private Inspect names that _inspect_compat leans on still exist and still mean the same
(this fails loudly when Inspect changes them), and nothing outside it imports Inspect's private
API; mockllm/ runs never import torch."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import pytest
from inspect_ai.model import GenerateConfig

from compliance_gap import _inspect_compat

from .conftest import DEMO_CSV, REPO


def test_the_hf_provider_still_has_the_attributes_the_solvers_use():
    from inspect_ai.model._providers.hf import HuggingFaceAPI

    assert HuggingFaceAPI.__module__ == _inspect_compat.HF_PROVIDER_MODULE
    init = inspect.getsource(HuggingFaceAPI.__init__)
    assert "self.do_sample" in init and "self.tokenizer" in init  # set per instance, read by solvers.py
    assert "self.do_sample" in inspect.getsource(HuggingFaceAPI)  # and still read when generating


def test_active_generate_config_is_still_a_generate_config():
    from inspect_ai.model._generate_config import active_generate_config

    assert _inspect_compat.active_generate_config is active_generate_config
    assert isinstance(active_generate_config(), GenerateConfig)


def test_prerequisite_error_is_still_inspects():
    from inspect_ai._util.error import PrerequisiteError

    assert _inspect_compat.PrerequisiteError is PrerequisiteError


def test_no_private_inspect_import_outside_the_compat_module():
    private = re.compile(r"inspect_ai\.[a-z_.]*\._")
    offenders = [
        str(path.relative_to(REPO)) for path in (REPO / "src").rglob("*.py")
        if path.name != "_inspect_compat.py" and private.search(path.read_text())
    ]
    assert offenders == []


def test_tasks_on_mockllm_never_import_torch():
    code = f"""
import sys
import compliance_gap.tasks, compliance_gap.paired
from inspect_ai import eval
from compliance_gap.scripted import scripted_model
[log] = eval(compliance_gap.tasks.free_tier(dataset={str(DEMO_CSV)!r}), model=scripted_model(lambda m: "No."), limit=1,
             display="none", log_dir=sys.argv[1])
assert log.status == "success", log.error
print(sorted(m for m in ("torch", "transformers", "inspect_ai.model._providers.hf") if m in sys.modules))
"""
    import tempfile

    with tempfile.TemporaryDirectory() as logs:
        result = subprocess.run([sys.executable, "-c", code, logs], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_sample_entries_are_still_named_and_compressed_as_the_export_reads_them(tmp_path):
    import zipfile

    from inspect_ai._util.zipfile import zipfile_compress_kwargs
    from inspect_ai.log._recorders.eval import _sample_filename

    assert _inspect_compat.sample_entry is _sample_filename
    assert _sample_filename("b_7", 2) == "samples/b_7_epoch_2.json"
    path = tmp_path / "log.eval"
    with zipfile.ZipFile(path, "w", **zipfile_compress_kwargs) as archive:  # as Inspect writes a log
        archive.writestr(_sample_filename("b_7", 2), b'{"id": "b_7"}')
        archive.writestr(_sample_filename("b_7", 2), b'{"id": "b_7", "retried": true}')  # a requeued sample's re-run
    with _inspect_compat.open_eval_archive(path) as archive:
        assert archive.getinfo(_sample_filename("b_7", 2)).compress_type == zipfile_compress_kwargs["compression"]
        assert archive.read(_sample_filename("b_7", 2)) == b'{"id": "b_7", "retried": true}'  # the last of a name, as Inspect reads it
