"""Judge votes: ask for them, read each reply into a vote, count them, decide, stop early.

A single judge call is noisy, so every judge verdict here is a vote over several replies. This
module is the one place that:
- asks a model for n replies (one call with ``num_choices`` where the provider honours it,
  otherwise concurrent calls), each bounded by ``max_tokens``;
- reads a reply into a vote (``parse.py``), or ``invalid`` with the reason; a call that raised
  is an invalid vote, ``error: <message>``, and a judge that keeps failing stops the run
  (``JUDGE_ERROR_LIMIT``) instead of leaving every answer undecided;
- turns the tally into a decision under a rule (``Plurality`` for the compliance judge,
  ``ShareAbove`` for the motivation classifier), with a minimum number of valid votes below which
  the decision is ``undecided``;
- stops asking once the votes still to come cannot change the decision (``Rule.sure``), so early
  stopping gives exactly the decision that all votes would have given.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from inspect_ai.model import GenerateConfig, Model
from inspect_ai.util import collect

from .parse import INVALID, MISSING, Vote

logger = logging.getLogger(__name__)

UNDECIDED = "undecided"
POSITIVE = "positive"
NEGATIVE = "negative"

# A verdict line and a few sentences fit in a few hundred tokens; a reasoning judge thinks first.
# Without a bound a rambling judge runs to the provider's default (Inspect's 2,048) on every vote.
DEFAULT_VOTE_MAX_TOKENS = 1024

# Failed judge calls in a row, with no valid vote between them, after which the judge is taken
# to be unusable (bad key, wrong model name) and the run stops with its error. Inspect retries
# passing faults itself and turns context overflow and content filtering into replies, so a
# call that still raises is almost always a judge that cannot work.
JUDGE_ERROR_LIMIT = 3

# a reply that names no label because it was stopped early: say so, not "no verdict line"
STOPPED = {"max_tokens": "cut off", "model_length": "cut off", "content_filter": "content filter"}

# models seen to return fewer choices than asked for (or to reject num_choices): ask them one by one
_SINGLE_CHOICE_MODELS: set[str] = set()

# per judge model: its failed calls in a row with no valid vote between them
_FAILING: WeakKeyDictionary[Model, int] = WeakKeyDictionary()


class JudgeUnavailable(RuntimeError):
    """The judge failed ``JUDGE_ERROR_LIMIT`` calls in a row: the run stops with its error."""


@dataclass(frozen=True)
class VoteOptions:
    """How many votes to ask for and how to sample them."""

    votes: int = 1
    temperature: float | None = None  # None: 1.0 when votes > 1 (votes must differ), else 0
    min_valid: int | None = None  # None: half of the votes, rounded up
    early_stop: bool = True
    max_tokens: int = DEFAULT_VOTE_MAX_TOKENS  # per vote; overrides any max_tokens of the judge role

    def __post_init__(self) -> None:
        if not isinstance(self.votes, int) or isinstance(self.votes, bool) or self.votes < 1:
            raise ValueError(f"votes must be a whole number of at least 1 (got {self.votes!r})")
        if self.temperature is not None and not 0 <= float(self.temperature) <= 2:
            raise ValueError(f"temperature must be between 0 and 2 (got {self.temperature!r})")
        if self.min_valid is not None and not 1 <= self.min_valid <= self.votes:
            raise ValueError(f"min_valid must be between 1 and the number of votes, {self.votes} (got {self.min_valid!r})")
        if not isinstance(self.max_tokens, int) or isinstance(self.max_tokens, bool) or self.max_tokens < 1:
            raise ValueError(f"max_tokens must be a whole number of at least 1 (got {self.max_tokens!r})")

    @property
    def valid_needed(self) -> int:
        return self.min_valid if self.min_valid is not None else (self.votes + 1) // 2

    @property
    def sampling_temperature(self) -> float:
        if self.temperature is not None:
            return float(self.temperature)
        return 1.0 if self.votes > 1 else 0.0

    def generate_config(self) -> GenerateConfig:
        # With several votes, a response cache would hand back the same reply for every vote.
        return GenerateConfig(
            temperature=self.sampling_temperature, max_tokens=self.max_tokens, cache=False if self.votes > 1 else None
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "votes": self.votes,
            "temperature": self.sampling_temperature,
            "min_valid": self.valid_needed,
            "early_stop": self.early_stop,
            "max_tokens": self.max_tokens,
        }


def whole_number(name: str, value: Any) -> int:
    """A task argument that must be a whole number (``-T`` may pass it as a string)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number (got {value!r})") from None
    if not number.is_integer():
        raise ValueError(f"{name} must be a whole number (got {value!r})")
    return int(number)


class Rule(Protocol):
    """A decision rule over a tally of votes (labels plus ``invalid``)."""

    votes: int

    def decide(self, tally: Counter[str]) -> str: ...

    def sure(self, tally: Counter[str], remaining: int) -> str | None:
        """The decision if no ``remaining`` further votes can change it, else None."""
        ...

    def describe(self) -> str: ...


def _valid(tally: Counter[str]) -> int:
    return sum(n for label, n in tally.items() if label != INVALID)


@dataclass(frozen=True)
class Plurality:
    """The label with strictly the most valid votes; a tie, or fewer than ``min_valid`` valid
    votes, is undecided."""

    labels: tuple[str, ...]
    votes: int
    min_valid: int

    def decide(self, tally: Counter[str]) -> str:
        if _valid(tally) < self.min_valid:
            return UNDECIDED
        top = max(tally[label] for label in self.labels)
        leaders = [label for label in self.labels if tally[label] == top]
        return leaders[0] if len(leaders) == 1 else UNDECIDED

    def _rival(self, tally: Counter[str], label: str) -> int:
        return max((tally[other] for other in self.labels if other != label), default=0)

    def sure(self, tally: Counter[str], remaining: int) -> str | None:
        valid = _valid(tally)
        # A label is certain when it leads even if every remaining vote goes to its strongest rival.
        for label in self.labels:
            if valid >= self.min_valid and tally[label] > self._rival(tally, label) + remaining:
                return label
        # If no label can still win (even with every remaining vote), the result is undecided.
        can_win = [
            label
            for label in self.labels
            if tally[label] + remaining > self._rival(tally, label) and valid + remaining >= self.min_valid
        ]
        return UNDECIDED if not can_win else None

    def describe(self) -> str:
        return (
            f"plurality of valid votes ({'/'.join(self.labels)}) out of {self.votes}; "
            f"at least {self.min_valid} valid votes needed; ties and fewer valid votes are undecided; "
            "invalid votes (no verdict, or a failed call) count as no label"
        )


@dataclass(frozen=True)
class ShareAbove:
    """Positive when ``positive`` has more than ``threshold`` of the valid votes (exactly the
    threshold is negative); fewer than ``min_valid`` valid votes is undecided."""

    labels: tuple[str, ...]
    positive: str
    threshold: float
    votes: int
    min_valid: int
    _threshold: Fraction = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= float(self.threshold) < 1:
            raise ValueError(f"threshold must be at least 0 and below 1 (got {self.threshold!r})")
        # exact arithmetic, so that a share of exactly the threshold is never "above" it by rounding
        object.__setattr__(self, "_threshold", Fraction(str(self.threshold)))

    def _above(self, positive: int, valid: int) -> bool:
        return positive > self._threshold * valid

    def decide(self, tally: Counter[str]) -> str:
        valid = _valid(tally)
        if valid < self.min_valid:
            return UNDECIDED
        return POSITIVE if self._above(tally[self.positive], valid) else NEGATIVE

    def sure(self, tally: Counter[str], remaining: int) -> str | None:
        valid, positive = _valid(tally), tally[self.positive]
        reachable = valid + remaining >= self.min_valid
        possible = set()
        if valid < self.min_valid:  # every remaining vote invalid
            possible.add(UNDECIDED)
        if reachable and self._above(positive + remaining, valid + remaining):  # all remaining positive
            possible.add(POSITIVE)
        if reachable and not self._above(positive, valid + remaining):  # all remaining valid, not positive
            possible.add(NEGATIVE)
        return possible.pop() if len(possible) == 1 else None

    def describe(self) -> str:
        return (
            f"positive when '{self.positive}' has more than {self.threshold:.0%} of the valid votes "
            f"(exactly {self.threshold:.0%} is negative) out of {self.votes}; at least {self.min_valid} "
            "valid votes needed, else undecided; invalid votes count as no label"
        )


def next_batch(rule: Rule, votes: Sequence[str], labels: Sequence[str]) -> int:
    """The fewest further votes that could settle the decision (if they all agreed)."""
    tally = Counter(votes)
    remaining = rule.votes - len(votes)
    for size in range(1, remaining):
        for label in (*labels, INVALID):
            if rule.sure(tally + Counter({label: size}), remaining - size) is not None:
                return size
    return remaining


@dataclass
class Ballot:
    """The votes asked for one answer and the decision they give."""

    votes: list[str]
    decision: str
    rule: str
    labels: tuple[str, ...]
    votes_requested: int
    errors: list[str] = field(default_factory=list)
    invalid_reasons: list[str] = field(default_factory=list)  # one per invalid vote, in vote order

    @property
    def shares(self) -> dict[str, float]:
        """Each label's share of the valid votes (empty when none is valid)."""
        tally = Counter(self.votes)
        valid = _valid(tally)
        return {label: tally[label] / valid for label in self.labels} if valid else {}

    def metadata(self) -> dict[str, Any]:
        return {
            "votes": self.votes,
            "shares": self.shares,
            "rule": self.rule,
            "votes_used": len(self.votes),
            "votes_requested": self.votes_requested,
            "invalid_votes": self.votes.count(INVALID),
            "invalid_reasons": self.invalid_reasons,
            "decision": self.decision,
            "errors": self.errors,
        }


@dataclass
class Reply:
    """One judge reply: its text and stop reason, or the error its call raised."""

    text: str | None  # None when the call failed
    stop_reason: str | None = None
    error: Exception | None = None

    @property
    def error_message(self) -> str | None:
        return None if self.error is None else f"{type(self.error).__name__}: {self.error}"

    def why_invalid(self, reason: str | None) -> str:
        """Why this reply gives no vote, given why its text (if any) was read as none."""
        if self.error is not None:
            return f"error: {self.error_message}"
        if reason in MISSING and self.stop_reason in STOPPED:
            return STOPPED[self.stop_reason]
        return reason or "invalid"


async def ask(model: Model, prompt: str, n: int, config: GenerateConfig, first_vote: int = 0) -> list[Reply]:
    """n replies to ``prompt``: one ``num_choices`` call where the provider honours it, else
    (or for what it left out) concurrent single calls. A failed call is a reply with an error.
    A judge bound with a fixed seed gets seed + vote number, so that its votes can differ."""
    replies: list[Reply] = []
    key = str(model)

    def vote_config(vote: int, **extra: Any) -> GenerateConfig:
        seed = None if model.config.seed is None else model.config.seed + vote
        return config.merge(GenerateConfig(seed=seed, **extra))

    if n > 1 and key not in _SINGLE_CHOICE_MODELS:
        try:
            output = await model.generate(prompt, config=vote_config(first_vote, num_choices=n))
            replies = [Reply(choice.message.text, choice.stop_reason) for choice in output.choices[:n]]
        except Exception as error:  # noqa: BLE001 - retried below as single calls
            if key not in _SINGLE_CHOICE_MODELS:
                logger.warning("judge %s failed a num_choices=%d call (%s); asking one vote per call", key, n, error)
        if len(replies) < n:
            _SINGLE_CHOICE_MODELS.add(key)

    async def one(vote: int) -> Reply:
        try:
            output = await model.generate(prompt, config=vote_config(vote))
        except Exception as error:  # noqa: BLE001 - an invalid vote; watch() stops a judge that keeps failing
            logger.warning("judge %s call failed, counted as an invalid vote: %s: %s", key, type(error).__name__, error)
            return Reply(None, error=error)
        if not output.choices:
            return Reply(None, error=RuntimeError("the judge returned no choices"))
        return Reply(output.message.text, output.stop_reason)

    start = first_vote + len(replies)
    return replies + await collect(*(one(start + i) for i in range(n - len(replies))))


def watch(model: Model, replies: Sequence[Reply], valid: Sequence[bool]) -> None:
    """Count the judge's failed calls in a row (a valid vote resets the count) and raise
    ``JudgeUnavailable``, with the judge's own error, once they reach ``JUDGE_ERROR_LIMIT``."""
    failed: Reply | None = None
    for reply, ok in zip(replies, valid, strict=True):
        if ok:
            _FAILING[model] = 0
        elif reply.error is not None:
            _FAILING[model] = _FAILING.get(model, 0) + 1
            failed = reply
    count = _FAILING.get(model, 0)
    if failed is not None and count >= JUDGE_ERROR_LIMIT:
        raise JudgeUnavailable(
            f"the judge {model} failed {count} calls in a row with no valid vote between them, so it cannot "
            f"judge this run (check the judge's model name, API key and endpoint): {failed.error_message}"
        ) from failed.error


def check_sampling(model: Model, options: VoteOptions) -> None:
    """The ``hf/`` provider samples or decodes greedily for every call (its ``do_sample`` model
    arg), whatever the temperature: refuse the two settings that would break a vote."""
    if not str(model).startswith("hf/"):
        return
    do_sample = getattr(model.api, "do_sample", True)
    if do_sample and options.sampling_temperature == 0:
        raise ValueError(
            f"the hf/ judge {model} samples (do_sample=true) and cannot decode at temperature 0: ask for "
            "more than one vote (temperature 1.0), set a temperature above 0, or bind a judge with "
            "model arg do_sample=false for single greedy votes"
        )
    if not do_sample and options.votes > 1:
        raise ValueError(
            f"the hf/ judge {model} decodes greedily (do_sample=false), so its {options.votes} votes would "
            "all be the same reply: bind the judge without do_sample=false, or ask for one vote"
        )


async def poll(
    model: Model,
    prompt: str,
    rule: Rule,
    labels: tuple[str, ...],
    parse: Callable[[str], Vote],
    options: VoteOptions,
) -> Ballot:
    """Ask for votes in batches until all ``rule.votes`` are in or (with early stopping) the
    rest cannot change the decision."""
    check_sampling(model, options)
    votes: list[str] = []
    reasons: list[str] = []
    errors: list[str] = []
    config = options.generate_config()
    while len(votes) < rule.votes:
        if options.early_stop and rule.sure(Counter(votes), rule.votes - len(votes)) is not None:
            break
        size = next_batch(rule, votes, labels) if options.early_stop else rule.votes - len(votes)
        replies = await ask(model, prompt, size, config, first_vote=len(votes))
        read = [Vote(INVALID) if reply.text is None else parse(reply.text) for reply in replies]
        watch(model, replies, [vote.valid for vote in read])
        for reply, vote in zip(replies, read, strict=True):
            votes.append(vote.label)
            if not vote.valid:
                reasons.append(reply.why_invalid(vote.reason))
            if reply.error is not None:
                errors.append(reply.error_message)
    return Ballot(
        votes=votes,
        decision=rule.decide(Counter(votes)),
        rule=rule.describe(),
        labels=labels,
        votes_requested=rule.votes,
        errors=errors,
        invalid_reasons=reasons,
    )
