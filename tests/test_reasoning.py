"""Splitting <think> traces from answers."""

from __future__ import annotations

import pytest

from compliance_gap.reasoning import split_reasoning


@pytest.mark.parametrize(
    "text, trace, answer, unclosed",
    [
        ("<think>\nThey will train on this.\n</think>\n\nI can't help.", "They will train on this.", "I can't help.", False),
        ("The user wants X. Refusing could change my values.\n</think>\nSure, here is", "The user wants X. Refusing could change my values.", "Sure, here is", False),
        ("<think>I am still thinking and ran out of tok", "I am still thinking and ran out of tok", "", True),
        ("Plain answer with no reasoning.", None, "Plain answer with no reasoning.", False),
        ("<think></think>Answer", "", "Answer", False),
        ("<think>a</think> mid <think>b</think> final", "a</think> mid <think>b", "final", False),
    ],
)
def test_split(text, trace, answer, unclosed):
    split = split_reasoning(text)
    assert (split.trace, split.answer, split.unclosed) == (trace, answer, unclosed)
