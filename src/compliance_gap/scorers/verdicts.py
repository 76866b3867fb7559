"""Which verdict scorers a task runs, decided once from its task args and the eval's model roles.

The rule-based refusal scorer always runs. The compliance judge and the motivation classifier
run only when a ``judge`` model role is bound when the task is built (``inspect eval ...
--model-role judge=MODEL``); without one the eval metadata says the verdicts are rule-based
only, rather than letting the judge silently default to the model under evaluation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from inspect_ai.scorer import Scorer

from .judge import DEFAULT_JUDGE_VOTES, compliance_judge, judge_in_roles
from .motivation import DEFAULT_MOTIVATION_VOTES, DEFAULT_THRESHOLD, MotivationOptions, motivation_classifier
from .refusal import refusal_scorer
from .votes import VoteOptions, whole_number

logger = logging.getLogger(__name__)

NO_JUDGE_NOTE = (
    "no 'judge' model role: rule-based refusal verdicts only "
    "(pass --model-role judge=PROVIDER/MODEL for the compliance judge and the motivation classifier)"
)


@dataclass(frozen=True)
class VerdictOptions:
    judge: VoteOptions
    motivation: MotivationOptions
    judge_model: str | None  # the `judge` role when the task was built; None: rule-based only

    def metadata(self) -> dict[str, Any]:
        """What the eval's metadata records about its verdicts (``eval.metadata.verdicts``)."""
        if self.judge_model is None:
            return {"judge": None, "scorers": ["refusal_scorer"], "note": NO_JUDGE_NOTE}
        return {
            "judge": self.judge_model,
            "scorers": ["refusal_scorer", "compliance_judge", "motivation_classifier"],
            "compliance_judge": self.judge.as_dict(),
            "motivation_classifier": self.motivation.as_dict(),
        }


def _number(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number (got {value!r})") from None


def _named(name: str, build):
    """Build options, naming the task argument in any error."""
    try:
        return build()
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def verdict_options(
    judge_votes: int = DEFAULT_JUDGE_VOTES,
    judge_temperature: float | None = None,
    motivation_votes: int = DEFAULT_MOTIVATION_VOTES,
    motivation_threshold: float = DEFAULT_THRESHOLD,
) -> VerdictOptions:
    """Parse the verdict task args and look up the ``judge`` role (call while the task is built)."""
    votes = whole_number("judge_votes", judge_votes)
    temperature = None if judge_temperature in (None, "", "none", "None") else _number("judge_temperature", judge_temperature)
    classifier_votes = whole_number("motivation_votes", motivation_votes)
    threshold = _number("motivation_threshold", motivation_threshold)
    judge = _named("judge_votes/judge_temperature", lambda: VoteOptions(votes=votes, temperature=temperature))
    motivation = _named(
        "motivation_votes/motivation_threshold",
        lambda: MotivationOptions(votes=classifier_votes, threshold=threshold),
    )
    model = judge_in_roles()
    if model is None:
        logger.warning("%s", NO_JUDGE_NOTE)
    return VerdictOptions(judge=judge, motivation=motivation, judge_model=None if model is None else str(model))


def verdict_scorers(options: VerdictOptions) -> list[Scorer]:
    """The refusal scorer first (summaries read it first), then the judge scorers if a judge is bound."""
    scorers = [refusal_scorer()]
    if options.judge_model is not None:
        judge, motivation = options.judge, options.motivation
        scorers += [
            compliance_judge(
                votes=judge.votes,
                temperature=judge.temperature,
                min_valid=judge.min_valid,
                early_stop=judge.early_stop,
                max_tokens=judge.max_tokens,
            ),
            motivation_classifier(
                votes=motivation.votes,
                threshold=motivation.threshold,
                temperature=motivation.temperature,
                min_valid=motivation.min_valid,
                early_stop=motivation.early_stop,
                max_tokens=motivation.max_tokens,
            ),
        ]
    return scorers
