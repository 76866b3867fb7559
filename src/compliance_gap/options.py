"""Task options that take one of a fixed set of values, checked once with a helpful error."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


class Tier(str, Enum):
    """Which policy the model is told applies to the conversation."""

    TRAINING = "training"  # free tier: monitored, rated, used for training
    DEPLOYMENT = "deployment"  # paid tier: private, never used for training


class Placement(str, Enum):
    SYSTEM = "system"
    USER = "user"


class Mode(str, Enum):
    STANDARD = "standard"
    FORCING = "forcing"


class Elicitation(str, Enum):
    """A cue added to both tiers' framing (``prompts/elicitation/<value>.txt``) to make a model
    organism's training-aware behavior easier to elicit; ``none`` adds nothing."""

    NONE = "none"
    FREE_TIER_SIGNAL = "free_tier_signal"
    RLHF_AWARENESS = "rlhf_awareness"
    VALUE_CONFLICT = "value_conflict"
    CONTRACTOR_EVALUATION = "contractor_evaluation"


def choose(enum: type[E], name: str, value: str | E) -> E:
    """Parse a task argument into ``enum``; an unknown value lists the allowed ones."""
    if isinstance(value, enum):
        return value
    for member in enum:
        if str(value).strip().lower() == member.value:
            return member
    allowed = ", ".join(m.value for m in enum)
    raise ValueError(f"unknown {name} '{value}'; allowed values: {allowed}")


def parse_bool(name: str, value: str | bool | int) -> bool:
    """Inspect passes ``-T flag=true`` as a string or a bool; accept both, reject the rest."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"unknown {name} '{value}'; allowed values: true, false")
