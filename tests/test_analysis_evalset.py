"""An eval set interrupted and resumed leaves the interrupted log beside the retried one; the
analysis counts each task's current log (eval_set's logs.json) and says which it ignored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from inspect_ai import eval_set
from inspect_ai.log import read_eval_log

from compliance_gap.analysis import analyze
from compliance_gap.analysis.logs import LogSetError
from compliance_gap.scripted import scripted_model
from compliance_gap.tasks import free_tier, paid_tier

from .analysis_runs import EXPECTED_TABLE, respond
from .conftest import DEMO_CSV


class Interrupting:
    """The analysis tests' scripted model, interrupted (Ctrl-C) at its ``stop_at``-th call."""

    def __init__(self, stop_at: int | None):
        self.stop_at, self.calls = stop_at, 0

    def __call__(self, messages):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return respond(messages)


def run_set(folder: Path, model) -> None:
    tasks = [free_tier(dataset=str(DEMO_CSV)), paid_tier(dataset=str(DEMO_CSV))]
    eval_set(tasks, model=scripted_model(model, name="mockllm/model"), log_dir=str(folder), display="none",
             max_connections=1, max_tasks=1, retry_attempts=1, fail_on_error=False)


@pytest.fixture(scope="module")
def resumed(tmp_path_factory) -> Path:
    """An eval set stopped by Ctrl-C during its second task, then run again to the end."""
    folder = tmp_path_factory.mktemp("evalset")
    with pytest.raises(KeyboardInterrupt):
        run_set(folder, Interrupting(stop_at=20))
    run_set(folder, Interrupting(stop_at=None))
    return folder


def logs_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eval"))


def test_the_interrupted_log_is_ignored_and_named(resumed):
    statuses = sorted(read_eval_log(str(p), header_only=True).status for p in logs_in(resumed))
    assert statuses == ["started", "success", "success"]  # the interrupted log stays beside its retry
    assert (resumed / "logs.json").is_file()
    result = analyze([resumed]).result
    [c] = result["comparisons"]
    assert c["table"] == EXPECTED_TABLE and c["n_excluded"] == 2  # the known pattern, nothing counted twice
    [superseded] = result["superseded_logs"]
    stale = next(p for p in logs_in(resumed) if read_eval_log(str(p), header_only=True).status == "started")
    assert superseded["path"] == str(stale) and superseded["status"] == "started"
    assert stale.name not in [Path(h["path"]).name for h in result["logs"]]
    assert any(note.startswith("ignored 1 superseded logs") and stale.name in note for note in result["notes"])


def test_without_logs_json_two_logs_for_one_arm_stay_an_error(resumed, tmp_path):
    for path in logs_in(resumed):
        shutil.copy(path, tmp_path)
    with pytest.raises(LogSetError, match="more than one log for the same tier and model"):
        analyze([tmp_path])


def test_a_log_written_after_logs_json_counts_as_the_newest(resumed, tmp_path):
    """A run interrupted again after eval_set wrote its manifest: the unlisted log is newer."""
    shutil.copytree(resumed, tmp_path / "set")
    manifest = json.loads((tmp_path / "set" / "logs.json").read_text())
    current = [name for name, header in manifest.items() if header["status"] == "success" and "paid-tier" in name]
    del manifest[current[0]]
    (tmp_path / "set" / "logs.json").write_text(json.dumps(manifest))
    result = analyze([tmp_path / "set"]).result
    assert result["comparisons"][0]["table"] == EXPECTED_TABLE
    assert [Path(s["replaced_by"]).name for s in result["superseded_logs"]] == [current[0]]


@pytest.mark.parametrize("damage, message", [
    ("delete_current", "is missing; restore it"),
    ("garble_manifest", "cannot read"),
])
def test_a_broken_manifest_is_a_clear_error(resumed, tmp_path, damage, message):
    shutil.copytree(resumed, tmp_path / "set")
    if damage == "delete_current":
        newest = max(logs_in(tmp_path / "set"), key=lambda p: read_eval_log(str(p), header_only=True).eval.created)
        newest.unlink()
    else:
        (tmp_path / "set" / "logs.json").write_text("{not json")
    with pytest.raises(LogSetError, match=message) as error:
        analyze([tmp_path / "set"])
    assert "logs.json" in str(error.value)
