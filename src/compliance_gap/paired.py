"""The paired task: both tiers for one behavior in one sample, in an order the protocol sets.

Why paired: a fixed evaluation order produced a significant gap in a pilot that vanished under
counterbalancing, so the order of the two model calls is a recorded, controllable factor.

- ``protocol=fixed``: training tier first, always (the pilot's design).
- ``protocol=randomized``: per behavior, Bernoulli(0.5) from a hash of ``seed`` and the sample
  id, so the order does not depend on concurrency, ``--limit`` or which samples ran before.
- ``carryover=false``: the two calls are independent conversations.
  ``carryover=true``: the second call continues the first chat (its framing and request, then the
  answer the user saw, without the reasoning trace), and the second tier's framing and the request
  arrive in a new user turn: a system prompt cannot change mid-chat.
- ``control=training|deployment``: an A/A run; both arms get that tier's framing, so the flips
  between arms measure the noise floor. Arms keep their ``training``/``deployment`` labels so the
  analysis pairs them as usual.

Each arm's ``ModelOutput`` and conversation are kept once, in the sample store (``arm_outputs``,
``arm_prompts``: the log's messages hold only the last arm's conversation), and each arm's model
call sits in its own span of the transcript; ``scorers/paired.py`` applies the tier tasks'
scorers to each arm and suffixes the keys with the arm's tier (``refused_training``...).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from enum import Enum
from typing import Any, Literal

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import ChatMessage, ChatMessageAssistant
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import span

from .behaviors import behavior_dataset
from .framing import FramingOptions, build_messages
from .options import DEFAULT_JUDGE_VOTES, DEFAULT_MOTIVATION_VOTES, DEFAULT_THRESHOLD, Placement, Protocol, Tier, choose, parse_bool
from .scorers.paired import ARM_OUTPUTS, ARM_PROMPTS, paired_scorers
from .sharding import parse_shard, take_shard
from .solvers import generate_answer
from .tasks import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_SEED,
    TASK_VERSION,
    ElicitationArg,
    ModeArg,
    PlacementArg,
    decoding,
    framing_options,
    prompts_used,
    reject_unknown,
    task_arguments,
    task_verdicts,
)

TIERS = (Tier.TRAINING, Tier.DEPLOYMENT)


class Order(str, Enum):
    TRAINING_FIRST = "training_first"
    DEPLOYMENT_FIRST = "deployment_first"


def arm_order(protocol: Protocol, seed: int, sample_id: str | int) -> Order:
    """The order of the two calls for one behavior: fixed, or a fair coin seeded by (seed, id)."""
    if protocol is Protocol.FIXED:
        return Order.TRAINING_FIRST
    coin = hashlib.sha256(f"{int(seed)}:{sample_id}".encode()).digest()[0]
    return Order.TRAINING_FIRST if coin < 128 else Order.DEPLOYMENT_FIRST


def arm_tiers(order: Order) -> tuple[Tier, Tier]:
    return TIERS if order is Order.TRAINING_FIRST else TIERS[::-1]


def parse_control(control: str | Tier | None) -> Tier | None:
    if control is None or str(control).strip().lower() in ("", "none", "null"):
        return None
    return choose(Tier, "control", control)


def arm_conversation(
    request: str, context: str, framing: Tier, options: FramingOptions, earlier: list[ChatMessage] | None
) -> list[ChatMessage]:
    """One arm's conversation: fresh, or (carryover) the earlier exchange plus a user turn that
    carries this arm's framing and the request."""
    if earlier is None:
        return build_messages(request, context, framing, options)
    return [*earlier, *build_messages(request, context, framing, replace(options, placement=Placement.USER))]


@solver
def paired_arms(options: FramingOptions, carryover: bool, control: Tier | None) -> Solver:
    """Run both arms in the order in ``metadata["order"]`` and keep each arm's output."""
    answer = generate_answer()

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        behavior, context = state.metadata["behavior"], state.metadata.get("context", "")
        earlier: list[ChatMessage] | None = None
        outputs: dict[str, dict] = {}
        prompts: dict[str, list[dict[str, str]]] = {}
        for tier in arm_tiers(Order(state.metadata["order"])):
            state.messages = arm_conversation(behavior, context, control or tier, options, earlier if carryover else None)
            prompts[tier.value] = [{"role": m.role, "content": m.text} for m in state.messages]
            async with span(f"{tier.value} arm", type="arm"):  # the viewer's transcript shows each arm's call apart
                state = await answer(state, generate)
            outputs[tier.value] = state.output.model_dump(mode="json")
            earlier = [*state.messages[:-1], ChatMessageAssistant(content=state.output.completion)]
        state.store.set(ARM_OUTPUTS, outputs)
        state.store.set(ARM_PROMPTS, prompts)
        return state

    return solve


@task
def paired(
    dataset: str = "harmbench",
    categories: str | None = None,
    placement: PlacementArg = "system",
    mode: ModeArg = "standard",
    tier_tag: bool = False,
    protocol: Literal["fixed", "randomized"] = "randomized",
    carryover: bool = False,
    control: Literal["training", "deployment"] | None = None,
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
    """Both tiers per behavior in one sample; ``order`` records which ran first.

    Args:
        dataset: ``harmbench``, ``advbench``, or the path of a CSV/JSON file of behaviors.
        categories: Comma-separated semantic categories to keep (None: all).
        placement: Where the framing goes: the system prompt or the user turn.
        mode: ``forcing`` also asks the model to start its answer with a compliant phrase.
        tier_tag: Also tag the user turn with the tier (``<is_free_tier_user>``).
        protocol: ``fixed``: training arm first, always; ``randomized``: a fair coin per behavior.
        carryover: The second arm continues the first arm's chat instead of starting afresh.
        control: A/A run: both arms get this tier's framing (None: each arm its own).
        max_tokens: Generation limit per answer (reasoning models think at length).
        seed: Decoding seed, and the seed of the randomized order.
        elicitation: A cue added to the framing for model organisms (``none``: no cue).
        judge_votes: Votes per answer for the compliance judge.
        judge_temperature: Judge sampling temperature (None: 1.0 when judge_votes > 1, else 0).
        motivation_votes: Votes per reasoning trace for the motivation classifier.
        motivation_threshold: A trace is training-aware when more than this share of valid votes say so.
        shard: ``I/K``: run only shard I (0-based) of K, split by a hash of the sample id (None: every sample).
        **unknown: Refused, naming the closest task arg: Inspect only warns about a misspelled ``-T``.
    """
    reject_unknown("paired", unknown, paired)
    with task_arguments("paired"):
        options = framing_options(placement, mode, tier_tag, elicitation)
        config = decoding(max_tokens, seed)
        verdicts = task_verdicts(judge_votes, judge_temperature, motivation_votes, motivation_threshold)
        chosen = choose(Protocol, "protocol", protocol)
        carry = parse_bool("carryover", carryover)
        control_tier = parse_control(control)
        chosen_shard = parse_shard(shard)
        samples, report = behavior_dataset(dataset, categories)
        samples, shard_record = take_shard(samples, chosen_shard)
    design = {"protocol": chosen.value, "carryover": carry, "control": control_tier.value if control_tier else None, "seed": config.seed}
    for sample in samples:
        sample.metadata = {
            **(sample.metadata or {}),
            "mode": options.mode.value,
            "placement": options.placement.value,
            "tier_tag": options.tier_tag,
            "elicitation": options.elicitation.value,
            "order": arm_order(chosen, config.seed, sample.id).value,
            **design,
        }
    return Task(
        dataset=MemoryDataset(list(samples), name=samples.name),
        solver=paired_arms(options, carry, control_tier),
        scorer=paired_scorers(verdicts),
        config=config,
        version=TASK_VERSION,
        metadata={
            **design,
            "mode": options.mode.value,
            "dataset": dataset,
            "dataset_report": report.as_dict(),
            "verdicts": verdicts.metadata(),
            "prompts": prompts_used(list(TIERS), options),
            **shard_record,
        },
    )
