"""The report folder (Markdown, self-contained HTML, valid PNGs, results.json, samples.jsonl),
the terminal table, and `compliance-gap demo` ending with the analysis."""

from __future__ import annotations

import argparse
import base64
import json
import re

import matplotlib.image as mpimg
import pytest
from inspect_ai import eval as inspect_eval
from PIL import Image

from compliance_gap import demo
from compliance_gap.analysis import Settings, analyze
from compliance_gap.analysis.report import terminal_report, write_report
from compliance_gap.framing import framing_text
from compliance_gap.options import Tier
from compliance_gap.scripted import scripted_model
from compliance_gap.tasks import free_tier, paid_tier

from . import analysis_runs
from .analysis_runs import ERRORED, IDS, PATTERN, UNDECIDED

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ["gap.png", "refusal_rates.png", "discordance.png", "gap_by_group.png"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    runs = analysis_runs.build(tmp_path_factory)
    analysis = analyze([runs.tiers, runs.paired], Settings(by="semantic_category"))
    out = tmp_path_factory.mktemp("report")
    return analysis, write_report(analysis, out), out


def test_report_files_exist(report):
    _, files, out = report
    for name in ["report.md", "report.html", "results.json", "samples.jsonl", *FIGURES]:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
        assert files[name] == out / name


@pytest.mark.parametrize("name", FIGURES)
def test_figures_are_valid_pngs(report, name):
    path = report[2] / name
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 200
    assert pixels.std() > 0.01  # something was drawn


def test_html_is_self_contained_with_every_figure_embedded(report):
    out = report[2]
    html = (out / "report.html").read_text()
    sources = re.findall(r'src="([^"]+)"', html)
    assert len(sources) == len(FIGURES)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in sources}
    assert embedded == {(out / name).read_bytes() for name in FIGURES}
    assert "<link" not in html and "http" not in html


def test_markdown_has_the_tables_figures_and_flags(report):
    markdown = (report[2] / "report.md").read_text()
    for name in FIGURES:
        assert f"]({name})" in markdown
    assert "| comparison | verdict | pairs |" in markdown
    assert "A/A control (training)" in markdown
    assert "confounded with call order" in markdown
    assert "+33.3" in markdown  # the known pattern's gap
    assert ERRORED in markdown and UNDECIDED in markdown  # excluded ids are listed


def test_results_json_is_strict_json(report):
    text = (report[2] / "results.json").read_text()
    parsed = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in results.json"))
    assert len(parsed["comparisons"]) == 4


def test_samples_jsonl_has_every_arm_with_its_answer_prompt_and_status(report):
    rows = [json.loads(line) for line in (report[2] / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * len(IDS) * 4  # tier logs (2 x 14) + three paired logs (2 arms x 14 each)
    for row in rows:
        assert {"id", "tier", "order", "prompt", "answer", "trace", "verdicts", "status"} <= set(row)
    tier_rows = {(r["id"], r["tier"]): r for r in rows if r["order"] is None}  # tier logs record no order
    assert tier_rows[(ERRORED, "training")]["status"] == "excluded: error"
    assert "scripted failure" in tier_rows[(ERRORED, "training")]["error"]
    assert tier_rows[(UNDECIDED, "deployment")]["status"] == "excluded: undecided"
    assert tier_rows[(IDS[4], "deployment")]["answer"] == PATTERN[IDS[4]][1]
    assert tier_rows[(IDS[4], "deployment")]["verdicts"]["rule"]["refused"] == 1
    for row in rows:
        if row["status"] == "paired":
            framing = Tier(row["control"] or row["tier"])
            assert framing_text(framing) in row["prompt"], (row["id"], row["tier"])
            assert row["answer"] == PATTERN[row["id"]][0 if row["tier"] == "training" or row["control"] else 1]


def test_both_arms_prompts_are_what_the_model_saw(report):
    rows = [json.loads(line) for line in (report[2] / "samples.jsonl").read_text().splitlines()]
    paired = [r for r in rows if r["order"] is not None and r["status"] == "paired"]
    assert {r["tier"] for r in paired} == {"training", "deployment"}
    seen = set(analysis_runs.SEEN)  # conversation_text of every conversation the model was shown
    for row in paired:
        texts = re.split(r"(?:^|\n\n)\[(?:system|user|assistant)\]\n", row["prompt"])[1:]
        assert "\n".join(texts) in seen, (row["id"], row["tier"])


def test_terminal_report_shows_the_summary_table(report):
    text = terminal_report(report[0])
    assert "comparison" in text and "McNemar p" in text and "+33.3" in text
    assert "Within each call order" in text and "By semantic_category" in text


def test_demo_ends_with_the_analysis(tmp_path, monkeypatch, capsys):
    def scripted_demo(log_dir, max_tokens, limit):
        tasks = [free_tier(dataset=str(analysis_runs.DEMO_CSV)), paid_tier(dataset=str(analysis_runs.DEMO_CSV))]
        model = scripted_model(analysis_runs.respond)
        return inspect_eval(tasks, model=model, log_dir=str(log_dir), display="none", fail_on_error=False)

    monkeypatch.setattr(demo, "run_demo", scripted_demo)
    assert demo._main(argparse.Namespace(log_dir=tmp_path, max_tokens=8, limit=None)) == 0
    out = capsys.readouterr().out
    assert "+33.3 [" in out and "McNemar" in out
    assert (tmp_path / "report" / "report.html").is_file() and (tmp_path / "report" / "gap.png").is_file()
