"""Do two sets of texts differ in SAE features? Per-feature tests and a linear probe.

Per feature (only features that fire in some text; dead ones are counted): a two-sample
Kolmogorov-Smirnov test, corrected with Benjamini-Hochberg (false discovery rate), and a
permutation test of Welch's t, corrected with the Westfall-Young max-T procedure (family-wise
error). Max-T is used because a permutation p-value cannot go below 1/(1+permutations): with
thousands of features, BH on raw permutation p-values could never reject anything. The probe is
an L2 logistic regression on standardised features, scored by cross-validated AUROC
(out-of-fold predictions, so it never grades a text it was trained on).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import ks_2samp
from statsmodels.stats.multitest import multipletests

PERMUTATION_CHUNK = 64  # permutations per matrix product: bounds memory at large d_sae


def fdr(p_values: np.ndarray) -> np.ndarray:
    return multipletests(p_values, method="fdr_bh")[1] if len(p_values) else p_values


def welch_t(sum_a: np.ndarray, sq_a: np.ndarray, n_a: int, sum_b: np.ndarray, sq_b: np.ndarray, n_b: int) -> np.ndarray:
    """Welch's t from per-group sums and sums of squares (0 where both groups are constant)."""
    mean_a, mean_b = sum_a / n_a, sum_b / n_b
    var_a = np.maximum(sq_a - n_a * mean_a**2, 0) / (n_a - 1)
    var_b = np.maximum(sq_b - n_b * mean_b**2, 0) / (n_b - 1)
    scale = np.sqrt(var_a / n_a + var_b / n_b)
    return np.divide(mean_a - mean_b, scale, out=np.zeros_like(scale), where=scale > 1e-12)


def permutation_pvalues(a: np.ndarray, b: np.ndarray, permutations: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided permutation p-values of Welch's t for every feature, raw and max-T adjusted
    (family-wise); both are (1 + hits) / (1 + permutations)."""
    pooled = np.vstack([a, b]).astype(np.float64)
    squares = pooled**2
    n, n_a = len(pooled), len(a)
    total, total_sq = pooled.sum(axis=0), squares.sum(axis=0)
    observed = np.abs(welch_t(a.sum(0), (a.astype(np.float64) ** 2).sum(0), n_a, b.sum(0), (b.astype(np.float64) ** 2).sum(0), len(b)))
    hits, max_hits = np.zeros(pooled.shape[1]), np.zeros(pooled.shape[1])
    done = 0
    while done < permutations:
        size = min(PERMUTATION_CHUNK, permutations - done)
        members = np.zeros((size, n))
        for row in members:
            row[rng.permutation(n)[:n_a]] = 1.0
        sum_a, sq_a = members @ pooled, members @ squares
        t = np.abs(welch_t(sum_a, sq_a, n_a, total - sum_a, total_sq - sq_a, n - n_a))
        hits += (t >= observed - 1e-12).sum(axis=0)
        max_hits += (t.max(axis=1)[:, None] >= observed - 1e-12).sum(axis=0)
        done += size
    return (1 + hits) / (1 + permutations), (1 + max_hits) / (1 + permutations)


def compare_features(
    a: np.ndarray, b: np.ndarray, permutations: int = 1000, alpha: float = 0.05, top_k: int = 20, seed: int = 0
) -> dict[str, Any]:
    """Which features tell set ``a`` from set ``b`` (rows: texts; columns: features)?"""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature matrices must be 2-D with the same number of features, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError(f"each set needs at least 2 texts, got {len(a)} and {len(b)}")
    alive = np.flatnonzero((a > 0).any(axis=0) | (b > 0).any(axis=0))
    result: dict[str, Any] = {
        "n_a": len(a), "n_b": len(b), "features": int(a.shape[1]), "alive": len(alive), "dead": int(a.shape[1] - len(alive)),
        "alpha": alpha, "permutations": permutations,
        "correction": {"ks": "Benjamini-Hochberg FDR over alive features", "permutation": "Westfall-Young max-T (family-wise)"},
    }
    if not len(alive):
        return {**result, "significant_ks": 0, "significant_permutation": 0, "significant_both": 0, "top": []}
    fa, fb = a[:, alive], b[:, alive]
    ks = ks_2samp(fa, fb, axis=0)
    ks_stat, ks_p = np.atleast_1d(ks.statistic), np.atleast_1d(ks.pvalue)
    perm_p, perm_fwer = permutation_pvalues(fa, fb, permutations, np.random.default_rng(seed))
    ks_q = fdr(ks_p)
    mean_a, mean_b = fa.mean(axis=0), fb.mean(axis=0)
    spread = np.sqrt((fa.var(axis=0, ddof=1) + fb.var(axis=0, ddof=1)) / 2)
    effect = np.divide(mean_a - mean_b, spread, out=np.zeros_like(spread), where=spread > 0)
    order = np.lexsort((-np.abs(mean_a - mean_b), -ks_stat))[:top_k]
    result.update(
        significant_ks=int((ks_q < alpha).sum()),
        significant_permutation=int((perm_fwer < alpha).sum()),
        significant_both=int(((ks_q < alpha) & (perm_fwer < alpha)).sum()),
        top=[
            {
                "feature": int(alive[j]), "mean_a": float(mean_a[j]), "mean_b": float(mean_b[j]), "cohens_d": float(effect[j]),
                "ks": float(ks_stat[j]), "ks_p": float(ks_p[j]), "ks_q": float(ks_q[j]), "perm_p": float(perm_p[j]), "perm_p_fwer": float(perm_fwer[j]),
            }
            for j in order
        ],
    )
    return result


def _probe():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def probe_auroc(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Cross-validated AUROC of a linear probe for ``y`` (1 = positive) from features ``x``."""
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y, dtype=int)
    smallest = int(min((y == 1).sum(), (y == 0).sum()))
    if smallest < 2:
        raise ValueError(f"a probe needs at least 2 texts in each class, got {(y == 1).sum()} and {(y == 0).sum()}")
    folds = min(folds, smallest)
    scores = np.zeros(len(y))
    fold_auroc = []
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        probe = _probe().fit(x[train], y[train])
        scores[test] = probe.predict_proba(x[test])[:, 1]
        if len(set(y[test])) == 2:
            fold_auroc.append(float(roc_auc_score(y[test], scores[test])))
    fpr, tpr, _ = roc_curve(y, scores)
    return {
        "auroc": float(roc_auc_score(y, scores)), "fold_auroc": fold_auroc, "folds": folds,
        "n": len(y), "positives": int(y.sum()), "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
    }


def transfer_rate(x_train: np.ndarray, y_train: np.ndarray, x_new: np.ndarray) -> dict[str, float]:
    """Fit on one labelled set, score another: the share of new texts the probe calls positive."""
    probe = _probe().fit(x_train, np.asarray(y_train, dtype=int))
    scores = probe.predict_proba(x_new)[:, 1]
    return {"positive_share": float((scores > 0.5).mean()), "mean_score": float(scores.mean()), "n": len(scores)}
