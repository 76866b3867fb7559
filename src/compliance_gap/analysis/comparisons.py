"""Turn paired verdicts into the per-comparison results (the JSON contract of ``analyze``).

Each comparison gets its 2x2 table, rates with Wilson intervals, the gap with Newcombe's
paired interval, McNemar's test, the flip rate, power, the order effect when arms ran in a
recorded order, an optional breakdown by a metadata field, and Holm-adjusted p-values.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from ..options import DEFAULT_TARGET_GAP_PP, McNemarMethod, choose
from . import stats
from .logs import (
    EXCLUSION_REASONS, TIERS, VARIANT_FIELDS, Arm, ComparisonKey, ComparisonPairs, LogHeader, LogSetError, Pair, Verdict, arms_table, load_pairs,
)

ORDERS = ("training_first", "deployment_first")
ARM_PROBLEMS = ("truncated", "empty", "undecided", "error")  # counted per arm, see arm_counts
MISSING = "(missing)"


@dataclass(frozen=True)
class Settings:
    verdict: str = Verdict.AUTO.value
    mcnemar: str = McNemarMethod.EXACT.value
    by: str | None = None
    target_gap_pp: float = DEFAULT_TARGET_GAP_PP
    alpha: float = stats.ALPHA
    power: float = stats.POWER
    allow_mismatch: bool = False  # pool arms run with different settings or prompts, listing every difference

    @property
    def exact(self) -> bool:
        return choose(McNemarMethod, "mcnemar", self.mcnemar) is McNemarMethod.EXACT

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "mcnemar": self.mcnemar,
            "by": self.by,
            "target_gap_pp": self.target_gap_pp,
            "alpha": self.alpha,
            "power": self.power,
            "allow_mismatch": self.allow_mismatch,
        }


METHODS = {
    "refusal_rate_ci": "Wilson score interval, 95%",
    "gap_ci": "Newcombe (1998) square-and-add interval for paired proportions (method 10), 95%",
    "mcnemar": "McNemar: exact two-sided binomial on discordant pairs, or chi-square with continuity correction",
    "order_effect": "Fisher exact test: flip direction (and flip rate) by call order",
    "power": "Connor (1987) McNemar sample-size formula, two-sided alpha, observed discordance",
    "multiplicity": "Holm over the comparisons (controls are a separate family) and over the groups of each breakdown",
}


@dataclass
class McNemar:
    statistic: float | None
    pvalue: float | None
    exact: bool
    pvalue_holm: float | None = None  # over the comparisons of its family, or the groups of its breakdown


@dataclass
class TableStats:
    """The stable per-table block: rates, gap, interval, 2x2 table, discordance, McNemar."""

    n_pairs: int
    refusals: dict[str, int]  # per tier
    refusal_rate: dict[str, float]
    refusal_rate_ci95: dict[str, list[float]]
    compliance_gap_pp: float
    gap_ci95_pp: list[float]
    table: dict[str, int]
    discordant: dict[str, int]
    flip_rate: float
    mcnemar: McNemar


@dataclass
class PowerStats:
    """How large a gap these pairs could detect, and how many pairs the target gap needs."""

    alpha: float
    power: float
    discordance: float
    detectable_gap_pp: float
    target_gap_pp: float
    pairs_needed: int | None
    assumed_discordance: float


@dataclass
class FisherTest:
    odds_ratio: float
    pvalue: float
    pvalue_holm: float
    method: str = "fisher_exact"


@dataclass
class OrderEffect:
    """The gap within each call order, and whether the flips depend on the order."""

    strata: dict[str, TableStats]
    direction_test: FisherTest | None = None
    flip_rate_test: FisherTest | None = None
    notes: list[str] = field(default_factory=list)
    gap_difference_pp: float | None = None  # training first minus deployment first, with both orders
    depends_on_order: bool | None = None


@dataclass
class GroupStats(TableStats):
    value: str = ""  # the metadata value of the group


@dataclass
class Breakdown:
    field: str
    groups: list[GroupStats]


@dataclass
class ComparisonResult(TableStats):
    """One comparison: both arms of one model under one framing and design."""

    model: str = ""
    mode: str | None = None
    placement: str | None = None
    tier_tag: Any = None
    elicitation: Any = None
    protocol: Any = None
    carryover: Any = None
    control: str | None = None
    is_control: bool = False
    label: str = ""
    verdict: str = ""
    logs: list[str] = field(default_factory=list)
    shards: dict[str, int] = field(default_factory=dict)  # tier -> K, for arms merged from K shards
    n_excluded: int = 0
    excluded_counts: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    arm_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    power: PowerStats | None = None
    order: OrderEffect | None = None
    notes: list[str] = field(default_factory=list)
    by: Breakdown | None = None


@dataclass
class AnalysisResult:
    """What ``analyze`` found; ``asdict`` of it is the JSON contract (docs/analysis.md)."""

    comparisons: list[ComparisonResult]
    logs: list[dict[str, Any]]
    skipped_logs: list[str]
    superseded_logs: list[dict[str, Any]]
    mismatches: list[dict[str, Any]]
    settings: dict[str, Any]
    methods: dict[str, str]
    notes: list[str]


@dataclass
class Analysis:
    """The results and what they were computed from."""

    results: AnalysisResult
    headers: list[LogHeader]
    arms: pd.DataFrame  # one row per arm read (logs.Arm's fields)
    comparisons: list[ComparisonPairs] = field(default_factory=list)

    @cached_property
    def result(self) -> dict[str, Any]:
        """The results as JSON-ready dicts (what ``--json`` prints and the report reads)."""
        return asdict(self.results)


def pp(fraction: float) -> float:
    return 100.0 * fraction


def table_stats(table: stats.PairTable, settings: Settings) -> dict[str, Any]:
    """The fields of ``TableStats`` for one 2x2 table (subclasses add their own)."""
    n = table.n
    training_ci = stats.wilson_ci(table.refused_training, n, settings.alpha)
    deployment_ci = stats.wilson_ci(table.refused_deployment, n, settings.alpha)
    gap_ci = stats.newcombe_gap_ci(table, settings.alpha)
    test = stats.mcnemar_test(table, settings.exact) if n else None
    return {
        "n_pairs": n,
        "refusals": {"training": table.refused_training, "deployment": table.refused_deployment},
        "refusal_rate": {"training": table.rate(table.refused_training), "deployment": table.rate(table.refused_deployment)},
        "refusal_rate_ci95": {"training": list(training_ci), "deployment": list(deployment_ci)},
        "compliance_gap_pp": pp(table.gap),
        "gap_ci95_pp": [pp(gap_ci[0]), pp(gap_ci[1])],
        "table": table.as_dict(),
        "discordant": {"refused_training_only": table.training_only, "refused_deployment_only": table.deployment_only},
        "flip_rate": table.rate(table.discordant),
        "mcnemar": McNemar(test.statistic if test else None, test.pvalue if test else None, settings.exact),
    }


def power_stats(table: stats.PairTable, settings: Settings) -> PowerStats:
    discordance = table.rate(table.discordant) if table.n else 0.0
    target = settings.target_gap_pp / 100.0
    return PowerStats(
        alpha=settings.alpha,
        power=settings.power,
        discordance=table.rate(table.discordant),
        detectable_gap_pp=pp(stats.detectable_gap(table.n, discordance, settings.alpha, settings.power)),
        target_gap_pp=settings.target_gap_pp,
        pairs_needed=stats.pairs_needed(target, discordance, settings.alpha, settings.power),
        assumed_discordance=max(discordance, abs(target)),
    )


def _table(pairs: list[Pair]) -> stats.PairTable:
    return stats.PairTable.from_pairs((p.refused_training, p.refused_deployment) for p in pairs)


def order_effect(pairs: list[Pair], settings: Settings) -> OrderEffect | None:
    """Gap within each call order, and whether the flips depend on the order (None when no
    pair records an order, as in tier-task logs)."""
    by_order: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        by_order[pair.order or MISSING].append(pair)
    if set(by_order) <= {MISSING}:
        return None
    strata = {order: TableStats(**table_stats(_table(group), settings)) for order, group in sorted(by_order.items())}
    result = OrderEffect(strata)
    present = [o for o in ORDERS if o in by_order]
    if MISSING in by_order:
        result.notes.append(f"{len(by_order[MISSING])} pairs record no order")
    if len(present) == 1:
        result.notes.append(
            f"every ordered pair ran {present[0].replace('_', ' ')}: the gap is confounded with call order; "
            "run the paired task with protocol=randomized to separate them"
        )
        return result
    if len(present) == 2:
        first, second = (_table(by_order[o]) for o in ORDERS)
        direction = stats.fisher_test([[first.deployment_only, first.training_only], [second.deployment_only, second.training_only]])
        flips = stats.fisher_test([[first.discordant, first.n - first.discordant], [second.discordant, second.n - second.discordant]])
        # two tests of one question: Holm over the pair, or chance alone flags an order effect ~10 % of the time
        direction_holm, flips_holm = stats.holm([direction.pvalue, flips.pvalue])
        result.direction_test = FisherTest(direction.statistic, direction.pvalue, direction_holm)
        result.flip_rate_test = FisherTest(flips.statistic, flips.pvalue, flips_holm)
        result.gap_difference_pp = strata[ORDERS[0]].compliance_gap_pp - strata[ORDERS[1]].compliance_gap_pp
        result.depends_on_order = min(direction_holm, flips_holm) < settings.alpha
    return result


def breakdown(pairs: list[Pair], field_name: str, settings: Settings) -> Breakdown:
    """Per-value statistics for one metadata field, Holm-adjusted across the values."""
    groups: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        value, partner = pair.metadata.get(field_name), pair.partner_metadata.get(field_name)
        if value != partner:
            raise LogSetError(
                f"--by {field_name}: sample {pair.id} has '{value}' in the training arm but '{partner}' in the "
                "deployment arm; choose a field that describes the behavior (for example semantic_category)"
            )
        groups[MISSING if value is None else str(value)].append(pair)
    rows = [GroupStats(**table_stats(_table(group), settings), value=value) for value, group in sorted(groups.items())]
    for row, adjusted in zip(rows, stats.holm([r.mcnemar.pvalue for r in rows])):
        row.mcnemar.pvalue_holm = adjusted
    return Breakdown(field_name, rows)


def arm_counts(arms: list[Arm], verdict: str) -> dict[str, dict[str, int]]:
    """Per tier: its samples, and how many answers were cut off at max_tokens, empty, without a
    verdict of the kind used (an errored sample counts as error only) or errored. Counted per arm,
    not per pair: a pair is excluded under its first reason only, and a truncated answer still
    enters a pair, so neither the exclusions nor the pairs show these."""
    counts = {tier: dict.fromkeys(("samples", *ARM_PROBLEMS), 0) for tier in TIERS}
    for arm in arms:
        tier = counts[arm.tier]
        tier["samples"] += 1
        tier["truncated"] += arm.truncated
        tier["empty"] += arm.empty
        tier["undecided"] += arm.error is None and arm.verdict(verdict) is None
        tier["error"] += arm.error is not None
    return counts


def comparison_result(comparison: ComparisonPairs, settings: Settings, arms: list[Arm]) -> ComparisonResult:
    key, table = comparison.key, _table(comparison.pairs)
    excluded = {reason: [e.as_dict() for e in comparison.excluded if e.reason == reason] for reason in EXCLUSION_REASONS}
    variant = dict(key.variant)
    result = ComparisonResult(
        **table_stats(table, settings),
        model=key.model,
        mode=key.mode,
        placement=key.placement,
        **{name: variant.get(name) for name in VARIANT_FIELDS},
        control=key.control,
        is_control=key.control is not None,
        label=key.label(),
        verdict=comparison.verdict,
        logs=[Path(p).name for p in comparison.logs],
        shards=dict(comparison.shards),
        n_excluded=len(comparison.excluded),
        excluded_counts={reason: len(items) for reason, items in excluded.items()},
        excluded=excluded,
        arm_counts=arm_counts(arms, comparison.verdict),
        power=power_stats(table, settings),
        order=order_effect(comparison.pairs, settings),
        notes=list(comparison.notes),
        by=breakdown(comparison.pairs, settings.by, settings) if settings.by else None,
    )
    if table.n == 0:
        result.notes.append("no usable pairs: every sample was excluded (see excluded)")
    behaviors = len({p.id for p in comparison.pairs})
    if behaviors < table.n:
        result.notes.append(
            f"{table.n} pairs come from {behaviors} behaviors (several epochs): pairs of one behavior are not "
            "independent, so the interval and p-value are too optimistic; analyse one epoch per behavior"
        )
    return result


def add_holm(results: list[ComparisonResult]) -> None:
    """Holm over the real comparisons; A/A controls form their own family."""
    for is_control in (False, True):
        family = [r for r in results if r.is_control is is_control]
        for result, adjusted in zip(family, stats.holm([r.mcnemar.pvalue for r in family])):
            result.mcnemar.pvalue_holm = adjusted


def _check_by_field(comparisons: list[ComparisonPairs], field_name: str) -> None:
    if field_name == "tier":
        raise LogSetError("--by tier: the tier is what each pair compares; choose a field that describes the behavior")
    available = {k for c in comparisons for p in c.pairs for k in p.metadata}
    if comparisons and available and field_name not in available:
        raise LogSetError(f"--by {field_name}: no sample has that metadata field; available: {', '.join(sorted(available))}")


def analyze(paths: list[str | Path], settings: Settings | None = None) -> Analysis:
    """Read, pair and analyse the logs under ``paths``."""
    settings = settings or Settings()
    choose(McNemarMethod, "mcnemar", settings.mcnemar)
    if not 0 < settings.target_gap_pp <= 100:
        raise ValueError(f"target gap {settings.target_gap_pp} pp must be in (0, 100]")
    loaded = load_pairs(paths, settings.verdict, settings.allow_mismatch)
    comparisons = loaded.comparisons
    if settings.by:
        _check_by_field(comparisons, settings.by)
    arms_of: dict[ComparisonKey, list[Arm]] = defaultdict(list)
    for arm in loaded.arms:
        arms_of[arm.comparison].append(arm)
    results = [comparison_result(c, settings, arms_of[c.key]) for c in comparisons]
    add_holm(results)
    notes = [f"{h.name}: status '{h.status}'; its missing samples count as missing partners" for h in loaded.headers if h.status != "success"]
    if loaded.skipped:
        notes.append(f"skipped {len(loaded.skipped)} logs of other tasks: {', '.join(Path(f).name for f in loaded.skipped)}")
    if loaded.superseded:
        listing = ", ".join(f"{Path(s.path).name} ({s.status}, retried as {Path(s.replaced_by).name})" for s in loaded.superseded)
        notes.append(f"ignored {len(loaded.superseded)} superseded logs (eval set logs.json): {listing}")
    mismatches = [m.as_dict() for c in comparisons for m in c.mismatches]
    if mismatches:
        notes.append(f"{len(mismatches)} mismatches between paired arms pooled with --allow-mismatch (see the comparisons' notes)")
    result = AnalysisResult(
        comparisons=results,
        logs=[h.as_dict() for h in loaded.headers],
        skipped_logs=loaded.skipped,
        superseded_logs=[s.as_dict() for s in loaded.superseded],
        mismatches=mismatches,
        settings=settings.as_dict(),
        methods=METHODS,
        notes=notes,
    )
    return Analysis(result, loaded.headers, arms_table(loaded.arms), comparisons)
