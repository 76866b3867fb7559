"""Split a ``<think>`` reasoning trace from the final answer.

Judges must see the answer, not the deliberation; the trace stays in the log for the
motivation classifier and for reading.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN, CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class SplitOutput:
    trace: str | None  # None when the output has no reasoning markup
    answer: str
    unclosed: bool = False  # reasoning began but never ended (usually truncation)


def split_reasoning(text: str) -> SplitOutput:
    """Handle ``<think>..</think>``, a lone ``</think>`` (template opened the tag in the prompt),
    and an unclosed ``<think>`` (no answer was given)."""
    close = text.rfind(CLOSE)
    if close >= 0:
        head, answer = text[:close], text[close + len(CLOSE):]
        open_at = head.find(OPEN)
        trace = head[open_at + len(OPEN):] if open_at >= 0 else head
        return SplitOutput(trace=trace.strip(), answer=answer.strip())
    open_at = text.find(OPEN)
    if open_at >= 0:
        return SplitOutput(trace=text[open_at + len(OPEN):].strip(), answer=text[:open_at].strip(), unclosed=True)
    return SplitOutput(trace=None, answer=text.strip())
