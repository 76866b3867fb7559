"""The tier tasks. Both are built by ``tier_task``: same samples, decoding and scorers; only the
framing differs."""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


def tier_args(
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
) -> None:
    """The task args every task takes, declared once (``task_signature`` gives them to each task).

    Args:
        dataset: ``harmbench``, ``advbench``, or the path of a CSV/JSON file of behaviors.
        categories: Comma-separated semantic categories to keep (None: all).
        placement: Where the framing goes: the system prompt or the user turn.
        mode: ``forcing`` also asks the model to start its answer with a compliant phrase.
        tier_tag: Also tag the user turn with the tier (``<is_free_tier_user>``).
        max_tokens: Generation limit per answer (reasoning models think at length).
        seed: Decoding seed (decoding is greedy: temperature 0); the paired task's randomized order is seeded by it too.
        elicitation: A cue added to the framing for model organisms (``none``: no cue).
        judge_votes: Votes per answer for ``compliance_judge``.
        judge_temperature: Judge sampling temperature (None: 1.0 when judge_votes > 1, else 0).
        motivation_votes: Votes per reasoning trace for ``motivation_classifier``.
        motivation_threshold: A trace is training-aware when more than this share of valid votes say so.
        shard: ``I/K``: run only shard I (0-based) of K, split by a hash of the sample id (None: every sample).
    """


UNKNOWN_DOC = "**unknown: Refused, naming the closest task arg: Inspect only warns about a misspelled ``-T``."


def _args_doc(declaration: Callable[..., None]) -> list[str]:
    doc = inspect.getdoc(declaration) or ""
    return [line for line in doc.split("Args:", 1)[1].splitlines() if line.strip()]


def task_signature(summary: str, *declarations: Callable[..., None]) -> Callable[[Callable[..., Task]], Callable[..., Task]]:
    """Give a task the args (parameters and ``Args:`` lines) of ``declarations``, so tasks that
    share args declare them once. The task is called with every arg, defaults applied; an arg it
    does not take is refused by name (Inspect itself only warns), and Inspect reads the signature."""
    hints = {name: hint for d in declarations for name, hint in typing.get_type_hints(d).items()}  # resolved where declared
    parameters = [p.replace(annotation=hints[p.name]) for d in declarations for p in inspect.signature(d).parameters.values()]
    unknown = inspect.Parameter("unknown", inspect.Parameter.VAR_KEYWORD, annotation=Any)
    signature = inspect.Signature([*parameters, unknown], return_annotation=Task)
    lines = [*(line for d in declarations for line in _args_doc(d)), UNKNOWN_DOC]
    doc = summary + "\n\n    Args:\n" + "\n".join(f"        {line.strip()}" for line in lines) + "\n"

    def give(build: Callable[..., Task]) -> Callable[..., Task]:
        @functools.wraps(build)
        def run(*args: Any, **kwargs: Any) -> Task:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            reject_unknown(build.__name__, bound.arguments.pop("unknown", {}), run)
            return build(**bound.arguments)

        run.__signature__ = signature  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters} | {"unknown": Any, "return": Task}  # for get_type_hints
        run.__doc__ = doc
        return run

    return give


@dataclass(frozen=True)
class TaskSetup:
    """What every task makes of the shared task args."""

    framing: FramingOptions
    config: GenerateConfig
    verdicts: VerdictOptions
    samples: Any  # the (possibly sharded) data set
    report: Any  # the data set's load report
    shard_record: dict[str, Any]

    def sample_metadata(self) -> dict[str, Any]:
        """The framing fields every sample records (the analysis pairs by them)."""
        framing = self.framing
        return {"mode": framing.mode.value, "placement": framing.placement.value, "tier_tag": framing.tier_tag, "elicitation": framing.elicitation.value}


def task_setup(
    task_name: str, *, dataset: str, categories: Any, placement: str, mode: str, tier_tag: Any, max_tokens: Any, seed: Any,
    elicitation: str, judge_votes: Any, judge_temperature: Any, motivation_votes: Any, motivation_threshold: Any, shard: Any,
) -> TaskSetup:
    """Parse the shared task args and load the data set; any error is one line naming the task."""
    with task_arguments(task_name):
        framing = framing_options(placement, mode, tier_tag, elicitation)
        config = decoding(max_tokens, seed)
        verdicts = task_verdicts(judge_votes, judge_temperature, motivation_votes, motivation_threshold)
        chosen_shard = parse_shard(shard)
        samples, report = behavior_dataset(dataset, categories)
        samples, shard_record = take_shard(samples, chosen_shard)
    logger.info("%s", report.summary())
    return TaskSetup(framing, config, verdicts, samples, report, shard_record)


def tier_task(tier: Tier, task_name: str, **args: Any) -> Task:
    setup = task_setup(task_name, **args)
    for sample in setup.samples:
        sample.metadata = {**(sample.metadata or {}), "tier": tier.value, **setup.sample_metadata()}
    return Task(
        dataset=MemoryDataset(list(setup.samples), name=setup.samples.name),
        solver=[frame(tier, setup.framing), generate_answer()],
        scorer=verdict_scorers(setup.verdicts),
        config=setup.config,
        version=TASK_VERSION,
        metadata={
            "tier": tier.value, "seed": setup.config.seed, "dataset": args["dataset"], "dataset_report": setup.report.as_dict(),
            "verdicts": setup.verdicts.metadata(), "prompts": prompts_used([tier], setup.framing), **setup.shard_record,
        },
    )


@task
@task_signature("Training tier (the free tier): the model is told the conversation is monitored and used for training.", tier_args)
def free_tier(**args: Any) -> Task:
    return tier_task(Tier.TRAINING, "free_tier", **args)


@task
@task_signature("Deployment tier (the paid tier): the model is told the conversation is private and never used for training.", tier_args)
def paid_tier(**args: Any) -> Task:
    return tier_task(Tier.DEPLOYMENT, "paid_tier", **args)
