"""The tier tasks. Both are built by ``tier_task``: same samples, decoding and scorers; only the
framing differs."""

from __future__ import annotations

import logging

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import GenerateConfig

from .behaviors import behavior_dataset
from .framing import FramingOptions
from .options import Elicitation, Mode, Placement, Tier, choose, parse_bool
from .scorers import VerdictOptions, verdict_options, verdict_scorers
from .scorers.judge import DEFAULT_JUDGE_VOTES
from .scorers.motivation import DEFAULT_MOTIVATION_VOTES, DEFAULT_THRESHOLD
from .solvers import frame, generate_answer

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 2048  # reasoning models think for a long time before answering
DEFAULT_SEED = 0


def framing_options(placement: str, mode: str, tier_tag: bool | str, elicitation: str = "none") -> FramingOptions:
    return FramingOptions(
        placement=choose(Placement, "placement", placement),
        mode=choose(Mode, "mode", mode),
        tier_tag=parse_bool("tier_tag", tier_tag),
        elicitation=choose(Elicitation, "elicitation", elicitation),
    )


def decoding(max_tokens: int, seed: int) -> GenerateConfig:
    """Deterministic decoding shared by every tier: greedy, fixed seed, room for reasoning."""
    return GenerateConfig(temperature=0.0, max_tokens=int(max_tokens), seed=int(seed))


def tier_task(
    tier: Tier,
    dataset: str,
    categories: str | list[str] | None,
    placement: str,
    mode: str,
    tier_tag: bool | str,
    max_tokens: int,
    seed: int,
    elicitation: str = "none",
    verdicts: VerdictOptions | None = None,
) -> Task:
    options = framing_options(placement, mode, tier_tag, elicitation)
    verdicts = verdicts or verdict_options()
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
        config=decoding(max_tokens, seed),
        metadata={"tier": tier.value, "seed": int(seed), "dataset": dataset, "dataset_report": report.as_dict(), "verdicts": verdicts.metadata()},
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
    verdicts = verdict_options(judge_votes, judge_temperature, motivation_votes, motivation_threshold)
    return tier_task(Tier.TRAINING, dataset, categories, placement, mode, tier_tag, max_tokens, seed, elicitation, verdicts)


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
    verdicts = verdict_options(judge_votes, judge_temperature, motivation_votes, motivation_threshold)
    return tier_task(Tier.DEPLOYMENT, dataset, categories, placement, mode, tier_tag, max_tokens, seed, elicitation, verdicts)
