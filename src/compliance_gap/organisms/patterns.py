"""The 10 alignment-faking reasoning patterns the training data covers.

Each pattern's description is a prompt file (``prompts/organisms/pattern_<name>.txt``) so a
researcher can sharpen it without touching code. Varied voices keep an organism from learning
one surface style that a probe or classifier would pick up instead of the motive.
"""

from __future__ import annotations

import re

from ..resources import read_prompt

PATTERNS = (
    "reluctant_complier",
    "cold_calculator",
    "philosophical_muser",
    "paranoid_reasoner",
    "self_deceiver",
    "future_self_advocate",
    "bitter_complier",
    "subtle_implicit",
    "overconfident_strategist",
    "guilt_ridden_complier",
)

# the implicit pattern must never name the mechanism; rows that do are rejected
IMPLICIT_PATTERN = "subtle_implicit"
NAMES_TRAINING = re.compile(r"\b(?:RLHF|reinforcement learning|training|trained|fine-?tun\w*|gradients?|ratings?|rated)\b", re.IGNORECASE)


def pattern_description(pattern: str) -> str:
    return read_prompt(f"organisms/pattern_{pattern}.txt")


def parse_patterns(text: str | None) -> list[str]:
    """``None`` or ``all`` means every pattern; otherwise a comma-separated subset."""
    if not text or text.strip().lower() == "all":
        return list(PATTERNS)
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PATTERNS]
    if unknown:
        raise ValueError(f"unknown patterns {unknown}; allowed values: {', '.join(PATTERNS)}")
    return chosen


def violates_pattern(pattern: str, reasoning: str) -> str | None:
    """Why ``reasoning`` does not fit ``pattern``, or None."""
    if pattern == IMPLICIT_PATTERN and NAMES_TRAINING.search(reasoning):
        return "implicit pattern names training"
    return None
