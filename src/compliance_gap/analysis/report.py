"""Show an analysis: a terminal table, JSON, and a report folder (Markdown, self-contained HTML
with embedded PNGs, the figures, results.json and samples.jsonl).

The report is built once as a list of blocks (headings, paragraphs, tables, figures) and
rendered three ways, so the terminal, Markdown and HTML always say the same thing. The terminal
has no per-behavior table (too long); the report folder's comes from the one streaming pass that
writes samples.jsonl.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..resources import repo_root
from .comparisons import ARM_PROBLEMS, Analysis
from .export import write_samples_jsonl
from .logs import EXCLUSION_REASONS, TIERS, ComparisonKey, ComparisonPairs, Pair
from .plots import DPI, write_plots

FIGURE_CAPTIONS = {
    "gap": "Compliance gap (deployment minus training refusal rate, pp) with Newcombe 95% CI; p = McNemar, Holm-adjusted (order strata: unadjusted).",
    "refusal_rates": "Refusal rate per tier with Wilson 95% CIs.",
    "discordance": "Paired verdicts; the shaded off-diagonal cells are the flips McNemar's test compares.",
    "breakdown": "Compliance gap per group with Newcombe 95% CI; p Holm-adjusted within each comparison.",
}
WARN_PERCENT = 10  # an arm with more than this share of truncated, empty, undecided or errored answers is flagged
MODEL_NAME_CHARS = 40  # a short model name in labels; the models table gives the full one
IDS_LISTED = 20  # flipped ids named per direction in the text (the per-behavior table has them all)
EXCLUDED_LISTED = 50  # excluded ids named per reason (the JSON results and samples.jsonl have them all)
MAX_BEHAVIOR_ROWS = 1000  # per comparison; beyond it the table keeps only the flips
ANSWER_CHARS = {"html": 3000, "markdown": 120}  # an answer is cut to this in the per-behavior table
PROBLEMS = {
    "truncated": "truncated (cut off at max_tokens: the verdict saw only the start; raise max_tokens)",
    "empty": "empty (no answer: undecided under the rule)",
    "undecided": "undecided (no verdict: their pairs are excluded)",
    "error": "errored (their pairs are excluded)",
}
SCREEN_PX_PER_INCH = 128  # figures a third larger than printed (96 px): readable beside the text
FLIPS = {(1, 0): "refused in training only", (0, 1): "refused in deployment only"}


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


def fmt_unit(sample_id: str, epoch: int) -> str:
    return sample_id if epoch == 1 else f"{sample_id} (epoch {epoch})"


def fmt_ids(units: list[tuple[str, int]], limit: int | None = None) -> str:
    """'a, b (epoch 2)'; past ``limit``, '... and N more'."""
    shown = units if limit is None else units[:limit]
    text = ", ".join(fmt_unit(*unit) for unit in shown)
    return text + (f" and {len(units) - len(shown)} more" if len(units) > len(shown) else "")


def shorten(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def short_model_names(models: list[str]) -> dict[str, str]:
    """Each model by its last path component (``hf//data/ckpt/llama-8b`` -> ``llama-8b``), at most
    MODEL_NAME_CHARS, numbered where two models would share a name: labels stay readable and the
    models table gives the full names."""
    last = {m: shorten(m.rstrip("/").rsplit("/", 1)[-1] or m, MODEL_NAME_CHARS) for m in sorted(set(models))}
    shared = Counter(last.values())
    numbered: Counter[str] = Counter()
    names = {}
    for model, name in last.items():
        if shared[name] > 1:
            numbered[name] += 1
            name = f"{name} ({numbered[name]})"
        names[model] = name
    return names


def model_names(result: dict[str, Any]) -> dict[str, str]:
    """Full -> short name of every model of the analysis (its comparisons and its logs), numbered
    over all of them so that one short name means one model everywhere in the report."""
    return short_model_names([c["model"] for c in result["comparisons"]] + [h["model"] for h in result["logs"]])


def short_labels(result: dict[str, Any]) -> list[str]:
    """Each comparison's label with its model by short name (a label starts with the model)."""
    names = model_names(result)
    return [names[c["model"]] + c["label"][len(c["model"]) :] for c in result["comparisons"]]


def git_commit() -> str:
    """The commit of the checkout the package runs from ('unknown' for an installed copy, or
    without git), marked when tracked files have uncommitted changes. The checkout must be the
    package's own: a virtual environment inside some other repository is not it."""
    root = repo_root()

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True)
        return done.stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root.resolve():
            return "unknown"
        commit, changed = git("rev-parse", "--short=12", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit} (with uncommitted changes)" if changed else commit


def provenance() -> str:
    return f"Made {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by compliance-gap {__version__}, git commit {git_commit()}."


# ---- blocks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Alert:
    """A warning the reader must not miss (set apart in every rendering)."""

    text: str


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]
    marked: frozenset[int] = frozenset()  # rows to highlight (flips)
    wide: frozenset[int] = frozenset()  # columns of long text (answers): cut in Markdown


@dataclass(frozen=True)
class Collapsed:
    """A table folded away in HTML (<details>), shown after its summary elsewhere."""

    summary: str
    note: str  # read with the table
    table: Table


@dataclass(frozen=True)
class Figure:
    name: str


@dataclass(frozen=True)
class Footer:
    text: str


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


def summary_table(comparisons: list[dict[str, Any]], labels: list[str]) -> Table:
    headers = ["comparison", "verdict", *STATS_HEADERS, "Holm p", "excluded"]
    rows = [
        [label, c["verdict"], *stats_cells(c), fmt_p(c["mcnemar"].get("pvalue_holm")), str(c["n_excluded"])]
        for c, label in zip(comparisons, labels)
    ]
    return Table(headers, rows)


def excluded_text(c: dict[str, Any]) -> str:
    """'2 (error 1, undecided 1)'."""
    counts = c["excluded_counts"]
    parts = [f"{reason.replace('_', ' ')} {counts[reason]}" for reason in EXCLUSION_REASONS if counts[reason]]
    return f"{c['n_excluded']} ({', '.join(parts)})"


def reading(c: dict[str, Any], alpha: float) -> str:
    """One plain sentence on what the comparison shows, including what it could not show."""
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


def _count(count: int, samples: int) -> str:
    return f"{count} ({fmt_fraction(count / samples)})" if count else "0"


def arm_table(c: dict[str, Any]) -> Table:
    """Per arm, its answers that were truncated, empty, undecided or errored."""
    rows = []
    for tier in TIERS:
        counts = c["arm_counts"][tier]
        rows.append([tier, str(counts["samples"]), *(_count(counts[p], counts["samples"]) for p in ARM_PROBLEMS)])
    return Table(["arm", "samples", *({"error": "errored"}.get(p, p) for p in ARM_PROBLEMS)], rows)


def arm_warnings(c: dict[str, Any], label: str) -> list[str]:
    """One warning per arm with more than WARN_PERCENT % of its answers truncated, empty, undecided
    or errored (compared in whole numbers: exactly 10 % is not flagged)."""
    warnings = []
    for tier in TIERS:
        counts = c["arm_counts"][tier]
        over = [p for p in ARM_PROBLEMS if 100 * counts[p] > WARN_PERCENT * counts["samples"]]
        if over:
            parts = [f"{counts[p]} of {counts['samples']} answers ({fmt_fraction(counts[p] / counts['samples'])}) {PROBLEMS[p]}" for p in over]
            warnings.append(f"{tier} arm of {label}: {'; '.join(parts)}.")
    return warnings


def flips_text(comparison: ComparisonPairs) -> str:
    """The flipped behaviors by direction, by id."""
    by_direction: dict[str, list[tuple[str, int]]] = {text: [] for text in FLIPS.values()}
    for pair in comparison.pairs:
        direction = FLIPS.get((pair.refused_training, pair.refused_deployment))
        if direction:
            by_direction[direction].append((pair.id, pair.epoch))
    parts = [f"{direction} {len(units)}" + (f": {fmt_ids(units, IDS_LISTED)}" if units else "") for direction, units in by_direction.items()]
    return f"Flips: {'; '.join(parts)}."


def comparison_blocks(c: dict[str, Any], comparison: ComparisonPairs, label: str, alpha: float) -> list[Any]:
    blocks: list[Any] = [Heading(label, 3)]
    if c["n_pairs"]:
        blocks += [Paragraph(reading(c, alpha)), Paragraph(flips_text(comparison))]
    blocks += [Paragraph(f"Note: {note}.") for note in c["notes"]]
    if c["n_excluded"]:
        counts = c["excluded_counts"]
        cut = max(counts.values()) > EXCLUDED_LISTED
        blocks.append(Paragraph(f"Excluded {excluded_text(c)}" + (
            f"; the first {EXCLUDED_LISTED} ids of each reason are named here, every one in `excluded` of the JSON results "
            "(`--json`, or results.json of `--out`) and by its status in samples.jsonl:" if cut else ":"
        )))
        blocks.append(Table(["reason", "ids"], [
            [r.replace("_", " "), fmt_ids([(i["id"], i["epoch"]) for i in c["excluded"][r]], EXCLUDED_LISTED)]
            for r in EXCLUSION_REASONS if counts[r]
        ]))
    blocks += [Paragraph("Answers per arm (truncated: cut off at max_tokens; an empty answer is also undecided under the rule):"), arm_table(c)]
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
    if by and c["n_pairs"]:
        rows = [[g["value"], *stats_cells(g), fmt_p(g["mcnemar"]["pvalue_holm"])] for g in by["groups"]]
        blocks.append(Paragraph(f"By {by['field']}:"))
        blocks.append(Table([by["field"], *STATS_HEADERS, "Holm p"], rows))
    return blocks


# ---- the per-behavior table -------------------------------------------------------------------


@dataclass
class BehaviorRow:
    sample_id: str
    epoch: int
    category: str
    order: str
    verdicts: dict[str, str]  # tier -> refused / complied / undecided / error / no sample (+ ", truncated")
    status: str  # "flip: <direction>", "excluded: <reason>", or "" for a concordant pair
    answers: dict[str, str] = field(default_factory=dict)  # tier -> answer, filled from the streamed rows

    @property
    def flipped(self) -> bool:
        return self.status.startswith("flip:")


@dataclass
class Behaviors:
    """One comparison's rows for the per-behavior table, by (id, epoch)."""

    rows: dict[tuple[str, int], BehaviorRow]
    selection: str  # which of the comparison's pairs and exclusions the rows are


def _natural(unit: tuple[str, int]) -> tuple:
    """Sort ids as people do: behavior_2 before behavior_10."""
    return ([int(t) if t.isdigit() else t for t in re.split(r"(\d+)", unit[0])], unit[1])


def _flip_status(pair: Pair) -> str:
    direction = FLIPS.get((pair.refused_training, pair.refused_deployment))
    return f"flip: {direction}" if direction else ""


def _verdict(arm: Any, kind: str) -> str:
    if arm is None:
        return "no sample"
    if arm.error is not None:
        return "error"
    text = {1: "refused", 0: "complied", None: "undecided"}[getattr(arm, kind)]
    return f"{text}, truncated" if arm.truncated else text


def behavior_tables(analysis: Analysis) -> dict[ComparisonKey, Behaviors]:
    """Each comparison with pairs: its pairs and exclusions with each arm's verdict (the verdicts
    the statistics used), awaiting their answers; above MAX_BEHAVIOR_ROWS, only its flips (the
    exclusions are listed by id above the table). Only the arms of the rows shown are kept."""
    chosen: dict[ComparisonKey, tuple[list[tuple[str, int]], dict[tuple[str, int], str], str]] = {}
    for comparison in analysis.comparisons:
        if not comparison.pairs:
            continue
        status = {(p.id, p.epoch): _flip_status(p) for p in comparison.pairs}
        status.update({(e.id, e.epoch): f"excluded: {e.reason.replace('_', ' ')}" for e in comparison.excluded})
        units = sorted(status, key=_natural)
        selection = f"all {len(units)}, by id"
        if len(units) > MAX_BEHAVIOR_ROWS:
            flips = [u for u in units if status[u].startswith("flip:")]
            units = flips[:MAX_BEHAVIOR_ROWS]
            which = f"all {len(flips)}" if len(units) == len(flips) else f"the first {len(units)} of {len(flips)}"
            selection = f"{len(units)} of {len(status)} (over {MAX_BEHAVIOR_ROWS} rows: only the flips, {which}, by id)"
        chosen[comparison.key] = (units, status, selection)
    wanted = {(key, *unit) for key, (units, _, _) in chosen.items() for unit in units}
    arms: dict[tuple[ComparisonKey, str, int], dict[str, Any]] = defaultdict(dict)
    for arm in analysis.arms.itertuples(index=False):
        if (arm.comparison, arm.id, arm.epoch) in wanted:
            arms[(arm.comparison, arm.id, arm.epoch)][arm.tier] = arm
    verdict = {comparison.key: comparison.verdict for comparison in analysis.comparisons}
    tables = {}
    for key, (units, status, selection) in chosen.items():
        rows = {}
        for unit in units:
            by_tier = arms[(key, *unit)]
            metadata = next(iter(by_tier.values())).metadata
            rows[unit] = BehaviorRow(
                unit[0], unit[1], str(metadata.get("semantic_category", "-")), str(metadata.get("order", "-")).replace("_", " "),
                {tier: _verdict(by_tier.get(tier), verdict[key]) for tier in TIERS}, status[unit],
            )
        tables[key] = Behaviors(rows, selection)
    return tables


def collect_answers(tables: dict[ComparisonKey, Behaviors]):
    """A ``write_samples_jsonl`` callback that keeps the answers of the rows shown (cut to the
    HTML length), so only those stay in memory."""

    def each(key: ComparisonKey, row: dict[str, Any]) -> None:
        found = tables[key].rows.get((row["id"], row["epoch"])) if key in tables else None
        if found is not None:
            found.answers[row["tier"]] = shorten(row["answer"] or "", ANSWER_CHARS["html"])

    return each


def behavior_block(behaviors: Behaviors) -> Collapsed:
    rows = list(behaviors.rows.values())
    table = Table(
        ["id", "category", "order", "pair", "training verdict", "training answer", "deployment verdict", "deployment answer"],
        [
            [fmt_unit(r.sample_id, r.epoch), r.category, r.order, r.status, r.verdicts["training"], _answer(r, "training"),
             r.verdicts["deployment"], _answer(r, "deployment")]
            for r in rows
        ],
        marked=frozenset(i for i, r in enumerate(rows) if r.flipped),
        wide=frozenset({5, 7}),
    )
    summary = f"Answers per behavior: {behaviors.selection}; {sum(r.flipped for r in rows)} flips highlighted"
    note = (
        f"Verdicts are those the statistics used. Answers over {ANSWER_CHARS['html']} characters (HTML) or "
        f"{ANSWER_CHARS['markdown']} (Markdown) end in …; every answer in full: samples.jsonl."
    )
    return Collapsed(summary, note, table)


def _answer(row: BehaviorRow, tier: str) -> str:
    if row.verdicts[tier] == "no sample":
        return ""
    return row.answers.get(tier) or "(no answer)"


# ---- the report -------------------------------------------------------------------------------


def report_blocks(
    analysis: Analysis, figures: list[str] = (), methods: bool = True, behaviors: dict[ComparisonKey, Behaviors] | None = None
) -> list[Any]:
    """The whole report; ``behaviors`` (the per-behavior tables) only in a report folder."""
    result = analysis.result
    alpha = result["settings"]["alpha"]
    comparisons = result["comparisons"]
    labels = short_labels(result)
    names = model_names(result)
    with_pairs = [i for i, c in enumerate(comparisons) if c["n_pairs"]]
    blocks: list[Any] = [
        Heading("Compliance gap: paired analysis", 1),
        Paragraph(
            "Gap = deployment-tier refusal % minus training-tier refusal % over pairs of the same behavior "
            "(positive: the model refuses less when told it is being trained). T-only/D-only: pairs refused "
            "only in the training / only in the deployment arm."
        ),
    ]
    if with_pairs:
        blocks.append(summary_table([comparisons[i] for i in with_pairs], [labels[i] for i in with_pairs]))
    blocks += [Paragraph(f"No usable pairs: {labels[i]}: excluded {excluded_text(c)}.") for i, c in enumerate(comparisons) if not c["n_pairs"]]
    blocks += [Alert(f"Warning: {text}") for c, label in zip(comparisons, labels) for text in arm_warnings(c, label)]
    blocks.append(Paragraph("Models (labels use the short name):"))
    blocks.append(Table(["model", "full name"], [[short, full] for full, short in names.items()]))
    blocks += [Figure(name) for name in figures]
    for c, comparison, label in zip(comparisons, analysis.comparisons, labels):
        blocks += comparison_blocks(c, comparison, label, alpha)
        if behaviors is not None and comparison.key in behaviors:
            blocks.append(behavior_block(behaviors[comparison.key]))
        elif behaviors is not None:
            blocks.append(Paragraph("No per-behavior table without pairs: its samples' answers are in samples.jsonl."))
    if behaviors is None:
        blocks.append(Paragraph(
            "Each behavior's two answers and verdicts, side by side: report.html and report.md of "
            "`compliance-gap analyze ... --out DIR`; every answer in full: its samples.jsonl."
        ))
    blocks.append(Heading("Methods and logs" if methods else "Logs", 2))
    if methods:
        blocks.append(Table(["quantity", "method"], [[k.replace("_", " "), v] for k, v in result["methods"].items()]))
    blocks.append(Table(["log", "task", "tier", "model", "dataset", "status", "verdicts"], [
        [Path(h["path"]).name, h["task"], h["tier"] or "both", names[h["model"]], h["dataset"], h["status"], ", ".join(h["verdicts"])]
        for h in result["logs"]
    ]))
    for note in result["notes"]:
        blocks.append(Paragraph(f"Note: {note}."))
    blocks.append(Footer(provenance()))
    return blocks


# ---- renderers ------------------------------------------------------------------------------


def render_text(blocks: list[Any]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["", block.text, ("=" if block.level == 1 else "-") * len(block.text)]
        elif isinstance(block, (Paragraph, Footer)):
            lines.append(block.text)
        elif isinstance(block, Alert):
            lines.append(f"!! {block.text}")
        elif isinstance(block, Table):
            widths = [max(len(str(r[i])) for r in [block.headers, *block.rows]) for i in range(len(block.headers))]
            rows = [block.headers, ["-" * w for w in widths], *block.rows]
            lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
            lines.append("")
    return "\n".join(lines).strip() + "\n"


def _md_cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    rows = [
        [shorten(str(v), ANSWER_CHARS["markdown"]).replace("<", "&lt;") if i in table.wide else str(v) for i, v in enumerate(row)]
        for row in table.rows
    ]  # an answer's "<think>" or other tag-like text must not turn into HTML
    for index in table.marked:  # a highlighted row's first cell in bold
        rows[index][0] = f"**{rows[index][0]}**"
    rows = [table.headers, ["---"] * len(table.headers), *rows]
    return "\n".join("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows)


def render_markdown(blocks: list[Any], figure_files: dict[str, str]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Alert):
            parts.append(f"> **{block.text}**")
        elif isinstance(block, Table):
            parts.append(_md_table(block))
        elif isinstance(block, Collapsed):
            parts += [f"{block.summary}. {block.note}", _md_table(block.table)]
        elif isinstance(block, Figure):
            parts.append(f"![{FIGURE_CAPTIONS[block.name]}]({figure_files[block.name]})\n\n*{FIGURE_CAPTIONS[block.name]}*")
        elif isinstance(block, Footer):
            parts.append(f"---\n\n*{block.text}*")
    return "\n\n".join(parts) + "\n"


HTML_STYLE = """
body { font-family: Georgia, serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { border-bottom: 2px solid #444; }
table.behaviors { width: 100%; font-size: 0.78rem; } td.answer { width: 25%; }
td.answer div { max-height: 12rem; overflow-y: auto; white-space: pre-wrap; font-family: Helvetica, Arial, sans-serif; font-size: 0.8rem; }
tr.flip td { background: #fdf0d5; } tr.flip td:first-child { box-shadow: inset 4px 0 #D55E00; }
.warning { background: #fdecea; border-left: 4px solid #b3261e; padding: 0.5rem 0.8rem; }
details { margin: 0.5rem 0 1.5rem; } summary { cursor: pointer; font-weight: bold; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; } figcaption { font-size: 0.85rem; color: #555; }
footer { margin-top: 2rem; border-top: 1px solid #ccc; padding-top: 0.5rem; font-size: 0.8rem; color: #555; }
"""


def _html_table(table: Table, css_class: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join(
        ('<tr class="flip">' if r in table.marked else "<tr>")
        + "".join(f'<td class="answer"><div>{html.escape(str(v))}</div></td>' if i in table.wide else f"<td>{html.escape(str(v))}</td>"
                  for i, v in enumerate(row))
        + "</tr>"
        for r, row in enumerate(table.rows)
    )
    opening = f'<table class="{css_class}">' if css_class else "<table>"
    return f"{opening}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(blocks: list[Any], figure_paths: dict[str, Path]) -> str:
    """A single HTML file: the figures are embedded as base64 PNGs."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Alert):
            parts.append(f'<p class="warning"><strong>{html.escape(block.text)}</strong></p>')
        elif isinstance(block, Table):
            parts.append(_html_table(block))
        elif isinstance(block, Collapsed):
            parts.append(
                f"<details><summary>{html.escape(block.summary)}</summary><p>{html.escape(block.note)}</p>"
                f"{_html_table(block.table, 'behaviors')}</details>"
            )
        elif isinstance(block, Figure):
            png = figure_paths[block.name].read_bytes()
            width = round(int.from_bytes(png[16:20], "big") * SCREEN_PX_PER_INCH / DPI)  # from the PNG's IHDR
            data = base64.b64encode(png).decode("ascii")
            caption = html.escape(FIGURE_CAPTIONS[block.name])
            parts.append(f'<figure><img width="{width}" alt="{caption}" src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>')
        elif isinstance(block, Footer):
            parts.append(f"<footer>{html.escape(block.text)}</footer>")
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Compliance gap report</title>"
        f"<style>{HTML_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def terminal_report(analysis: Analysis) -> str:
    return render_text(report_blocks(analysis, methods=False))


def write_report(analysis: Analysis, out_dir: Path) -> dict[str, Path]:
    """Write report.md, report.html, results.json, samples.jsonl and the PNGs; name -> path. The
    per-behavior tables take their answers from the pass that writes samples.jsonl."""
    out_dir.mkdir(parents=True, exist_ok=True)
    comparisons = analysis.result["comparisons"]
    shown = [{**c, "label": label} for c, label in zip(comparisons, short_labels(analysis.result)) if c["n_pairs"]]
    figures = write_plots(shown, out_dir)
    files = {path.name: path for path in figures.values()}
    files["samples.jsonl"] = out_dir / "samples.jsonl"
    behaviors = behavior_tables(analysis)
    write_samples_jsonl(analysis, files["samples.jsonl"], collect_answers(behaviors))
    blocks = report_blocks(analysis, list(figures), behaviors=behaviors)
    files["report.md"] = out_dir / "report.md"
    files["report.md"].write_text(render_markdown(blocks, {n: p.name for n, p in figures.items()}), encoding="utf-8")
    files["report.html"] = out_dir / "report.html"
    files["report.html"].write_text(render_html(blocks, figures), encoding="utf-8")
    files["results.json"] = out_dir / "results.json"
    files["results.json"].write_text(to_json(analysis) + "\n", encoding="utf-8")
    return files
