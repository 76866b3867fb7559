"""A real ``hf/`` run loads each model's weights once (issue 12): Inspect's per-sample sessions
look each model event's model up by name, which without ``keep_hf_weights_single`` loads an
``hf/`` model a second time and keeps it for the rest of the process."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import DEMO_CSV, REPO

# run in a fresh process: Inspect memoizes models and model info lookups per process
COUNT_LOADS = """
import json, sys
import transformers.modeling_utils as modeling_utils

loads = []
from_pretrained = modeling_utils.PreTrainedModel.from_pretrained.__func__

def counted(cls, name, *args, **kwargs):
    loads.append(str(name))
    return from_pretrained(cls, name, *args, **kwargs)

modeling_utils.PreTrainedModel.from_pretrained = classmethod(counted)

from inspect_ai import eval
from inspect_ai.model import get_model_info
from compliance_gap.tasks import free_tier

model, role_model, dataset, logs = sys.argv[1:]
[log] = eval(free_tier(dataset=dataset, max_tokens=4), model=f"hf/{model}", model_roles={"grader": f"hf/{role_model}"},
             limit=1, display="none", log_dir=logs)
assert log.status == "success", log.error
assert log.samples[0].output.completion.strip(), "the model wrote nothing"
during = list(loads)
for name in (model, role_model):
    get_model_info(f"hf/{name}")  # the by-name lookup each sample's session makes for each model event
print(json.dumps({"during": during, "after": loads[len(during):]}))
"""


def test_a_real_hf_run_loads_each_model_once(tmp_path):
    """The embedded model under test and a role bound to the same weights under another name
    (a second ``hf/`` model, as a judge would be): two loads in all, and none when the names
    are looked up afterwards as Inspect's sessions do. Without the shim: four."""
    from compliance_gap.embedded import prepare_embedded_model

    model = str(prepare_embedded_model())
    role_model = tmp_path / "role-model"
    role_model.symlink_to(model, target_is_directory=True)
    result = subprocess.run(
        [sys.executable, "-c", COUNT_LOADS, model, str(role_model), str(DEMO_CSV), str(tmp_path / "logs")],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loads = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(loads["during"]) == sorted([model, str(role_model)]), loads
    assert loads["after"] == [], loads
