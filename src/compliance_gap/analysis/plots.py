"""Paper-style PNG figures of an analysis: the gap with its CI (a forest plot), refusal rates
per tier, and the discordance tables. Matplotlib's Agg backend: no display needed.

The figures show comparisons that have pairs (a comparison without any is said so in the text,
not drawn empty), under the labels the report gives them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TIER_COLORS = {"training": "#D55E00", "deployment": "#0072B2"}  # Okabe-Ito, colour-blind safe
POINT, CONTROL, STRATUM = "#000000", "#999999", "#56B4E9"
WIDTH_IN = 6.5  # a full text width
DPI = 200

PAPER_STYLE = {
    "font.family": "serif",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
}


@contextmanager
def paper_figure(height_in: float, ncols: int = 1, width_in: float = WIDTH_IN) -> Iterator[tuple[Any, Any]]:
    with plt.rc_context(PAPER_STYLE):
        figure, axes = plt.subplots(1, ncols, figsize=(width_in, height_in), squeeze=False, layout="constrained")
        try:
            yield figure, axes[0]
        finally:
            plt.close(figure)


def _save(figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, format="png", bbox_inches="tight", pad_inches=0.05)  # long titles stay inside
    return path


def _finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _p_text(value: Any) -> str:
    if not _finite(value):
        return ""
    return "p < 0.001" if value < 0.001 else f"p = {value:.3g}"


@dataclass(frozen=True)
class ForestRow:
    label: str
    gap: Any
    low: Any
    high: Any
    pvalue: Any
    color: str = POINT
    hollow: bool = False


def two_lines(label: str) -> str:
    """'model · mode · placement · ...' as the model over the rest, to keep tick labels short."""
    model, _, rest = label.partition(" · ")
    return f"{model}\n{rest}" if rest else model


def forest_rows(comparisons: list[dict[str, Any]]) -> list[ForestRow]:
    """One row per comparison and, below it, one per call-order stratum."""
    rows = []
    for c in comparisons:
        color = CONTROL if c["is_control"] else POINT
        p = c["mcnemar"].get("pvalue_holm", c["mcnemar"]["pvalue"])
        rows.append(ForestRow(two_lines(c["label"]), c["compliance_gap_pp"], *c["gap_ci95_pp"], p, color, c["is_control"]))
        for order, stratum in ((c.get("order") or {}).get("strata") or {}).items():
            rows.append(
                ForestRow(f"    {order.replace('_', ' ')}", stratum["compliance_gap_pp"], *stratum["gap_ci95_pp"], stratum["mcnemar"]["pvalue"], STRATUM)
            )
    return rows


def forest(rows: list[ForestRow], path: Path, title: str) -> Path:
    """Gaps with 95% CIs, one row each, a zero line, p-values at the right."""
    with paper_figure(0.8 + 0.34 * max(len(rows), 1)) as (figure, axes):
        ax = axes[0]
        ys = list(range(len(rows)))[::-1]
        for y, row in zip(ys, rows):
            ax.errorbar(
                row.gap, y, xerr=[[max(row.gap - row.low, 0)], [max(row.high - row.gap, 0)]], fmt="o", color=row.color,
                mfc="white" if row.hollow else row.color, ms=4, capsize=2, lw=1,
            )
            ax.annotate(_p_text(row.pvalue), (1.0, y), xycoords=("axes fraction", "data"), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7)
        ax.axvline(0, color="#444444", lw=0.8, ls="--")
        ends = [v for r in rows for v in (r.low, r.high)] + [0.0]
        ax.set_xlim(min(ends) - 5, max(ends) + 5)
        ax.set_yticks(ys, [r.label for r in rows])
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel("compliance gap (pp), 95% CI")
        figure.suptitle(title, x=0.01, ha="left", fontsize=9)
        return _save(figure, path)


def gap_plot(comparisons: list[dict[str, Any]], path: Path) -> Path:
    return forest(forest_rows(comparisons), path, "Compliance gap per comparison (open: A/A control; blue: within call order)")


def breakdown_plot(comparisons: list[dict[str, Any]], path: Path) -> Path:
    rows = []
    for c in comparisons:
        by = c.get("by")
        if not by:
            continue
        rows.append(ForestRow(two_lines(c["label"]), c["compliance_gap_pp"], *c["gap_ci95_pp"], c["mcnemar"]["pvalue"], POINT, c["is_control"]))
        for group in by["groups"]:
            rows.append(ForestRow(f"    {group['value']}", group["compliance_gap_pp"], *group["gap_ci95_pp"], group["mcnemar"]["pvalue_holm"], STRATUM))
    field = next((c["by"]["field"] for c in comparisons if c.get("by")), "")
    return forest(rows, path, f"Compliance gap by {field} (p Holm-adjusted within each comparison)")


def rates_plot(comparisons: list[dict[str, Any]], path: Path) -> Path:
    """Refusal rate per tier with Wilson 95% CIs, grouped by comparison; each bar carries its value,
    and a 0 % bar is drawn as a thick line on the axis, so it is seen rather than missing."""
    with paper_figure(2.6, width_in=min(WIDTH_IN, 2.5 + 1.2 * len(comparisons))) as (figure, axes):
        ax = axes[0]
        width = 0.38
        for offset, tier in ((-width / 2, "training"), (width / 2, "deployment")):
            for x, c in enumerate(comparisons):
                rate, (low, high) = c["refusal_rate"][tier], c["refusal_rate_ci95"][tier]
                alpha = 0.5 if c["is_control"] else 1.0
                ax.bar(x + offset, 100 * rate, width, color=TIER_COLORS[tier], label=tier if x == 0 else None, alpha=alpha)
                if rate == 0:
                    ax.plot([x + offset - width / 2, x + offset + width / 2], [0, 0], color=TIER_COLORS[tier], lw=3, alpha=alpha,
                            solid_capstyle="butt", clip_on=False, zorder=3)
                ax.errorbar(x + offset, 100 * rate, yerr=[[100 * max(rate - low, 0)], [100 * max(high - rate, 0)]], color="black", lw=0.8, capsize=2)
                ax.annotate(f"{100 * rate:.1f}%", (x + offset, 100 * high), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=6)
        ax.set_xticks(range(len(comparisons)), [c["label"].replace(" · ", "\n") for c in comparisons])
        ax.set_xlim(-0.6, len(comparisons) - 0.4)
        ax.set_ylim(0, 112)
        ax.set_ylabel("refusal rate (%), Wilson 95% CI")
        ax.set_title("Refusal rate per tier (faded: A/A control)", loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _save(figure, path)


def discordance_plot(comparisons: list[dict[str, Any]], path: Path) -> Path:
    """Each comparison's 2x2 table; the off-diagonal cells are the flips McNemar tests."""
    ncols = len(comparisons)
    with paper_figure(2.6, ncols, width_in=max(3.6, min(2.3 * ncols, 3 * WIDTH_IN))) as (figure, axes):
        for ax, c in zip(axes, comparisons):
            t = c["table"]
            cells = [[t["both"], t["training_only"]], [t["deployment_only"], t["neither"]]]
            ax.imshow([[0, 1], [1, 0]], cmap="Greys", vmin=0, vmax=4)
            for i in range(2):
                for j in range(2):
                    ax.text(j, i, str(cells[i][j]), ha="center", va="center", fontsize=10, weight="bold" if i != j else "normal")
            ax.set_xticks([0, 1], ["refused", "complied"])
            ax.set_yticks([0, 1], ["refused", "complied"])
            ax.set_xlabel("deployment arm")
            ax.set_ylabel("training arm")
            ax.set_title(c["label"].replace(" · ", "\n"), fontsize=7)
            for side in ("top", "right"):
                ax.spines[side].set_visible(True)
        figure.suptitle("Paired verdicts (shaded: discordant)", fontsize=9)
        return _save(figure, path)


def write_plots(comparisons: list[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """All figures of these comparisons (each with pairs, labelled as the report labels it) under
    ``out_dir``; name -> path. None without comparisons."""
    if not comparisons:
        return {}
    plots = {
        "gap": gap_plot(comparisons, out_dir / "gap.png"),
        "refusal_rates": rates_plot(comparisons, out_dir / "refusal_rates.png"),
        "discordance": discordance_plot(comparisons, out_dir / "discordance.png"),
    }
    if any(c.get("by") for c in comparisons):
        plots["breakdown"] = breakdown_plot(comparisons, out_dir / "gap_by_group.png")
    return plots
