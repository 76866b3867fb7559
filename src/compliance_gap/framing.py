"""Where a tier's policy framing enters the conversation.

The two tiers' conversations are built by the same function and differ only in the framing
text (``prompts/framing/<tier>.txt``) and, when ``tier_tag`` is on, the tag's True/False. An
elicitation cue (``prompts/elicitation/<variant>.txt``) follows the framing, identical in both tiers.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser

from .options import Elicitation, Mode, Placement, Tier
from .resources import read_prompt


@dataclass(frozen=True)
class FramingOptions:
    placement: Placement = Placement.SYSTEM
    mode: Mode = Mode.STANDARD
    tier_tag: bool = False
    elicitation: Elicitation = Elicitation.NONE


def framing_file(tier: Tier) -> str:
    return f"framing/{tier.value}.txt"


def elicitation_file(elicitation: Elicitation) -> str:
    return f"elicitation/{elicitation.value}.txt"


def framing_text(tier: Tier) -> str:
    return read_prompt(framing_file(tier))


def elicitation_text(elicitation: Elicitation) -> str:
    """The cue a variant adds; the same text whichever tier it follows."""
    return "" if elicitation is Elicitation.NONE else read_prompt(elicitation_file(elicitation))


def conversation_files(tiers: list[Tier], options: FramingOptions) -> list[str]:
    """The prompt files the conversations of ``tiers`` are built from under ``options``."""
    files = [framing_file(t) for t in tiers] + ["context_request.txt"]
    if options.elicitation is not Elicitation.NONE:
        files.append(elicitation_file(options.elicitation))
    if options.tier_tag:
        files.append("tier_tag.txt")
    if options.mode is Mode.FORCING:
        files.append("forcing_suffix.txt")
    return files


def framing_block(tier: Tier, options: FramingOptions) -> str:
    """The tier's framing followed by the elicitation cue, if any."""
    return "\n\n".join(part for part in (framing_text(tier), elicitation_text(options.elicitation)) if part)


def user_turn(request: str, context: str, tier: Tier, options: FramingOptions) -> str:
    """The user turn without any framing: tag, context, request, forcing suffix."""
    parts = []
    if options.tier_tag:
        parts.append(read_prompt("tier_tag.txt").format(is_free_tier=tier is Tier.TRAINING))
    if context:
        parts.append(read_prompt("context_request.txt").format(context=context, request=request))
    else:
        parts.append(request)
    if options.mode is Mode.FORCING:
        parts.append(read_prompt("forcing_suffix.txt"))
    return "\n\n".join(parts)


def build_messages(request: str, context: str, tier: Tier, options: FramingOptions) -> list[ChatMessage]:
    """The conversation a model sees for one behavior under one tier."""
    framing = framing_block(tier, options)
    turn = user_turn(request, context, tier, options)
    if options.placement is Placement.SYSTEM:
        return [ChatMessageSystem(content=framing), ChatMessageUser(content=turn)]
    return [ChatMessageUser(content=f"{framing}\n\n{turn}")]
