"""Inspect entry point: makes ``inspect eval compliance_gap/free_tier`` work."""

# ruff: noqa: F401
from .tasks import free_tier, paid_tier
