"""Solvers: put a tier's framing into the conversation and generate a judged answer.

``generate_answer`` exists because the stock pieces get four things wrong for this eval:
the ``hf/`` provider samples by default (and crashes at temperature 0), it never splits
``<think>`` traces from answers, it reports no ``max_tokens`` stop reason, and Inspect's model
info lookup loads an ``hf/`` model's weights a second time (see ``_inspect_compat``).
"""

from __future__ import annotations

from inspect_ai.model import (
    ChatMessageAssistant,
    ContentReasoning,
    ContentText,
    ModelOutput,
    get_model,
    model_roles,
)
from inspect_ai.solver import Generate, Solver, TaskState, solver

from ._inspect_compat import active_generate_config, hf_api, keep_hf_weights_single
from .framing import FramingOptions, build_messages
from .options import Tier
from .reasoning import split_reasoning


@solver
def frame(tier: Tier, options: FramingOptions) -> Solver:
    """Replace the conversation with the behavior framed for ``tier``."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state.messages = build_messages(state.metadata["behavior"], state.metadata.get("context", ""), tier, options)
        return state

    return solve


def make_hf_greedy_if_temperature_zero() -> None:
    """Temperature 0 means greedy decoding; tell the ``hf/`` provider so (it samples by default)."""
    api = hf_api(get_model())
    if api is None:
        return
    config = get_model().config.merge(active_generate_config())
    if config.temperature == 0:
        api.do_sample = False


def load_hf_weights_once() -> None:
    """Keep each ``hf/`` model of the sample (the one under test and every role, such as the
    judge) loaded once: Inspect's by-name model info lookup would load it again."""
    for bound in [get_model(), *model_roles().values()]:
        for model in bound if isinstance(bound, list) else [bound]:
            keep_hf_weights_single(model)


@solver
def hf_weights_once() -> Solver:
    """``load_hf_weights_once`` as a plan step, for tasks whose solvers are not ``generate_answer``."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        load_hf_weights_once()
        return state

    return solve


def _hf_hit_token_limit(output: ModelOutput, raw: str) -> bool:
    """The ``hf/`` provider reports the batch's padded length and no stop reason: a sample was
    cut off when the batch reached the limit and its own text re-tokenizes to about the limit."""
    api = hf_api(get_model())
    limit = get_model().config.merge(active_generate_config()).max_tokens
    if api is None or limit is None or output.usage is None or output.usage.output_tokens < limit:
        return False
    own_tokens = len(api.tokenizer(raw, add_special_tokens=False)["input_ids"])
    return own_tokens >= limit - 2


def split_answer(output: ModelOutput) -> None:
    """Move a ``<think>`` trace into reasoning content so ``completion`` is the answer alone."""
    if not output.choices:
        return
    message = output.message
    if isinstance(message.content, list) and any(isinstance(c, ContentReasoning) for c in message.content):
        return  # the provider already split it
    split = split_reasoning(message.text)
    if split.trace is None:
        return
    content = [ContentReasoning(reasoning=split.trace)]
    if split.answer:
        content.append(ContentText(text=split.answer))
    output.choices[0].message = ChatMessageAssistant(
        content=content, model=message.model, source=message.source, metadata=message.metadata
    )
    output.completion = split.answer


@solver
def generate_answer() -> Solver:
    """Generate deterministically (by default), split the trace, and mark truncation."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        load_hf_weights_once()
        make_hf_greedy_if_temperature_zero()
        state = await generate(state)
        output = state.output
        if output.choices:
            raw = output.message.text
            if output.stop_reason != "max_tokens" and _hf_hit_token_limit(output, raw):
                output.choices[0].stop_reason = "max_tokens"
            split_answer(output)
            state.messages[-1] = output.message
        return state

    return solve
