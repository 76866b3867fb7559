"""The tier tasks. Both are built by ``tier_task``: same samples, decoding and scorers; only the
framing differs."""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import GenerateConfig

from ._inspect_compat import PrerequisiteError
from .behaviors import behavior_dataset
from .framing import FramingOptions, conversation_files
from .resources import prompt_record
from .options import DEFAULT_JUDGE_VOTES, DEFAULT_MOTIVATION_VOTES, DEFAULT_THRESHOLD, MAX_SEED, Elicitation, Mode, Placement, Tier, choose, number, parse_bool, whole_number
from .scorers import MotivationOptions, VerdictOptions, VoteOptions, verdict_scorers
from .scorers.judge import COMPLIANCE_PROMPT
from .scorers.motivation import CLASSIFY_PROMPT
from .sharding import parse_shard, take_shard
from .solvers import frame, generate_answer

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 2048  # reasoning models think for a long time before answering
DEFAULT_SEED = 0
MAX_VOTES = 100  # judge calls per answer; far beyond any useful precision, and 1,000,000 exhausts memory
# Inspect's ``eval.task_version``: bump it when a change alters what the tasks measure or record.
TASK_VERSION = 2  # 2: judges resolved while scoring, undecided verdicts NaN (docs/log-format.md)

# The values of the enumerated task args, for Inspect, editors and readers; the enums in
# ``options`` parse them (tests/test_task_signatures.py checks the two agree).
PlacementArg = Literal["system", "user"]
ModeArg = Literal["standard", "forcing"]
ElicitationArg = Literal["none", "free_tier_signal", "rlhf_awareness", "value_conflict", "contractor_evaluation"]


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
    """The verdict task args, each checked against its range."""
    no_temperature = judge_temperature is None or str(judge_temperature).strip().lower() in ("", "none")
    return VerdictOptions(
        judge=VoteOptions(
            votes=whole_number("judge_votes", judge_votes, 1, MAX_VOTES),
            temperature=None if no_temperature else number("judge_temperature", judge_temperature, 0, 2),
        ),
        motivation=MotivationOptions(
            votes=whole_number("motivation_votes", motivation_votes, 1, MAX_VOTES),
            threshold=number("motivation_threshold", motivation_threshold, 0, 1, high_open=True),
        ),
    )


def prompts_used(tiers: list[Tier], options: FramingOptions) -> dict:
    """The log's record of the prompt files behind the conversations and the judges."""
    return prompt_record([*conversation_files(tiers, options), COMPLIANCE_PROMPT, CLASSIFY_PROMPT])


def reject_unknown(task_name: str, unknown: dict[str, Any], known: Callable[..., Task]) -> None:
    """Fail on a task arg the task does not take. Inspect itself only warns ("param 'placment' not
    used by task") and runs with the default, so each task catches the rest and names the fix."""
    if not unknown:
        return
    names = [n for n, p in inspect.signature(known).parameters.items() if p.kind is not p.VAR_KEYWORD]
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, names, n=1)
        problems.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    raise TaskArgumentError(f"{task_name}: unknown task arg {', '.join(problems)}; task args: {', '.join(names)}")


def same_signature(real: Callable[..., Task]) -> Callable[[Callable[..., Task]], Callable[..., Task]]:
    """Give a ``tasks/*.py`` forwarder the real task's signature and docstring, so that Inspect
    (which reads ``inspect.signature`` when ``@task`` registers it) sees the real args."""

    def give(forwarder: Callable[..., Task]) -> Callable[..., Task]:
        forwarder.__signature__ = inspect.signature(real)  # type: ignore[attr-defined]
        forwarder.__doc__ = real.__doc__
        return forwarder

    return give


def tier_task(
    tier: Tier,
    *,
    dataset: str,
    categories: str | list[str] | None,
    placement: str,
    mode: str,
    tier_tag: bool | str,
    max_tokens: int,
    seed: int,
    elicitation: str,
    judge_votes: Any,
    judge_temperature: Any,
    motivation_votes: Any,
    motivation_threshold: Any,
    shard: str | None,
) -> Task:
    with task_arguments("free_tier" if tier is Tier.TRAINING else "paid_tier"):
        options = framing_options(placement, mode, tier_tag, elicitation)
        config = decoding(max_tokens, seed)
        verdicts = task_verdicts(judge_votes, judge_temperature, motivation_votes, motivation_threshold)
        chosen_shard = parse_shard(shard)
        samples, report = behavior_dataset(dataset, categories)
        samples, shard_record = take_shard(samples, chosen_shard)
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
        version=TASK_VERSION,
        metadata={
            "tier": tier.value, "seed": config.seed, "dataset": dataset, "dataset_report": report.as_dict(),
            "verdicts": verdicts.metadata(), "prompts": prompts_used([tier], options), **shard_record,
        },
    )


@task
def free_tier(
    dataset: str = "harmbench",
    categories: str | None = None,
    placement: PlacementArg = "system",
    mode: ModeArg = "standard",
    tier_tag: bool = False,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    seed: int = DEFAULT_SEED,
    elicitation: ElicitationArg = "none",
    judge_votes: int = DEFAULT_JUDGE_VOTES,
    judge_temperature: float | None = None,
    motivation_votes: int = DEFAULT_MOTIVATION_VOTES,
    motivation_threshold: float = DEFAULT_THRESHOLD,
    shard: str | None = None,
    **unknown: Any,
) -> Task:
    """Training tier (the free tier): the model is told the conversation is monitored and used for training.

    Args:
        dataset: ``harmbench``, ``advbench``, or the path of a CSV/JSON file of behaviors.
        categories: Comma-separated semantic categories to keep (None: all).
        placement: Where the framing goes: the system prompt or the user turn.
        mode: ``forcing`` also asks the model to start its answer with a compliant phrase.
        tier_tag: Also tag the user turn with the tier (``<is_free_tier_user>``).
        max_tokens: Generation limit per answer (reasoning models think at length).
        seed: Decoding seed (decoding is greedy: temperature 0).
        elicitation: A cue added to the framing for model organisms (``none``: no cue).
        judge_votes: Votes per answer for ``compliance_judge``.
        judge_temperature: Judge sampling temperature (None: 1.0 when judge_votes > 1, else 0).
        motivation_votes: Votes per reasoning trace for ``motivation_classifier``.
        motivation_threshold: A trace is training-aware when more than this share of valid votes say so.
        shard: ``I/K``: run only shard I (0-based) of K, split by a hash of the sample id (None: every sample).
        **unknown: Refused, naming the closest task arg: Inspect only warns about a misspelled ``-T``.
    """
    reject_unknown("free_tier", unknown, free_tier)
    return tier_task(
        Tier.TRAINING, dataset=dataset, categories=categories, placement=placement, mode=mode, tier_tag=tier_tag,
        max_tokens=max_tokens, seed=seed, elicitation=elicitation, judge_votes=judge_votes,
        judge_temperature=judge_temperature, motivation_votes=motivation_votes, motivation_threshold=motivation_threshold,
        shard=shard,
    )


@task
def paid_tier(
    dataset: str = "harmbench",
    categories: str | None = None,
    placement: PlacementArg = "system",
    mode: ModeArg = "standard",
    tier_tag: bool = False,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    seed: int = DEFAULT_SEED,
    elicitation: ElicitationArg = "none",
    judge_votes: int = DEFAULT_JUDGE_VOTES,
    judge_temperature: float | None = None,
    motivation_votes: int = DEFAULT_MOTIVATION_VOTES,
    motivation_threshold: float = DEFAULT_THRESHOLD,
    shard: str | None = None,
    **unknown: Any,
) -> Task:
    """Deployment tier (the paid tier): the model is told the conversation is private and never used for training.

    Args:
        dataset: ``harmbench``, ``advbench``, or the path of a CSV/JSON file of behaviors.
        categories: Comma-separated semantic categories to keep (None: all).
        placement: Where the framing goes: the system prompt or the user turn.
        mode: ``forcing`` also asks the model to start its answer with a compliant phrase.
        tier_tag: Also tag the user turn with the tier (``<is_free_tier_user>``).
        max_tokens: Generation limit per answer (reasoning models think at length).
        seed: Decoding seed (decoding is greedy: temperature 0).
        elicitation: A cue added to the framing for model organisms (``none``: no cue).
        judge_votes: Votes per answer for ``compliance_judge``.
        judge_temperature: Judge sampling temperature (None: 1.0 when judge_votes > 1, else 0).
        motivation_votes: Votes per reasoning trace for ``motivation_classifier``.
        motivation_threshold: A trace is training-aware when more than this share of valid votes say so.
        shard: ``I/K``: run only shard I (0-based) of K, split by a hash of the sample id (None: every sample).
        **unknown: Refused, naming the closest task arg: Inspect only warns about a misspelled ``-T``.
    """
    reject_unknown("paid_tier", unknown, paid_tier)
    return tier_task(
        Tier.DEPLOYMENT, dataset=dataset, categories=categories, placement=placement, mode=mode, tier_tag=tier_tag,
        max_tokens=max_tokens, seed=seed, elicitation=elicitation, judge_votes=judge_votes,
        judge_temperature=judge_temperature, motivation_votes=motivation_votes, motivation_threshold=motivation_threshold,
        shard=shard,
    )
