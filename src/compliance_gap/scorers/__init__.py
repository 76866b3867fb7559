"""Scorers that turn an answer into a verdict (refused or not)."""

from .refusal import refusal_scorer

__all__ = ["refusal_scorer"]
