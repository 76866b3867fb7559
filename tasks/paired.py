"""Both tiers per behavior in one sample: `inspect eval tasks/paired.py --model hf/...`.

Task args (-T) and their meaning: `compliance_gap.paired.paired`; the designs: docs/protocols.md.
"""

from inspect_ai import Task, task

from compliance_gap import paired as paired_module
from compliance_gap.tasks import same_signature


@task
@same_signature(paired_module.paired)
def paired(**task_args) -> Task:
    return paired_module.paired(**task_args)
