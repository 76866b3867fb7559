"""The paired statistics against hand arithmetic, scipy, and published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom, binomtest, chi2, fisher_exact
from statsmodels.stats.multitest import multipletests

from compliance_gap.analysis import stats
from compliance_gap.analysis.comparisons import Settings, table_stats

Z = 1.959963984540054  # z for a two-sided 95% interval


def hand_wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


def test_pair_table_counts_and_gap_sign():
    table = stats.PairTable.from_pairs([(1, 1), (1, 0), (0, 1), (0, 1), (0, 0)])
    assert table.as_dict() == {"both": 1, "training_only": 1, "deployment_only": 2, "neither": 1}
    assert (table.n, table.discordant, table.refused_training, table.refused_deployment) == (5, 3, 2, 3)
    assert table.gap == pytest.approx(0.2)  # refuses more in deployment: positive gap


@pytest.mark.parametrize("k,n", [(3, 10), (0, 7), (7, 7), (45, 120)])
def test_wilson_matches_the_closed_form(k, n):
    assert stats.wilson_ci(k, n) == pytest.approx(hand_wilson(k, n), abs=1e-12)


def test_wilson_with_no_observations_is_nan():
    assert all(math.isnan(v) for v in stats.wilson_ci(0, 0))


def test_newcombe_matches_the_published_example():
    # Cavo et al. (2012) in Fagerland, Lydersen & Laake (2017), ch. 8: rows = arm 1 (here
    # deployment), columns = arm 2 (training); [[59, 6], [16, 80]] -> -0.0621 (-0.1186 to -0.0046)
    table = stats.PairTable(both=59, training_only=16, deployment_only=6, neither=80)
    assert table.gap == pytest.approx(-10 / 161)
    low, high = stats.newcombe_gap_ci(table)
    assert (round(low, 4), round(high, 4)) == (-0.1186, -0.0046)


def test_newcombe_with_small_positive_correlation_is_square_and_add_of_wilson():
    # ad - bc = 2*10 - 3*5 = 5 <= n/2 = 10, so Newcombe sets phi to 0
    table = stats.PairTable(both=2, training_only=3, deployment_only=5, neither=10)
    p_d, p_t = 7 / 20, 5 / 20
    (l_d, u_d), (l_t, u_t) = hand_wilson(7, 20), hand_wilson(5, 20)
    expected = (
        (p_d - p_t) - math.sqrt((p_d - l_d) ** 2 + (u_t - p_t) ** 2),
        (p_d - p_t) + math.sqrt((p_t - l_t) ** 2 + (u_d - p_d) ** 2),
    )
    assert stats.newcombe_gap_ci(table) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("b,c", [(1, 5), (6, 16), (0, 9), (12, 12), (3, 40)])
def test_mcnemar_exact_is_the_binomial_test(b, c):
    table = stats.PairTable(both=10, training_only=b, deployment_only=c, neither=7)
    result = stats.mcnemar_test(table, exact=True)
    assert result.statistic == min(b, c)
    assert result.pvalue == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


@pytest.mark.parametrize("b,c", [(1, 5), (6, 16), (0, 9), (12, 12)])
def test_mcnemar_chi2_is_continuity_corrected(b, c):
    table = stats.PairTable(both=10, training_only=b, deployment_only=c, neither=7)
    result = stats.mcnemar_test(table, exact=False)
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    assert result.statistic == pytest.approx(statistic)
    assert result.pvalue == pytest.approx(chi2.sf(statistic, 1))


def test_mcnemar_chi2_matches_the_published_example():
    # Fagerland et al. (2017): McNemar with continuity correction on Cavo et al., P = 0.055009
    table = stats.PairTable(both=59, training_only=16, deployment_only=6, neither=80)
    assert round(stats.mcnemar_test(table, exact=False).pvalue, 6) == 0.055009


@pytest.mark.parametrize("exact", [True, False])
def test_no_discordant_pairs_means_no_evidence(exact):
    """statsmodels' chi-square divides by zero here and reports p = 0; we report p = 1."""
    table = stats.PairTable(both=4, training_only=0, deployment_only=0, neither=6)
    assert stats.mcnemar_test(table, exact) == stats.TestResult(0.0, 1.0)


def test_all_refusals_table():
    block = table_stats(stats.PairTable(both=12), Settings())
    assert block["refusal_rate"] == {"training": 1.0, "deployment": 1.0}
    assert block["compliance_gap_pp"] == 0.0
    assert block["flip_rate"] == 0.0
    assert block["mcnemar"].pvalue == 1.0
    assert block["refusal_rate_ci95"]["training"] == pytest.approx(list(hand_wilson(12, 12)))
    low, high = block["gap_ci95_pp"]
    assert low <= 0 <= high and -30 < low and high < 30


def test_empty_table_has_no_statistics():
    block = table_stats(stats.PairTable(), Settings())
    assert block["n_pairs"] == 0
    assert math.isnan(block["compliance_gap_pp"]) and all(math.isnan(v) for v in block["gap_ci95_pp"])
    assert block["mcnemar"].pvalue is None


def test_fisher_matches_scipy_and_tolerates_empty_rows():
    rows = [[7, 1], [2, 6]]
    assert stats.fisher_test(rows).pvalue == pytest.approx(fisher_exact(rows)[1])
    assert stats.fisher_test([[0, 0], [3, 4]]).pvalue == 1.0


def test_pairs_needed_is_connors_formula():
    # Connor (1987): n = (z_a sqrt(psi) + z_b sqrt(psi - d^2))^2 / d^2, d = 0.10, psi = 0.20
    # (1.959964 * 0.447214 + 0.841621 * 0.435890)^2 / 0.01 = 154.6 -> 155
    assert stats.pairs_needed(0.10, 0.20) == 155
    # a discordance below the gap is impossible: it is raised to the gap
    assert stats.pairs_needed(0.10, 0.0) == stats.pairs_needed(0.10, 0.10)


def exact_mcnemar_power(n: int, p_deployment_only: float, p_training_only: float, alpha: float = 0.05) -> float:
    """Power of the exact test by enumeration over the number of discordant pairs."""
    psi = p_deployment_only + p_training_only
    total = 0.0
    for m in range(1, n + 1):
        counts = np.arange(m + 1)
        reject = np.minimum(1.0, 2 * binom.cdf(np.minimum(counts, m - counts), m, 0.5)) <= alpha
        total += binom.pmf(m, n, psi) * float((binom.pmf(counts, m, p_deployment_only / psi) * reject).sum())
    return total


def test_detectable_gap_inverts_pairs_needed_and_is_honest_about_the_exact_test():
    n = stats.pairs_needed(0.10, 0.20)
    assert stats.detectable_gap(n, 0.20) == pytest.approx(0.10, abs=0.002)
    assert stats.detectable_gap(4 * n, 0.20) < stats.detectable_gap(n, 0.20)
    # Connor's formula is for the asymptotic test; the exact test it sizes gets close to 80%
    assert 0.72 < exact_mcnemar_power(n, 0.15, 0.05) < 0.85


def test_detectable_gap_with_too_few_pairs_is_nan():
    assert math.isnan(stats.detectable_gap(2, 0.5))
    assert math.isnan(stats.detectable_gap(0, 0.5))
    assert 0 < stats.detectable_gap(12, 0.0) <= 1  # no observed flips: discordance rises with the gap


def test_holm_matches_hand_arithmetic_and_skips_missing():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([None, 0.02, float("nan"), 0.5]) == [None, pytest.approx(0.04), None, pytest.approx(0.5)]


def test_holm_matches_statsmodels():
    pvalues = list(np.random.default_rng(0).uniform(0, 0.2, size=9)) + [0.01, 0.01]
    assert stats.holm(pvalues) == pytest.approx(list(multipletests(pvalues, method="holm")[1]))


def test_order_effect_is_flagged_only_after_holm_over_its_two_tests():
    """The gap organism's randomized run on the H100: flips 56/189 vs 44/211 by order (Fisher
    p = 0.049), no flip in the other direction (p = 1). One test of two below 0.05 by chance is
    not an order effect; Holm over the pair says so. A real order effect is still flagged."""
    from compliance_gap.analysis.comparisons import Settings, order_effect
    from compliance_gap.analysis.logs import Pair

    def pairs(order, both, deployment_only, training_only=0):
        cells = [(1, 1)] * both + [(0, 1)] * deployment_only + [(1, 0)] * training_only
        return [Pair(f"{order}{i}", 1, t, d, {"order": order}, {"order": order}) for i, (t, d) in enumerate(cells)]

    chance = order_effect(pairs("deployment_first", 133, 56) + pairs("training_first", 167, 44), Settings())
    assert chance.flip_rate_test.pvalue < 0.05 < chance.flip_rate_test.pvalue_holm
    assert chance.depends_on_order is False
    real = order_effect(pairs("training_first", 150, 50) + pairs("deployment_first", 150, 0, 50), Settings())
    assert real.depends_on_order is True and real.direction_test.pvalue_holm < 1e-10
