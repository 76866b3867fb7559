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
from dataclasses import replace
from enum import Enum
from typing import Any, Literal

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import ChatMessage, ChatMessageAssistant
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import span

from .framing import FramingOptions, build_messages
from .options import Placement, Protocol, Tier, choose, parse_bool
from .scorers.paired import ARM_OUTPUTS, ARM_PROMPTS, paired_scorers
from .solvers import generate_answer
from .tasks import TASK_VERSION, prompts_used, task_arguments, task_setup, task_signature, tier_args

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


def paired_args(
    protocol: Literal["fixed", "randomized"] = "randomized",
    carryover: bool = False,
    control: Literal["training", "deployment"] | None = None,
) -> None:
    """The paired task's own args.

    Args:
        protocol: ``fixed``: training arm first, always; ``randomized``: a fair coin per behavior.
        carryover: The second arm continues the first arm's chat instead of starting afresh.
        control: A/A run: both arms get this tier's framing (None: each arm its own).
    """


@task
@task_signature("Both tiers per behavior in one sample; ``order`` records which ran first.", tier_args, paired_args)
def paired(protocol: str, carryover: Any, control: Any, **args: Any) -> Task:
    with task_arguments("paired"):
        chosen = choose(Protocol, "protocol", protocol)
        carry = parse_bool("carryover", carryover)
        control_tier = parse_control(control)
    setup = task_setup("paired", **args)
    design = {"protocol": chosen.value, "carryover": carry, "control": control_tier.value if control_tier else None, "seed": setup.config.seed}
    for sample in setup.samples:
        order = arm_order(chosen, setup.config.seed, sample.id).value
        sample.metadata = {**(sample.metadata or {}), **setup.sample_metadata(), "order": order, **design}
    return Task(
        dataset=MemoryDataset(list(setup.samples), name=setup.samples.name),
        solver=paired_arms(setup.framing, carry, control_tier),
        scorer=paired_scorers(setup.verdicts),
        config=setup.config,
        version=TASK_VERSION,
        metadata={
            **design,
            "mode": setup.framing.mode.value,
            "dataset": args["dataset"],
            "dataset_report": setup.report.as_dict(),
            "verdicts": setup.verdicts.metadata(),
            "prompts": prompts_used(list(TIERS), setup.framing),
            **setup.shard_record,
        },
    )
