"""The verdict scorers of a task, from its task args.

Every task runs the rule-based refusal scorer, the compliance judge and the motivation
classifier. The judges look up the ``judge`` model role while scoring, so a judge bound in any of
Inspect's ways (``--model-role``, ``eval(model_roles=)``, ``eval_set``, ``inspect score``) is used,
even for a task object built before the eval; with none bound their scores are unscored ("no
judge bound: rule-based verdicts only"), never judged by the model under evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspect_ai.scorer import Scorer

from .judge import compliance_judge
from .motivation import MotivationOptions, motivation_classifier
from .refusal import refusal_scorer
from .votes import JUDGE_ROLE, VoteOptions

# the verdict scorers every task runs, in this order (summaries read the refusal scorer first)
SCORERS = {"refusal_scorer": refusal_scorer, "compliance_judge": compliance_judge, "motivation_classifier": motivation_classifier}


@dataclass(frozen=True)
class VerdictOptions:
    judge: VoteOptions
    motivation: MotivationOptions

    def metadata(self) -> dict[str, Any]:
        """What the eval's metadata records about its verdicts (``eval.metadata.verdicts``); the
        judge model itself is ``eval.model_roles.judge``, known only once the eval runs."""
        return {
            "judge_role": JUDGE_ROLE,
            "scorers": list(SCORERS),
            "compliance_judge": self.judge.as_dict(),
            "motivation_classifier": self.motivation.as_dict(),
        }


def scorer_args(options: VerdictOptions) -> dict[str, dict[str, Any]]:
    """Each verdict scorer's arguments, from the task's verdict options."""
    judge, motivation = options.judge, options.motivation
    return {
        "refusal_scorer": {},
        "compliance_judge": {"votes": judge.votes, "temperature": judge.temperature, "min_valid": judge.min_valid, "max_tokens": judge.max_tokens},
        "motivation_classifier": {
            "votes": motivation.votes, "threshold": motivation.threshold, "temperature": motivation.temperature,
            "min_valid": motivation.min_valid, "max_tokens": motivation.max_tokens,
        },
    }


def verdict_scorers(options: VerdictOptions) -> list[Scorer]:
    args = scorer_args(options)
    return [factory(**args[name]) for name, factory in SCORERS.items()]
