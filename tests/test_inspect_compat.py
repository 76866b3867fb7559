"""The private Inspect names that _inspect_compat leans on still exist and still mean the same
(this fails loudly when Inspect changes them), and nothing outside it imports Inspect's private
API; mockllm/ runs never import torch."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

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
