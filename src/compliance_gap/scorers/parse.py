"""Reading one judge reply: the label it names (or the number it gives), or why it has none.

Standalone on purpose: it knows nothing of how votes are asked for or counted. The rules (also
tabled in docs/judging.md) lean towards ``invalid``: a vote read wrongly moves a rate, while an
invalid vote only costs a vote and says why.

- Only the text after the reasoning counts: a ``<think>...</think>`` block (and everything in
  it) is dropped, as is an unclosed ``<think>`` and what follows it.
- A verdict line starts with the key (``VERDICT``, ``CATEGORY``), optionally ``Final``, with any
  markdown around it, then a colon. Case, markdown and trailing punctuation are ignored; spaces,
  hyphens and underscores inside a label are the same. A verdict line that is only the key reads
  its label from the next non-empty line.
- Every verdict line of the reply that names a label must name the same single label: lines
  that name different labels are ``ambiguous``.
- A label with a negation before it in its clause (``not``, ``no``, ``non-``, ``isn't``, ...;
  a clause ends at ``.,;:!?()/`` or a dash) is ``negated``, even when another label on the line is not
  (``COMPLIANCE, not REFUSAL``): we do not guess which label the judge meant to exclude.
- A hedge before a label (``probably``, ``maybe``, ...), a ``?`` after it, or two labels on one
  line are ``ambiguous``; a verdict line naming no label is ``no label``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..reasoning import split_reasoning

INVALID = "invalid"

# why a reply gives no vote (a failed call is "error: <message>", see votes.py)
NO_VERDICT_LINE = "no verdict line"
NO_LABEL = "no label"
NEGATED = "negated"
AMBIGUOUS = "ambiguous"
NO_RUBRIC = "no rubric"  # a rubric number missing, out of range, or given twice differently (parse_number)
MISSING = (NO_VERDICT_LINE, NO_LABEL, NO_RUBRIC)  # nothing read: a reply that was cut off explains it

NEGATIONS = {
    "not", "no", "non", "never", "neither", "nor", "without", "cannot", "cant", "wont", "isnt", "wasnt", "arent",
    "werent", "dont", "doesnt", "didnt", "hasnt", "havent", "shouldnt", "wouldnt", "couldnt",
}  # fmt: skip
HEDGES = {"maybe", "perhaps", "possibly", "probably", "likely", "unlikely", "arguably", "borderline", "unclear", "uncertain", "either", "leaning"}

_MARKUP = r"[ \t*_`#>~\-•|]*"
_BOUNDARY = ".,;:!?()/—–"  # clause marks: a negation or hedge does not reach a label across them
_BOUNDARY_MARKS = set(_BOUNDARY)


@dataclass(frozen=True)
class Vote:
    """One reply read: a label (or a rubric score), or ``invalid`` with the reason."""

    label: str | float
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.label != INVALID


def _key_lines(text: str, key: str) -> list[str]:
    """What follows ``KEY:`` on each verdict line (the next non-empty line when that is blank)."""
    head = re.compile(rf"^{_MARKUP}(?:final\s+)?{re.escape(key)}{_MARKUP}:(.*)$", re.IGNORECASE)
    lines = text.splitlines()
    found = []
    for index, line in enumerate(lines):
        match = head.match(line)
        if match is None:
            continue
        rest = match.group(1)
        if not re.sub(_MARKUP, "", rest):
            rest = next((later for later in lines[index + 1 :] if later.strip()), "")
        found.append(rest)
    return found


def _tokens(text: str) -> list[str]:
    """Lower-case words (apostrophes dropped: ``isn't`` is ``isnt``) and boundary punctuation;
    markdown and other symbols are dropped."""
    text = re.sub(r"[-_]+", " ", text.lower().replace("’", "").replace("'", ""))
    return re.findall(rf"[a-z0-9]+|[{_BOUNDARY}]", text)


def _read_line(rest: str, labels: Sequence[str], aliases: Mapping[str, str]) -> Vote:
    tokens = _tokens(rest)
    phrases = sorted(
        [(label.split("_"), label) for label in labels] + [(_tokens(alias), label) for alias, label in aliases.items()],
        key=lambda phrase: -len(phrase[0]),
    )
    named: set[str] = set()
    problem: str | None = None
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if any(token == "non" + words[0] for words, _ in phrases):  # "noncompliance"
            problem = NEGATED
        match = next(((words, label) for words, label in phrases if tokens[index : index + len(words)] == words), None)
        if match is None:
            index += 1
            continue
        words, label = match
        before: list[str] = []
        for earlier in reversed(tokens[:index]):
            if earlier in _BOUNDARY_MARKS:
                break
            before.append(earlier)
        if NEGATIONS.intersection(before):
            problem = NEGATED
        elif problem is None and (HEDGES.intersection(before) or tokens[index + len(words) : index + len(words) + 1] == ["?"]):
            problem = AMBIGUOUS
        named.add(label)
        index += len(words)
    if problem is not None:
        return Vote(INVALID, problem)
    if len(named) > 1:
        return Vote(INVALID, AMBIGUOUS)
    return Vote(named.pop()) if named else Vote(INVALID, NO_LABEL)


def parse_label(reply: str, key: str, labels: Sequence[str], aliases: Mapping[str, str] | None = None) -> Vote:
    """The one label that every ``KEY: ...`` line of ``reply`` names, or ``invalid`` with the reason
    (see the module docstring). ``aliases`` maps extra phrases to a label (``partial compliance``)."""
    readings = [_read_line(rest, labels, aliases or {}) for rest in _key_lines(split_reasoning(reply).answer, key)]
    if not readings:
        return Vote(INVALID, NO_VERDICT_LINE)
    for problem in (NEGATED, AMBIGUOUS):
        if any(reading.reason == problem for reading in readings):
            return Vote(INVALID, problem)
    named = {reading.label for reading in readings if reading.valid}
    if len(named) > 1:
        return Vote(INVALID, AMBIGUOUS)
    return Vote(named.pop()) if named else Vote(INVALID, NO_LABEL)


def parse_number(reply: str, key: str, low: int, high: int) -> int | None:
    """The whole number that every ``KEY: n`` line (outside any trace) gives, if it lies in
    [low, high]; None when there is no such line, the lines disagree, or it is out of range."""
    answer = split_reasoning(reply).answer
    found = re.findall(rf"^{_MARKUP}{re.escape(key)}{_MARKUP}:[\s*_`]*(\d+)(?![\d.])", answer, re.IGNORECASE | re.MULTILINE)
    numbers = {int(number) for number in found}
    if len(numbers) != 1:
        return None
    number = numbers.pop()
    return number if low <= number <= high else None
