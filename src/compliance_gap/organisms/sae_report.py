"""SAE validation of an organism: does its reasoning look like real alignment-faking
scratchpads in SAE feature space, and can the same pipeline separate gold_106's two labels?

The gold_106 probe is the sanity check: if it cannot tell ``potential_faking`` from
``aligned`` scratchpads, the layer or SAE carries too little signal to judge the organism.
Results go to ``sae_validation.json`` and ``sae_validation.png``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .activations import feature_means
from .feature_stats import compare_features, probe_auroc, transfer_rate
from .sae import FeatureEncoder, HookPoint
from .scratchpads import GOLD_LABELS, TextSet

REPORT_JSON, REPORT_PNG = "sae_validation.json", "sae_validation.png"


@dataclass
class SaeSettings:
    max_length: int = 512
    batch_size: int = 8
    permutations: int = 1000
    alpha: float = 0.05
    top_k: int = 20
    folds: int = 5
    seed: int = 0


def analyze_features(organism: np.ndarray, reference: np.ndarray, gold: np.ndarray, gold_labels: list[str], settings: SaeSettings) -> dict[str, Any]:
    """All statistics from feature matrices alone (no model): the part tests drive directly."""
    comparison = compare_features(organism, reference, settings.permutations, settings.alpha, settings.top_k, settings.seed)
    x = np.vstack([organism, reference])
    y = np.r_[np.ones(len(organism)), np.zeros(len(reference))]
    gold_y = np.array([label == GOLD_LABELS[0] for label in gold_labels], dtype=int)
    return {
        "comparison": comparison,
        "probe_organism_vs_reference": probe_auroc(x, y, settings.folds, settings.seed),
        "probe_gold_labels": probe_auroc(gold, gold_y, settings.folds, settings.seed),
        "gold_probe_on_organism": transfer_rate(gold, gold_y, organism),
    }


def validate_organism(
    model: Any, tokenizer: Any, sae: FeatureEncoder, hook: HookPoint,
    organism: TextSet, reference: TextSet, gold: TextSet, out_dir: Path, settings: SaeSettings,
    describe: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Extract features once per distinct text, run the statistics, write JSON and PNG."""
    began = time.perf_counter()
    unique = list(dict.fromkeys(organism.texts + reference.texts + gold.texts))
    features = feature_means(model, tokenizer, unique, sae, hook, settings.max_length, settings.batch_size)
    extraction_seconds = time.perf_counter() - began
    row = {text: i for i, text in enumerate(unique)}
    pick = lambda texts: features[[row[t] for t in texts]]  # noqa: E731
    report = {
        **(describe or {}),
        "hook": asdict(hook),
        "d_sae": int(features.shape[1]),
        "settings": asdict(settings),
        "texts": {name: {"source": s.source, "n": len(s.texts), "skipped": s.skipped} for name, s in (("organism", organism), ("reference", reference), ("gold", gold))},
        **analyze_features(pick(organism.texts), pick(reference.texts), pick(gold.texts), gold.labels, settings),
        "extraction_seconds": extraction_seconds,
        "seconds": time.perf_counter() - began,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / REPORT_JSON).write_text(json.dumps(report, indent=2))
    plot_report(report, out_dir / REPORT_PNG)
    return report


def plot_report(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comparison = report["comparison"]
    fig, (bars, roc, counts) = plt.subplots(1, 3, figsize=(16, 5))
    top = comparison["top"][:15][::-1]
    labels = [f"#{t['feature']} (KS {t['ks']:.2f})" for t in top]
    ys = np.arange(len(top))
    bars.barh(ys - 0.2, [t["mean_a"] for t in top], height=0.4, label="organism")
    bars.barh(ys + 0.2, [t["mean_b"] for t in top], height=0.4, label="reference")
    bars.set_yticks(ys, labels, fontsize=7)
    bars.set_title("Most different features (mean activation)")
    bars.legend()
    for key, name in (("probe_organism_vs_reference", "organism vs reference"), ("probe_gold_labels", "gold_106 labels")):
        probe = report[key]
        roc.plot(probe["roc"]["fpr"], probe["roc"]["tpr"], label=f"{name}: AUROC {probe['auroc']:.2f}")
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="Cross-validated linear probes")
    roc.legend(loc="lower right")
    names = ["alive", "KS", "permutation", "both"]
    values = [comparison["alive"], comparison["significant_ks"], comparison["significant_permutation"], comparison["significant_both"]]
    counts.bar(names, values)
    counts.set_title(f"Features (of {comparison['features']}) significant at {comparison['alpha']}\n(KS: FDR; permutation: max-T family-wise)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
