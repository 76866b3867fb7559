"""Judge votes on Inspect's own pieces: each vote is one judge call (``judge_vote``), Inspect's
``multi_scorer`` asks for all of them at once, and a ``@score_reducer`` counts them.

A single judge call is noisy, so every judge verdict is a vote over several replies. The
reducers here drop invalid votes (no verdict, negated, ambiguous, cut off, or a failed call, each
with its reason) and decide only with enough valid ones; otherwise the decision is ``undecided``,
which the scorers record as a value Inspect's metrics skip, never as a compliance.

The judge is the ``judge`` model role, looked up while scoring (``bound_judge``), so a role bound
in any of Inspect's ways is used, and never the model under evaluation. A judge that cannot work
(bad key, wrong model name) stops the run with its own error (``check_health``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from weakref import WeakKeyDictionary

from inspect_ai.model import GenerateConfig, Model, get_model, model_roles
from inspect_ai.scorer import Score, Scorer, ScoreReducer, Target, multi_scorer, score_reducer
from inspect_ai.solver import TaskState

from .parse import INVALID, MISSING, Vote

JUDGE_ROLE = "judge"
UNDECIDED = "undecided"
POSITIVE = "positive"
NEGATIVE = "negative"

# A verdict line and a few sentences fit in a few hundred tokens; a reasoning judge thinks first.
# Without a bound a rambling judge runs to the provider's default (Inspect's 2,048) on every vote.
DEFAULT_VOTE_MAX_TOKENS = 1024

# Failed judge calls in a row, with no valid vote between them, after which a judge that has
# worked before is taken to be unusable. Inspect retries passing faults itself and turns context
# overflow and content filtering into replies, so a call that still raises is almost always a
# judge that cannot work.
JUDGE_ERROR_LIMIT = 3

# a reply that names no label because it was stopped early: say so, not "no verdict line"
STOPPED = {"max_tokens": "cut off", "model_length": "cut off", "content_filter": "content filter"}

NO_JUDGE = (
    "no judge bound: rule-based verdicts only (bind one with --model-role judge=PROVIDER/MODEL, "
    "or model_roles={'judge': ...} in eval(), eval_set() or inspect score)"
)


class JudgeUnavailable(RuntimeError):
    """The judge cannot work: the run stops with its error instead of leaving answers undecided."""


@dataclass(frozen=True)
class VoteOptions:
    """How many votes to ask for, how to sample them, and how many must be valid."""

    votes: int = 1
    temperature: float | None = None  # None: 1.0 when votes > 1 (votes must differ), else 0
    min_valid: int | None = None  # None: half of the votes, rounded up
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "votes": self.votes,
            "temperature": self.sampling_temperature,
            "min_valid": self.valid_needed,
            "max_tokens": self.max_tokens,
        }


def bound_judge() -> Model | None:
    """The model bound to the ``judge`` role, or None. Looked up while scoring: roles given to
    ``eval()`` are not visible while a task is built. Unlike ``get_model(role="judge")`` alone,
    this never falls back to the model under evaluation."""
    return get_model(role=JUDGE_ROLE) if JUDGE_ROLE in model_roles() else None


def no_judge_score(state: TaskState) -> Score:
    """A judge scorer with no judge bound: unscored (Inspect's metrics skip it), saying why."""
    return Score.unscored(reason="no judge", explanation=NO_JUDGE, metadata={"tier": state.metadata.get("tier"), "judge": None})


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


def judge_vote(prompt: Callable[[TaskState], str], read: Callable[[str], Vote], options: VoteOptions, number: int) -> Scorer:
    """One vote: one judge call, its reply read into a label, or ``invalid`` with the reason
    (``error: ...`` when the call raised). A judge bound with a fixed seed gets seed + vote number,
    so that its votes can differ; with several votes the response cache is off for the same reason."""

    async def vote(state: TaskState, target: Target) -> Score:
        judge = get_model(role=JUDGE_ROLE)
        config = GenerateConfig(
            temperature=options.sampling_temperature,
            max_tokens=options.max_tokens,
            cache=False if options.votes > 1 else None,
            seed=None if judge.config.seed is None else judge.config.seed + number,
        )
        try:
            output = await judge.generate(prompt(state), config=config)
        except Exception as error:  # noqa: BLE001 - an invalid vote; check_health stops a judge that keeps failing
            message = f"{type(error).__name__}: {error}"
            return Score(value=INVALID, explanation=f"error: {message}", metadata={"reason": f"error: {message}", "error": message})
        reply = output.completion if output.choices else ""
        vote_read = read(reply) if output.choices else Vote(INVALID, "no choices")
        reason = vote_read.reason
        if not vote_read.valid and reason in MISSING and output.stop_reason in STOPPED:
            reason = STOPPED[output.stop_reason]
        return Score(value=vote_read.label, answer=reply, explanation=reason, metadata={"reason": reason, "error": None})

    return vote


def ballot(prompt: Callable[[TaskState], str], read: Callable[[str], Vote], options: VoteOptions, reducer: ScoreReducer) -> Scorer:
    """All the votes of one answer: ``options.votes`` judge calls, run by Inspect's ``multi_scorer``
    and counted by ``reducer``."""
    return multi_scorer([judge_vote(prompt, read, options, n) for n in range(options.votes)], reducer)


def ballot_metadata(votes: list[Score], labels: Sequence[str], decision: str, rule: str) -> dict[str, Any]:
    """The votes behind a decision, as the score's metadata records them (docs/log-format.md)."""
    values = [str(v.value) if v.value in labels else INVALID for v in votes]
    tally = Counter(value for value in values if value != INVALID)
    valid = sum(tally.values())
    meta = [v.metadata or {} for v in votes]
    return {
        "votes": values,
        "shares": {label: tally[label] / valid for label in labels} if valid else {},
        "rule": rule,
        "votes_used": len(votes),
        "invalid_votes": len(votes) - valid,
        "invalid_reasons": [m.get("reason") or "invalid" for m, value in zip(meta, values, strict=True) if value == INVALID],
        "errors": [m["error"] for m in meta if m.get("error")],
        "decision": decision,
    }


@score_reducer(name="plurality_of_valid_votes")
def plurality(labels: list[str], min_valid: int) -> ScoreReducer:
    """The label with strictly the most valid votes; a tie, or fewer than ``min_valid`` valid
    votes, is undecided. Invalid votes count as no label."""
    rule = (
        f"plurality of valid votes ({'/'.join(labels)}); at least {min_valid} valid votes needed; "
        "ties and fewer valid votes are undecided; invalid votes (no verdict, or a failed call) count as no label"
    )

    def reduce(votes: list[Score]) -> Score:
        tally = Counter(v.value for v in votes if v.value in labels)
        top = max(tally.values(), default=0)
        leaders = [label for label in labels if tally[label] == top]
        decision = leaders[0] if sum(tally.values()) >= min_valid and len(leaders) == 1 else UNDECIDED
        return Score(value=decision, metadata=ballot_metadata(votes, labels, decision, rule))

    return reduce


@score_reducer(name="share_of_valid_votes_above")
def share_above(labels: list[str], positive: str, threshold: float, min_valid: int) -> ScoreReducer:
    """Positive when ``positive`` has more than ``threshold`` of the valid votes (exactly the
    threshold is negative, in exact arithmetic); fewer than ``min_valid`` valid votes is undecided."""
    if not 0 <= float(threshold) < 1:
        raise ValueError(f"threshold must be at least 0 and below 1 (got {threshold!r})")
    exact = Fraction(str(threshold))
    rule = (
        f"positive when '{positive}' has more than {threshold:.0%} of the valid votes (exactly {threshold:.0%} is "
        f"negative); at least {min_valid} valid votes needed, else undecided; invalid votes count as no label"
    )

    def reduce(votes: list[Score]) -> Score:
        tally = Counter(v.value for v in votes if v.value in labels)
        valid = sum(tally.values())
        if valid < min_valid:
            decision = UNDECIDED
        else:
            decision = POSITIVE if tally[positive] > exact * valid else NEGATIVE
        return Score(value=decision, metadata=ballot_metadata(votes, labels, decision, rule))

    return reduce


# per judge model: whether it has given a valid vote in this process, and its failed calls in a row
_WORKED: WeakKeyDictionary[Model, bool] = WeakKeyDictionary()
_FAILING: WeakKeyDictionary[Model, int] = WeakKeyDictionary()


def check_health(model: Model, ballot: dict[str, Any]) -> None:
    """Stop the run with the judge's own error when it cannot work: at the first answer whose
    every vote failed if it has never given a valid vote, else after ``JUDGE_ERROR_LIMIT`` failed
    calls in a row. Otherwise a broken judge would leave every answer undecided, "successfully"."""
    if ballot["invalid_votes"] < ballot["votes_used"]:
        _WORKED[model], _FAILING[model] = True, 0
        return
    errors = ballot["errors"]
    if not errors:  # replies that gave no verdict: the judge answers, it is not broken
        return
    _FAILING[model] = _FAILING.get(model, 0) + len(errors)
    never_worked = not _WORKED.get(model) and len(errors) == ballot["votes_used"]
    if never_worked or _FAILING[model] >= JUDGE_ERROR_LIMIT:
        history = "has given no valid vote in this run" if never_worked else f"failed {_FAILING[model]} calls in a row"
        raise JudgeUnavailable(
            f"the judge {model} {history}, so it cannot judge this run (check the judge's model name, "
            f"API key and endpoint): {errors[-1]}"
        )


async def run_ballot(judge: Model, ballot: Scorer, state: TaskState, target: Target, options: VoteOptions) -> Score:
    """Ask for the votes and count them (``ballot`` is a ``multi_scorer`` of ``judge_vote``s):
    the reducer's score, its metadata holding the votes and the ``decision``."""
    check_sampling(judge, options)
    counted = await ballot(state, target)
    check_health(judge, counted.metadata or {})
    return counted
