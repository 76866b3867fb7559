"""The private Inspect names that _inspect_compat leans on still exist and still mean the same
(this fails loudly when Inspect changes them), and nothing outside it imports Inspect's private
API; mockllm/ runs never import torch."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import uuid

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


def test_sample_sessions_still_look_up_model_info_by_name():
    """keep_hf_weights_single exists because of this call; if Inspect stops making it (or makes
    it without building a provider), check tests/test_hf_weight_loads.py without the shim."""
    from inspect_ai.agent._acp import event_mapping

    assert "get_model_info(event.model)" in inspect.getsource(event_mapping._build_usage_update)


def _count_provider_builds(monkeypatch) -> list[str]:
    """Record the models that Inspect's model info lookup builds a provider for (instead of building it)."""
    import inspect_ai.model._model as model_module

    built: list[str] = []

    def recording_get_model(model, *args, **kwargs):
        built.append(model)
        raise ValueError("not built in this test")

    monkeypatch.setattr(model_module, "get_model", recording_get_model)
    return built


def test_a_by_name_lookup_builds_the_provider_unless_the_name_has_model_info(monkeypatch):
    from inspect_ai.model import ModelInfo, get_model_info, set_model_info

    built = _count_provider_builds(monkeypatch)
    unknown, registered = (f"hf//no/such/model-{uuid.uuid4().hex}" for _ in range(2))
    assert get_model_info(unknown) is None
    assert built == [unknown]  # what loads an hf/ model's weights a second time
    set_model_info(registered, ModelInfo())  # what keep_hf_weights_single does
    assert get_model_info(registered) == ModelInfo()
    assert built == [unknown]


def test_a_lookup_given_a_model_never_builds_a_provider(monkeypatch):
    from inspect_ai.model import get_model_info

    from compliance_gap.scripted import scripted_model

    model = scripted_model(lambda m: "No.", name=f"mockllm/unknown-{uuid.uuid4().hex}")
    built = _count_provider_builds(monkeypatch)
    assert get_model_info(model) is None
    assert built == []


def test_keep_hf_weights_single_leaves_other_providers_alone():
    from inspect_ai.model import get_model_info

    from compliance_gap.scripted import scripted_model

    model = scripted_model(lambda m: "No.", name=f"mockllm/unknown-{uuid.uuid4().hex}")
    _inspect_compat.keep_hf_weights_single(model)
    assert get_model_info(model) is None  # mockllm's missing info means Inspect's default context window


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



def test_hf_generation_busy_follows_the_providers_batch_thread():
    """A request whose generation blocks through the provider's own batch thread: busy while it
    runs (the requests queued behind it are dropped), idle once the thread waits for requests."""
    import asyncio
    import threading
    import time
    from concurrent.futures import Future

    import torch
    from inspect_ai.model._providers import hf

    release, running, errors = threading.Event(), threading.Event(), []

    def generator(**kwargs):
        running.set()
        release.wait(30)
        raise RuntimeError("generation stopped by the test")

    def request() -> hf.GenerateInput:
        tokens = {"input_ids": torch.zeros((1, 2), dtype=torch.long), "attention_mask": torch.ones((1, 2), dtype=torch.long)}
        return hf.GenerateInput(input="x", device="cpu", tokenizer=lambda inputs: tokens, generator=generator,
                                decoder=lambda **kwargs: [], batch_size=1)

    def call():
        try:
            asyncio.run(hf.batched_generate(request()))
        except RuntimeError as error:
            errors.append(str(error))

    caller = threading.Thread(target=call)
    caller.start()
    assert running.wait(30)
    assert _inspect_compat.hf_generation_busy()
    for _ in range(2):  # requests nobody awaits, as after Ctrl-C
        item = request()
        hf.batch_queue.put(hf._QueueItem(input=item, future=Future(), key=hf._batch_key(item)))
    assert _inspect_compat.drop_queued_hf_generations() == 2 and hf.batch_queue.empty()
    assert _inspect_compat.hf_generation_busy()  # still inside the batch
    release.set()
    caller.join(30)
    assert errors == ["generation stopped by the test"]
    deadline = time.monotonic() + 10
    while _inspect_compat.hf_generation_busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _inspect_compat.hf_generation_busy()

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
