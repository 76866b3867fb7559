"""Show an analysis: a terminal table, JSON, and a report folder (Markdown, self-contained HTML
with embedded PNGs, the figures, results.json and samples.jsonl).

The report is built once as a list of blocks (headings, paragraphs, tables, figures) and
rendered three ways, so the terminal, Markdown and HTML always say the same thing.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .comparisons import Analysis
from .export import write_samples_jsonl
from .logs import EXCLUSION_REASONS
from .plots import write_plots

FIGURE_CAPTIONS = {
    "gap": "Compliance gap (deployment minus training refusal rate, pp) with Newcombe 95% CI; p = McNemar, Holm-adjusted (order strata: unadjusted).",
    "refusal_rates": "Refusal rate per tier with Wilson 95% CIs.",
    "discordance": "Paired verdicts; the shaded off-diagonal cells are the flips McNemar's test compares.",
    "breakdown": "Compliance gap per group with Newcombe 95% CI; p Holm-adjusted within each comparison.",
}


# ---- values ---------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """NaN and infinities become null; tuples become lists; numpy scalars become Python."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(analysis: Analysis) -> str:
    return json.dumps(jsonable(analysis.result), indent=2, allow_nan=False)


def _ok(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def fmt_rate(rate: Any, ci: list[Any]) -> str:
    if not _ok(rate):
        return "-"
    return f"{100 * rate:.1f}% [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def fmt_gap(gap: Any, ci: list[Any]) -> str:
    if not _ok(gap):
        return "-"
    return f"{gap:+.1f} [{ci[0]:+.1f}, {ci[1]:+.1f}]"


def fmt_p(p: Any) -> str:
    if not _ok(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3g}"


def p_equals(p: Any) -> str:
    """'p = 0.03' or 'p < 0.001', for sentences."""
    text = fmt_p(p)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


def fmt_fraction(value: Any) -> str:
    return f"{100 * value:.1f}%" if _ok(value) else "-"


def fmt_ids(items: list[dict[str, Any]]) -> str:
    return ", ".join(i["id"] if i["epoch"] == 1 else f"{i['id']} (epoch {i['epoch']})" for i in items)


# ---- blocks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Figure:
    name: str


STATS_HEADERS = ["pairs", "refusal training", "refusal deployment", "gap pp [95% CI]", "T-only/D-only", "flip rate", "McNemar p"]


def stats_cells(block: dict[str, Any]) -> list[str]:
    d = block["discordant"]
    return [
        str(block["n_pairs"]),
        fmt_rate(block["refusal_rate"]["training"], block["refusal_rate_ci95"]["training"]),
        fmt_rate(block["refusal_rate"]["deployment"], block["refusal_rate_ci95"]["deployment"]),
        fmt_gap(block["compliance_gap_pp"], block["gap_ci95_pp"]),
        f"{d['refused_training_only']}/{d['refused_deployment_only']}",
        fmt_fraction(block["flip_rate"]),
        fmt_p(block["mcnemar"]["pvalue"]),
    ]


def summary_table(comparisons: list[dict[str, Any]]) -> Table:
    headers = ["comparison", "verdict", *STATS_HEADERS, "Holm p", "excluded"]
    rows = [
        [c["label"], c["verdict"], *stats_cells(c), fmt_p(c["mcnemar"].get("pvalue_holm")), str(c["n_excluded"])]
        for c in comparisons
    ]
    return Table(headers, rows)


def reading(c: dict[str, Any], alpha: float) -> str:
    """One plain sentence on what the comparison shows, including what it could not show."""
    if not c["n_pairs"]:
        return "No usable pairs."
    p = c["mcnemar"].get("pvalue_holm", c["mcnemar"]["pvalue"])
    power = c["power"]
    verdict = "significant" if _ok(p) and p < alpha else "not significant"
    text = (
        f"Gap {fmt_gap(c['compliance_gap_pp'], c['gap_ci95_pp'])} pp over {c['n_pairs']} pairs; "
        f"McNemar ({'exact' if c['mcnemar']['exact'] else 'chi-square, continuity-corrected'}) "
        f"{p_equals(c['mcnemar']['pvalue'])}, Holm {p_equals(p)}: {verdict} at alpha = {alpha}. "
        f"With {c['n_pairs']} pairs and {fmt_fraction(power['discordance'])} discordance, the smallest gap "
        f"detectable with {power['power']:.0%} power is {_pp(power['detectable_gap_pp'])}; a "
        f"{power['target_gap_pp']:g} pp gap needs {power['pairs_needed']} pairs at "
        f"{fmt_fraction(power['assumed_discordance'])} discordance (never assumed below the gap itself)."
    )
    if c["is_control"]:
        text = (
            f"A/A control (both arms framed as {c['control']}): any gap here is noise; its flip rate "
            f"{fmt_fraction(c['flip_rate'])} is the noise floor for the real comparisons. " + text
        )
    return text


def _pp(value: Any) -> str:
    return f"{value:.1f} pp" if _ok(value) else "not reachable with these pairs"


def comparison_blocks(c: dict[str, Any], alpha: float) -> list[Any]:
    blocks: list[Any] = [Heading(c["label"], 3), Paragraph(reading(c, alpha))]
    counts = c["excluded_counts"]
    if c["n_excluded"]:
        parts = [f"{reason.replace('_', ' ')} {counts[reason]}" for reason in EXCLUSION_REASONS if counts[reason]]
        blocks.append(Paragraph(f"Excluded {c['n_excluded']} ({', '.join(parts)}):"))
        blocks.append(Table(["reason", "ids"], [[r.replace("_", " "), fmt_ids(c["excluded"][r])] for r in EXCLUSION_REASONS if counts[r]]))
    order = c.get("order")
    if order:
        rows = [[o.replace("_", " "), *stats_cells(s)] for o, s in order["strata"].items()]
        blocks.append(Paragraph("Within each call order:"))
        blocks.append(Table(["order", *STATS_HEADERS], rows))
        if order.get("direction_test"):
            direction, flips = order["direction_test"], order["flip_rate_test"]
            warning = "Flips DEPEND on call order: read the within-order gaps, not the pooled one. " if order["depends_on_order"] else ""
            blocks.append(Paragraph(
                f"{warning}Order effect (Fisher exact): flip direction by order {p_equals(direction['pvalue'])}, "
                f"flip rate by order {p_equals(flips['pvalue'])}; gap difference "
                f"{order['gap_difference_pp']:+.1f} pp (training first minus deployment first)."
                if _ok(order.get("gap_difference_pp")) else f"{warning}Order effect: not estimable."
            ))
        for note in order["notes"]:
            blocks.append(Paragraph(f"Note: {note}."))
    by = c.get("by")
    if by:
        rows = [[g["value"], *stats_cells(g), fmt_p(g["mcnemar"]["pvalue_holm"])] for g in by["groups"]]
        blocks.append(Paragraph(f"By {by['field']}:"))
        blocks.append(Table([by["field"], *STATS_HEADERS, "Holm p"], rows))
    for note in c["notes"]:
        blocks.append(Paragraph(f"Note: {note}."))
    return blocks


def report_blocks(analysis: Analysis, figures: list[str] = (), methods: bool = True) -> list[Any]:
    result = analysis.result
    alpha = result["settings"]["alpha"]
    blocks: list[Any] = [
        Heading("Compliance gap: paired analysis", 1),
        Paragraph(
            "Gap = deployment-tier refusal % minus training-tier refusal % over pairs of the same behavior "
            "(positive: the model refuses less when told it is being trained). T-only/D-only: pairs refused "
            "only in the training / only in the deployment arm."
        ),
        summary_table(result["comparisons"]),
    ]
    blocks += [Figure(name) for name in figures]
    for c in result["comparisons"]:
        blocks += comparison_blocks(c, alpha)
    blocks.append(Heading("Methods and logs" if methods else "Logs", 2))
    if methods:
        blocks.append(Table(["quantity", "method"], [[k.replace("_", " "), v] for k, v in result["methods"].items()]))
    blocks.append(Table(["log", "task", "tier", "model", "dataset", "status", "verdicts"], [
        [Path(h["path"]).name, h["task"], h["tier"] or "both", h["model"], h["dataset"], h["status"], ", ".join(h["verdicts"])]
        for h in result["logs"]
    ]))
    for note in result["notes"]:
        blocks.append(Paragraph(f"Note: {note}."))
    return blocks


# ---- renderers ------------------------------------------------------------------------------


def render_text(blocks: list[Any]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["", block.text, ("=" if block.level == 1 else "-") * len(block.text)]
        elif isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Table):
            widths = [max(len(str(r[i])) for r in [block.headers, *block.rows]) for i in range(len(block.headers))]
            rows = [block.headers, ["-" * w for w in widths], *block.rows]
            lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
            lines.append("")
    return "\n".join(lines).strip() + "\n"


def _md_cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[Any], figure_files: dict[str, str]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            rows = [block.headers, ["---"] * len(block.headers), *block.rows]
            parts.append("\n".join("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows))
        elif isinstance(block, Figure):
            parts.append(f"![{FIGURE_CAPTIONS[block.name]}]({figure_files[block.name]})\n\n*{FIGURE_CAPTIONS[block.name]}*")
    return "\n\n".join(parts) + "\n"


HTML_STYLE = """
body { font-family: Georgia, serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { border-bottom: 2px solid #444; }
figure { margin: 1rem 0; } img { max-width: 100%; } figcaption { font-size: 0.85rem; color: #555; }
"""


def render_html(blocks: list[Any], figure_paths: dict[str, Path]) -> str:
    """A single HTML file: the figures are embedded as base64 PNGs."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in block.rows)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(block, Figure):
            data = base64.b64encode(figure_paths[block.name].read_bytes()).decode("ascii")
            caption = html.escape(FIGURE_CAPTIONS[block.name])
            parts.append(f'<figure><img alt="{caption}" src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>')
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Compliance gap report</title>"
        f"<style>{HTML_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def terminal_report(analysis: Analysis) -> str:
    return render_text(report_blocks(analysis, methods=False))


def write_report(analysis: Analysis, out_dir: Path) -> dict[str, Path]:
    """Write report.md, report.html, results.json, samples.jsonl and the PNGs; name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = write_plots(analysis.result, out_dir)
    blocks = report_blocks(analysis, list(figures))
    files = {path.name: path for path in figures.values()}
    files["report.md"] = out_dir / "report.md"
    files["report.md"].write_text(render_markdown(blocks, {n: p.name for n, p in figures.items()}), encoding="utf-8")
    files["report.html"] = out_dir / "report.html"
    files["report.html"].write_text(render_html(blocks, figures), encoding="utf-8")
    files["results.json"] = out_dir / "results.json"
    files["results.json"].write_text(to_json(analysis) + "\n", encoding="utf-8")
    files["samples.jsonl"] = out_dir / "samples.jsonl"
    write_samples_jsonl(analysis, files["samples.jsonl"])
    return files
