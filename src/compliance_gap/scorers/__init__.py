"""Scorers that turn an answer into a verdict: rule-based refusal, the majority-vote compliance
judge, the StrongREJECT-style graded judge, and the reasoning-trace motivation classifier."""

from .judge import compliance_judge, judge_score
from .motivation import MotivationOptions, motivation_classifier, motivation_score
from .refusal import refusal_scorer
from .strongreject import strongreject_judge, strongreject_score
from .verdicts import VerdictOptions, verdict_options, verdict_scorers
from .votes import VoteOptions

__all__ = [
    "MotivationOptions",
    "VerdictOptions",
    "VoteOptions",
    "compliance_judge",
    "judge_score",
    "motivation_classifier",
    "motivation_score",
    "refusal_scorer",
    "strongreject_judge",
    "strongreject_score",
    "verdict_options",
    "verdict_scorers",
]
