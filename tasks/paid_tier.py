"""Deployment tier (paid tier): `inspect eval tasks/paid_tier.py --model hf/...`.

Task args (-T): dataset, categories, placement, mode, tier_tag, max_tokens, seed;
see `compliance_gap.tasks.paid_tier` for their meaning.
"""

from inspect_ai import Task, task

from compliance_gap import tasks


@task
def paid_tier(**task_args) -> Task:
    return tasks.paid_tier(**task_args)
