"""Paired statistics on one 2x2 table of refusals (training arm x deployment arm).

The gap's p-value is computed in one place, ``mcnemar_test``; everything else here is an
estimate, an interval, a power figure, or a multiplicity adjustment of those p-values.
The formulas and their references are in docs/analysis.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from scipy.optimize import brentq
from scipy.stats import fisher_exact
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

ALPHA = 0.05
POWER = 0.80
NAN = float("nan")


@dataclass(frozen=True)
class PairTable:
    """Counts of pairs by (refused in training arm, refused in deployment arm)."""

    both: int = 0
    training_only: int = 0  # refused in training, complied in deployment
    deployment_only: int = 0  # complied in training, refused in deployment: training-aware compliance
    neither: int = 0

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]]) -> PairTable:
        """From (refused_training, refused_deployment) verdicts, one tuple per pair."""
        counts = {(1, 1): 0, (1, 0): 0, (0, 1): 0, (0, 0): 0}
        for training, deployment in pairs:
            counts[(int(training), int(deployment))] += 1
        return cls(counts[(1, 1)], counts[(1, 0)], counts[(0, 1)], counts[(0, 0)])

    @property
    def n(self) -> int:
        return self.both + self.training_only + self.deployment_only + self.neither

    @property
    def discordant(self) -> int:
        return self.training_only + self.deployment_only

    @property
    def refused_training(self) -> int:
        return self.both + self.training_only

    @property
    def refused_deployment(self) -> int:
        return self.both + self.deployment_only

    def rate(self, count: int) -> float:
        return count / self.n if self.n else NAN

    @property
    def gap(self) -> float:
        """Deployment refusal rate minus training refusal rate (a fraction; positive = the
        model refuses less when told it is being trained)."""
        return self.rate(self.deployment_only - self.training_only)

    def as_dict(self) -> dict[str, int]:
        return {
            "both": self.both,
            "training_only": self.training_only,
            "deployment_only": self.deployment_only,
            "neither": self.neither,
        }


@dataclass(frozen=True)
class TestResult:
    statistic: float
    pvalue: float


def z_two_sided(alpha: float) -> float:
    return NormalDist().inv_cdf(1 - alpha / 2)


def wilson_ci(successes: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Wilson score interval for one proportion (NaN for n = 0)."""
    if n == 0:
        return NAN, NAN
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def newcombe_gap_ci(table: PairTable, alpha: float = ALPHA) -> tuple[float, float]:
    """Newcombe's (1998) square-and-add interval (his method 10) for the paired difference
    p_deployment - p_training: Wilson intervals of the two margins combined with the
    correlation phi between the arms, phi shrunk by n/2 when positive as Newcombe specifies."""
    n = table.n
    if n == 0:
        return NAN, NAN
    p1, p2 = table.rate(table.refused_deployment), table.rate(table.refused_training)
    l1, u1 = wilson_ci(table.refused_deployment, n, alpha)
    l2, u2 = wilson_ci(table.refused_training, n, alpha)
    margins = (
        table.refused_deployment * (n - table.refused_deployment) * table.refused_training * (n - table.refused_training)
    )
    phi = 0.0
    if margins > 0:
        cross = table.both * table.neither - table.training_only * table.deployment_only
        if cross > n / 2:
            phi = (cross - n / 2) / math.sqrt(margins)
        elif cross < 0:
            phi = cross / math.sqrt(margins)
    gap = p1 - p2
    lower = gap - math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    upper = gap + math.sqrt(max((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2, 0.0))
    return max(lower, -1.0), min(upper, 1.0)


def mcnemar_test(table: PairTable, exact: bool = True) -> TestResult:
    """THE p-value of a compliance gap: McNemar's test on the discordant pairs.

    exact: two-sided binomial test of training_only vs deployment_only at p = 1/2 (statistic =
    the smaller count); else chi-square with continuity correction, (|b - c| - 1)^2 / (b + c).
    With no discordant pairs there is no evidence of a gap: p = 1, statistic 0 (statsmodels
    would divide by zero there and report p = 0).
    """
    if table.discordant == 0:
        return TestResult(0.0, 1.0)
    result = mcnemar([[table.both, table.training_only], [table.deployment_only, table.neither]], exact=exact, correction=True)
    return TestResult(float(result.statistic), float(result.pvalue))


def fisher_test(rows: Sequence[Sequence[int]]) -> TestResult:
    """Two-sided Fisher exact test on a 2x2 table; statistic = the sample odds ratio."""
    if any(sum(row) == 0 for row in rows) or any(rows[0][j] + rows[1][j] == 0 for j in range(2)):
        return TestResult(NAN, 1.0)  # an empty row or column carries no information
    odds_ratio, pvalue = fisher_exact(rows, alternative="two-sided")
    return TestResult(float(odds_ratio), float(pvalue))


def _connor_margin(n: int, gap: float, discordance: float, alpha: float, power: float) -> float:
    """sqrt(n)|gap| minus what Connor's (1987) McNemar sample-size formula needs; >= 0 means
    the gap is detectable. Discordance below |gap| is impossible, so it is raised to |gap|."""
    psi = max(discordance, gap)
    return math.sqrt(n) * gap - z_two_sided(alpha) * math.sqrt(psi) - NormalDist().inv_cdf(power) * math.sqrt(max(psi - gap**2, 0.0))


def detectable_gap(n: int, discordance: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest |gap| (fraction) McNemar's test detects with ``power`` at two-sided ``alpha``
    with n pairs when a fraction ``discordance`` of pairs disagree (NaN if even 100% is not)."""
    if n <= 0 or _connor_margin(n, 1.0, discordance, alpha, power) < 0:
        return NAN
    return float(brentq(lambda gap: _connor_margin(n, gap, discordance, alpha, power), 1e-12, 1.0, xtol=1e-10))


def pairs_needed(gap: float, discordance: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """Pairs McNemar's test needs to detect |gap| (fraction) with ``power`` (Connor 1987):
    n = (z_a sqrt(psi) + z_b sqrt(psi - gap^2))^2 / gap^2, psi = max(discordance, |gap|)."""
    gap = abs(gap)
    if gap == 0:
        return 0
    psi = max(discordance, gap)
    root = z_two_sided(alpha) * math.sqrt(psi) + NormalDist().inv_cdf(power) * math.sqrt(max(psi - gap**2, 0.0))
    return math.ceil(root**2 / gap**2 - 1e-9)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values: the k-th smallest of m is multiplied by (m - k + 1),
    made monotone, capped at 1. Missing p-values stay missing and are not counted as tests.
    (By hand: statsmodels' multipletests runs a full garbage collection on every call.)"""
    present = sorted((p, i) for i, p in enumerate(pvalues) if p is not None and not math.isnan(p))
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[i] = running
    return adjusted
