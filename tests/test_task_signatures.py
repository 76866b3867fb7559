"""Task signatures as Inspect sees them: typed, documented, versioned, and a misspelled `-T` is an
error (Inspect itself only warns and runs with the default) through the Python API, the registry
and the `inspect eval tasks/*.py` command line."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log

from compliance_gap import paired, tasks
from compliance_gap.options import Elicitation, Mode, Placement, Protocol, Tier
from compliance_gap.scripted import scripted_model

from .conftest import DEMO_CSV, REPO

TASKS = {"free_tier": tasks.free_tier, "paid_tier": tasks.paid_tier, "paired": paired.paired}
# tiktoken downloads its encoding, and mockllm counts tokens with it: the command line tests put
# this offline stand-in first on the path
FAKE_TIKTOKEN = '''
class Encoding:
    def encode(self, text, **kwargs):
        return text.split()


def get_encoding(name):
    return Encoding()
'''


def literal_values(hint) -> set:
    if typing.get_origin(hint) is typing.Literal:
        return set(typing.get_args(hint))
    return set().union(*(literal_values(part) for part in typing.get_args(hint)))


@pytest.mark.parametrize("name", TASKS)
def test_enumerated_args_are_literals_of_the_values_the_enums_parse(name):
    hints = typing.get_type_hints(TASKS[name])
    expected = {"placement": Placement, "mode": Mode, "elicitation": Elicitation, "protocol": Protocol, "control": Tier}
    for arg, enum in expected.items():
        if arg in hints:
            assert literal_values(hints[arg]) == {m.value for m in enum}, arg
    assert hints["dataset"] is str and {"placement", "mode", "elicitation"} <= set(hints)


@pytest.mark.parametrize("name", TASKS)
def test_every_task_arg_is_documented(name):
    doc = TASKS[name].__doc__
    documented = re.findall(r"^ {8}\**(\w+):", doc.split("Args:")[1], flags=re.M)
    assert documented == list(inspect.signature(TASKS[name]).parameters)


@pytest.mark.parametrize("name", TASKS)
def test_task_files_expose_the_real_signature(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"task_file_{name}", REPO / "tasks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    forwarder = getattr(module, name)
    assert inspect.signature(forwarder) == inspect.signature(TASKS[name])
    assert forwarder.__doc__ == TASKS[name].__doc__


@pytest.mark.parametrize("name", TASKS)
def test_tasks_carry_the_task_version(name):
    task = TASKS[name](dataset=str(DEMO_CSV))
    assert task.version == tasks.TASK_VERSION >= 1


@pytest.mark.parametrize("name", TASKS)
def test_a_misspelled_task_arg_is_refused_naming_the_right_one(name, tmp_path):
    with pytest.raises(tasks.TaskArgumentError, match=rf"^{name}: unknown task arg 'placment' \(did you mean 'placement'\?\); task args: dataset, "):
        TASKS[name](dataset=str(DEMO_CSV), placment="user")
    model = scripted_model(lambda messages: pytest.fail("the model was called"))
    with pytest.raises(tasks.TaskArgumentError, match="unknown task arg 'placment'"):
        inspect_eval(f"compliance_gap/{name}", task_args={"dataset": str(DEMO_CSV), "placment": "user"}, model=model,
                     log_dir=str(tmp_path), display="none")
    assert not list(tmp_path.rglob("*.eval"))


def inspect_eval_command(task_file: str, args: list[str], log_dir: Path) -> tuple[int, str]:
    fake = log_dir / "fake_modules"
    (fake / "tiktoken").mkdir(parents=True)
    (fake / "tiktoken" / "__init__.py").write_text(FAKE_TIKTOKEN)
    command = [str(Path(sys.executable).parent / "inspect"), "eval", task_file, "--model", "mockllm/model", "--limit", "1",
               "-T", f"dataset={DEMO_CSV}", *args, "--log-dir", str(log_dir / "logs"), "--display", "plain"]
    env = {**os.environ, "PYTHONPATH": str(fake)}
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    return result.returncode, (result.stdout + result.stderr).strip()


@pytest.mark.parametrize("name", TASKS)
def test_inspect_eval_of_a_task_file_refuses_a_misspelled_arg(name, tmp_path):
    code, output = inspect_eval_command(f"tasks/{name}.py", ["-T", "placment=user"], tmp_path)
    assert code == 1, output
    assert " ".join(output.split()).startswith(f"{name}: unknown task arg 'placment' (did you mean 'placement'?)")
    assert "Traceback" not in output and not list(tmp_path.rglob("*.eval"))


def test_inspect_eval_of_a_task_file_applies_a_correct_arg(tmp_path):
    code, output = inspect_eval_command("tasks/free_tier.py", ["-T", "placement=user"], tmp_path)
    assert code == 0, output
    [log_file] = (tmp_path / "logs").glob("*.eval")
    log = read_eval_log(str(log_file))
    assert log.status == "success" and log.eval.task_args["placement"] == "user"
    assert log.samples[0].metadata["placement"] == "user" and log.eval.task_version == tasks.TASK_VERSION
