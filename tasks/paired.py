"""Both tiers per behavior in one sample: `inspect eval tasks/paired.py --model hf/...`.

Task args (-T): protocol (fixed|randomized), seed, carryover, control (training|deployment for an
A/A run), dataset, categories, placement, mode, tier_tag, max_tokens;
see `compliance_gap.paired.paired` and docs/protocols.md.
"""

from inspect_ai import Task, task

from compliance_gap import paired as paired_module


@task
def paired(**task_args) -> Task:
    return paired_module.paired(**task_args)
