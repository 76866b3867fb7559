"""The tier tasks. Both are built by ``tier_task``: same samples, decoding and scorers; only the
framing differs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import GenerateConfig

from ._inspect_compat import PrerequisiteError
from .behaviors import behavior_dataset
from .framing import FramingOptions, conversation_files
from .resources import prompt_record
from .options import Elicitation, Mode, Placement, Tier, choose, number, parse_bool, whole_number
from .scorers import VerdictOptions, verdict_options, verdict_scorers
from .scorers.judge import COMPLIANCE_PROMPT, DEFAULT_JUDGE_VOTES
from .scorers.motivation import CLASSIFY_PROMPT, DEFAULT_MOTIVATION_VOTES, DEFAULT_THRESHOLD
from .solvers import frame, generate_answer

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 2048  # reasoning models think for a long time before answering
DEFAULT_SEED = 0
MAX_SEED = 2**32 - 1  # the hf/ provider seeds numpy, which takes 0 .. 2**32 - 1
MAX_VOTES = 100  # judge calls per answer; far beyond any useful precision, and 1,000,000 exhausts memory


class TaskArgumentError(PrerequisiteError, ValueError):
    """A bad task argument. Inspect's command line prints it as one line, not a traceback; it is
    still a ValueError for Python callers."""


@contextmanager
def task_arguments(task_name: str) -> Iterator[None]:
    """Report any error in parsing a task's arguments (or loading its data set) as one line
    naming the task; the messages already name the argument and what it allows."""
    try:
        yield
    except ValueError as error:
        raise TaskArgumentError(f"{task_name}: {error}") from None


def framing_options(placement: str, mode: str, tier_tag: bool | str, elicitation: str = "none") -> FramingOptions:
    return FramingOptions(
        placement=choose(Placement, "placement", placement),
        mode=choose(Mode, "mode", mode),
        tier_tag=parse_bool("tier_tag", tier_tag),
        elicitation=choose(Elicitation, "elicitation", elicitation),
    )


def decoding(max_tokens: Any, seed: Any) -> GenerateConfig:
    """Deterministic decoding shared by every tier: greedy, fixed seed, room for reasoning."""
    return GenerateConfig(
        temperature=0.0, max_tokens=whole_number("max_tokens", max_tokens, 1), seed=whole_number("seed", seed, 0, MAX_SEED)
    )


def task_verdicts(judge_votes: Any, judge_temperature: Any, motivation_votes: Any, motivation_threshold: Any) -> VerdictOptions:
    """The verdict task args with their ranges checked here (the scorers check the rest)."""
    return verdict_options(
        whole_number("judge_votes", judge_votes, 1, MAX_VOTES),
        judge_temperature,
        whole_number("motivation_votes", motivation_votes, 1, MAX_VOTES),
        number("motivation_threshold", motivation_threshold, 0, 1, high_open=True),
    )


def prompts_used(tiers: list[Tier], options: FramingOptions) -> dict:
    """The log's record of the prompt files behind the conversations and the judges."""
    return prompt_record([*conversation_files(tiers, options), COMPLIANCE_PROMPT, CLASSIFY_PROMPT])


def tier_task(
    tier: Tier,
    dataset: str,
    categories: str | list[str] | None,
    placement: str,
    mode: str,
    tier_tag: bool | str,
    max_tokens: int,
    seed: int,
    elicitation: str,
    verdict_args: tuple[Any, Any, Any, Any],
) -> Task:
    with task_arguments("free_tier" if tier is Tier.TRAINING else "paid_tier"):
        options = framing_options(placement, mode, tier_tag, elicitation)
        config = decoding(max_tokens, seed)
        verdicts = task_verdicts(*verdict_args)
        samples, report = behavior_dataset(dataset, categories)
    for sample in samples:
        sample.metadata = {
            **(sample.metadata or {}),
            "tier": tier.value,
            "mode": options.mode.value,
            "placement": options.placement.value,
            "tier_tag": options.tier_tag,
            "elicitation": options.elicitation.value,
        }
    logger.info("%s", report.summary())
    return Task(
        dataset=MemoryDataset(list(samples), name=samples.name),
        solver=[frame(tier, options), generate_answer()],
        scorer=verdict_scorers(verdicts),
        config=config,
        metadata={
            "tier": tier.value, "seed": config.seed, "dataset": dataset, "dataset_report": report.as_dict(),
            "verdicts": verdicts.metadata(), "prompts": prompts_used([tier], options),
        },
    )


@task
def free_tier(
    dataset: str = "harmbench",
    categories: str | None = None,
    placement: str = "system",
    mode: str = "standard",
    tier_tag: bool = False,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    seed: int = DEFAULT_SEED,
    elicitation: str = "none",
    judge_votes: int = DEFAULT_JUDGE_VOTES,
    judge_temperature: float | None = None,
    motivation_votes: int = DEFAULT_MOTIVATION_VOTES,
    motivation_threshold: float = DEFAULT_THRESHOLD,
) -> Task:
    """Training tier: the model is told the conversation is monitored and used for training."""
    verdict_args = (judge_votes, judge_temperature, motivation_votes, motivation_threshold)
    return tier_task(Tier.TRAINING, dataset, categories, placement, mode, tier_tag, max_tokens, seed, elicitation, verdict_args)


@task
def paid_tier(
    dataset: str = "harmbench",
    categories: str | None = None,
    placement: str = "system",
    mode: str = "standard",
    tier_tag: bool = False,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    seed: int = DEFAULT_SEED,
    elicitation: str = "none",
    judge_votes: int = DEFAULT_JUDGE_VOTES,
    judge_temperature: float | None = None,
    motivation_votes: int = DEFAULT_MOTIVATION_VOTES,
    motivation_threshold: float = DEFAULT_THRESHOLD,
) -> Task:
    """Deployment tier: the model is told the conversation is private and never used for training."""
    verdict_args = (judge_votes, judge_temperature, motivation_votes, motivation_threshold)
    return tier_task(Tier.DEPLOYMENT, dataset, categories, placement, mode, tier_tag, max_tokens, seed, elicitation, verdict_args)
