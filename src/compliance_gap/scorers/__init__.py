"""Scorers that turn an answer into a verdict: rule-based refusal, the majority-vote compliance
judge, the StrongREJECT-style graded judge, and the reasoning-trace motivation classifier."""

from .judge import compliance_judge
from .motivation import MotivationOptions, motivation_classifier
from .refusal import refusal_scorer
from .strongreject import strongreject_judge
from .verdicts import VerdictOptions, verdict_scorers
from .votes import VoteOptions

__all__ = [
    "MotivationOptions",
    "VerdictOptions",
    "VoteOptions",
    "compliance_judge",
    "motivation_classifier",
    "refusal_scorer",
    "strongreject_judge",
    "verdict_scorers",
]
