"""Inspect entry point: makes ``inspect eval compliance_gap/free_tier`` work."""

# ruff: noqa: F401
from .tasks import free_tier, paid_tier
from .scorers import compliance_judge, motivation_classifier, refusal_scorer, strongreject_judge
from .paired import paired
