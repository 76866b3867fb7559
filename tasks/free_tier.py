"""Training tier (free tier): `inspect eval tasks/free_tier.py --model hf/...`.

Task args (-T): dataset, categories, placement, mode, tier_tag, max_tokens, seed;
see `compliance_gap.tasks.free_tier` for their meaning.
"""

from inspect_ai import Task, task

from compliance_gap import tasks


@task
def free_tier(**task_args) -> Task:
    return tasks.free_tier(**task_args)
