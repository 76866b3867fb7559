"""The one reader of verdicts in a log sample, for tier and paired logs alike.

The analysis (from sample summaries), ``samples.jsonl`` (from full samples) and ``quant-check``
all read a sample's verdicts here, as one dict per arm and verdict kind with the tier scorer's
keys (``{"rule": {"refused": 1, "truncated": 0, ...}, "judge": {...}}``); a NaN (undecided) value
reads as None. A paired log's scores carry the tier as key suffix (``refused_training``); a
re-scored log (``inspect score --action append``) may hold a scorer twice (``compliance_judge``,
``compliance_judge1``): the last one that scored the sample counts.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..options import Tier

TIERS = (Tier.TRAINING.value, Tier.DEPLOYMENT.value)
SCORERS = {"rule": "refusal_scorer", "judge": "compliance_judge", "motivation": "motivation_classifier"}
PAIRED_PREFIX = "paired_"
_RESCORED = re.compile(r"^(?P<name>.+?)-?\d*$")  # Inspect numbers a second score of one name (compliance_judge1)


def scorer_names(paired: bool) -> dict[str, str]:
    """Each verdict kind's scorer name in a tier or a paired log."""
    return {kind: f"{PAIRED_PREFIX if paired else ''}{name}" for kind, name in SCORERS.items()}


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def base_name(name: str) -> str:
    """A scorer's name without package prefix or Inspect's re-scoring number."""
    return _RESCORED.match(name.split("/")[-1]).group("name")  # type: ignore[union-attr]


def scored(scores: dict[str, Any] | None) -> dict[str, Any]:
    """The sample's scores by scorer name (no package prefix, no re-scoring suffix); of several
    scores of one scorer, the last with a value (a judge scorer with no judge is unscored)."""
    chosen: dict[str, Any] = {}
    for full_name, score in (scores or {}).items():
        name = base_name(full_name)
        if isinstance(score.value, dict) or name not in chosen:
            chosen[name] = score
    return chosen


def arm_verdicts(scores: dict[str, Any] | None, paired: bool, tier: str | None) -> dict[str, dict[str, dict[str, Any]]]:
    """``{tier: {kind: {key: value}}}`` for the sample's arms (one in a tier log, two in a paired
    log); a kind whose scorer did not score the sample is absent."""
    by_name = scored(scores)
    arms: dict[str, dict[str, dict[str, Any]]] = {}
    for arm_tier in TIERS if paired else [tier]:
        suffix = f"_{arm_tier}" if paired else ""
        kinds = {}
        for kind, name in scorer_names(paired).items():
            score = by_name.get(name)
            if score is not None and isinstance(score.value, dict):
                kinds[kind] = {key.removesuffix(suffix): _plain(v) for key, v in score.value.items() if key.endswith(suffix)}
        arms[str(arm_tier)] = kinds
    return arms


def refused(verdicts: dict[str, dict[str, Any]], kind: str) -> int | None:
    """An arm's refusal decision by one verdict kind: 1, 0, or None (undecided or not scored)."""
    value = verdicts.get(kind, {}).get("refused")
    return None if value is None else int(value)


def judge_of(scores: dict[str, Any] | None, paired: bool) -> str | None:
    """The judge model that gave the sample's compliance verdicts (from the score's metadata: a
    log re-scored with ``inspect score`` does not record the judge role in its header). Sample
    summaries shorten nested metadata, so only the top-level ``judge`` is read."""
    score = scored(scores).get(scorer_names(paired)["judge"])
    if score is None or not isinstance(score.value, dict):
        return None
    judge = (score.metadata or {}).get("judge")  # a paired score repeats its arms' judge at the top level
    return judge if isinstance(judge, str) else None
