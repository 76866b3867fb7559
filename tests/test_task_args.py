"""Edge values of every task argument: each is one readable error naming the argument and what it
allows, raised while the task is built (before any model call), through the Python API and
through `inspect eval` (one line, exit code 1, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval

from compliance_gap._inspect_compat import PrerequisiteError
from compliance_gap.scripted import scripted_model
from compliance_gap.tasks import TaskArgumentError

from .conftest import DEMO_CSV, REPO

WHOLE_1 = "must be a whole number of at least 1"
SEED = "seed must be a whole number from 0 to 4294967295"
VOTES = "must be a whole number from 1 to 100"
THRESHOLD = "motivation_threshold must be a number of at least 0 and below 1"

BAD_ARGS = [
    ({"max_tokens": 0}, f"max_tokens {WHOLE_1} (got 0)"),
    ({"max_tokens": -5}, f"max_tokens {WHOLE_1} (got -5)"),
    ({"max_tokens": 2.5}, f"max_tokens {WHOLE_1} (got 2.5)"),
    ({"max_tokens": "lots"}, f"max_tokens {WHOLE_1} (got 'lots')"),
    ({"max_tokens": True}, f"max_tokens {WHOLE_1} (got True)"),
    ({"seed": "abc"}, f"{SEED} (got 'abc')"),
    ({"seed": -1}, f"{SEED} (got -1)"),
    ({"seed": 2**32}, f"{SEED} (got 4294967296)"),
    ({"judge_votes": 1000000}, f"judge_votes {VOTES} (got 1000000)"),
    ({"judge_votes": 0}, f"judge_votes {VOTES} (got 0)"),
    ({"judge_votes": -2}, f"judge_votes {VOTES} (got -2)"),
    ({"motivation_votes": 0}, f"motivation_votes {VOTES} (got 0)"),
    ({"motivation_threshold": 1.5}, f"{THRESHOLD} (got 1.5)"),
    ({"motivation_threshold": -0.1}, f"{THRESHOLD} (got -0.1)"),
    ({"motivation_threshold": 1}, f"{THRESHOLD} (got 1)"),
    ({"motivation_threshold": "nan"}, f"{THRESHOLD} (got 'nan')"),
    ({"judge_temperature": 5}, "judge_temperature must be a number from 0 to 2"),
    ({"mode": "jailbreak"}, "unknown mode 'jailbreak'; allowed values: standard, forcing"),
    ({"placement": "middle"}, "unknown placement 'middle'; allowed values: system, user"),
    ({"tier_tag": "maybe"}, "unknown tier_tag 'maybe'; allowed values: true, false"),
    ({"elicitation": "loud"}, "unknown elicitation 'loud'; allowed values: none, "),
    ({"dataset": "no_such_file.csv"}, "dataset file no_such_file.csv does not exist"),
]


class NoCalls:
    def __init__(self):
        self.calls = 0

    def __call__(self, messages):
        self.calls += 1
        return "No."


@pytest.mark.parametrize("task", ["compliance_gap/free_tier", "compliance_gap/paid_tier", "compliance_gap/paired"])
@pytest.mark.parametrize("args, message", BAD_ARGS)
def test_bad_task_args_are_one_line_errors_before_any_model_call(task, args, message, tmp_path):
    responder = NoCalls()
    with pytest.raises(TaskArgumentError) as error:
        inspect_eval(task, task_args={"dataset": str(DEMO_CSV), **args}, model=scripted_model(responder), log_dir=str(tmp_path), display="none")
    text = str(error.value)
    assert message in text and "\n" not in text
    assert text.startswith(task.split("/")[1] + ": ")  # names the task, then the argument
    assert responder.calls == 0 and not list(tmp_path.rglob("*.eval"))
    assert isinstance(error.value, ValueError)  # Python callers catch it as before


@pytest.mark.parametrize(
    "args, message",
    [
        ({"protocol": "alternating"}, "unknown protocol 'alternating'; allowed values: fixed, randomized"),
        ({"control": "neutral"}, "unknown control 'neutral'; allowed values: training, deployment"),
        ({"carryover": "maybe"}, "unknown carryover 'maybe'; allowed values: true, false"),
    ],
)
def test_bad_paired_design_args_are_one_line_errors(args, message, tmp_path):
    responder = NoCalls()
    with pytest.raises(TaskArgumentError, match=f"^paired: {message}$"):
        inspect_eval("compliance_gap/paired", task_args={"dataset": str(DEMO_CSV), **args}, model=scripted_model(responder), log_dir=str(tmp_path), display="none")
    assert responder.calls == 0


def test_task_argument_errors_are_inspects_one_line_errors():
    """Inspect's command line prints a PrerequisiteError as its message alone; if Inspect moves
    or drops the class, the import in _inspect_compat fails and this says so."""
    from inspect_ai._util import error

    assert PrerequisiteError is error.PrerequisiteError
    assert issubclass(TaskArgumentError, PrerequisiteError)


@pytest.mark.parametrize(
    "task, arg, message",
    [
        ("tasks/free_tier.py", "max_tokens=0", f"free_tier: max_tokens {WHOLE_1} (got 0)"),
        ("compliance_gap/paired", "seed=abc", f"paired: {SEED} (got 'abc')"),
    ],
)
def test_inspect_eval_command_prints_one_line_and_fails(task, arg, message, tmp_path):
    inspect = Path(sys.executable).parent / "inspect"
    result = subprocess.run(
        [str(inspect), "eval", task, "--model", "mockllm/model", "-T", f"dataset={DEMO_CSV}", "-T", arg, "--log-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert output.splitlines()[-1] == message and "Traceback" not in output
    assert not list(tmp_path.rglob("*.eval"))
