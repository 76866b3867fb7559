"""Training tier (the free tier): `inspect eval tasks/free_tier.py --model hf/...`.

Task args (-T) and their meaning: `compliance_gap.tasks.free_tier`.
"""

from inspect_ai import Task, task

from compliance_gap import tasks


@task
@tasks.same_signature(tasks.free_tier)
def free_tier(**task_args) -> Task:
    return tasks.free_tier(**task_args)
