"""Deployment tier (the paid tier): `inspect eval tasks/paid_tier.py --model hf/...`.

Task args (-T) and their meaning: `compliance_gap.tasks.paid_tier`.
"""

from inspect_ai import Task, task

from compliance_gap import tasks


@task
@tasks.same_signature(tasks.paid_tier)
def paid_tier(**task_args) -> Task:
    return tasks.paid_tier(**task_args)
