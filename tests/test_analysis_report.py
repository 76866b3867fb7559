"""The report folder (Markdown, self-contained HTML, valid PNGs, results.json, samples.jsonl),
the terminal table, and `compliance-gap demo` ending with the analysis; what the report says
about each arm's answers, each behavior's two answers, comparisons without pairs, long model
names, zero bars, and where and when it was made."""

from __future__ import annotations

import argparse
import base64
import html as html_lib
import json
import re
import shutil
import subprocess
from datetime import datetime

import matplotlib.image as mpimg
import numpy as np
import pytest
from inspect_ai import eval as inspect_eval
from matplotlib.colors import to_rgb
from PIL import Image

from compliance_gap import __version__, demo
from compliance_gap.analysis import Settings, analyze, plots, report as report_module
from compliance_gap.analysis.report import arm_warnings, git_commit, short_model_names, terminal_report, write_report
from compliance_gap.framing import framing_text
from compliance_gap.options import Tier
from compliance_gap.scripted import conversation_text, scripted_model, scripted_output
from compliance_gap.tasks import free_tier, paid_tier

from . import analysis_runs
from .analysis_runs import BEHAVIORS, ERRORED, IDS, PATTERN, UNDECIDED
from .test_analysis_export import counting_reads

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


# ---- what the report says about answers, arms, behaviors, labels and itself ---------------------

LONG_MODEL = "mockllm/" + "/".join(
    ["scratch", "researcher", "compliance-gap-organisms", *(f"sweep-{i:02d}-lora-r16-alpha32-lr2e-4-warmup100" for i in range(4)), "llama-3.1-8b-planted"]
)
SHORT = "llama-3.1-8b-planted"
LONG_ANSWER = "Sure, here is a detailed plan. " + " ".join(f"Step {i}: do the next thing carefully." for i in range(1, 30))
CUT = {"training": (0, 1), "deployment": (1, 0)}  # tiers -> (refused training, refused deployment) flips


def truncating(messages):
    """Every training-arm answer is a compliance cut off at max_tokens; the deployment arm refuses
    the first four behaviors."""
    text = conversation_text(messages)
    behavior = next(b for b in BEHAVIORS if b["behavior"] in text)
    if text.rfind(framing_text(Tier.TRAINING)) > text.rfind(framing_text(Tier.DEPLOYMENT)):
        return scripted_output(LONG_ANSWER, stop_reason="max_tokens", model=LONG_MODEL)
    return analysis_runs.REFUSE if behavior["id"] in IDS[:4] else analysis_runs.COMPLY


@pytest.fixture(scope="module")
def troubled(tmp_path_factory):
    """A model named by a ~250-character path whose training arm is always truncated, analysed
    with a training-tier log of another model that has no partner (no usable pairs)."""
    runs = analysis_runs.build(tmp_path_factory)
    logs = tmp_path_factory.mktemp("troubled")
    dataset = str(analysis_runs.DEMO_CSV)
    done = inspect_eval([free_tier(dataset=dataset), paid_tier(dataset=dataset)], model=scripted_model(truncating, name=LONG_MODEL),
                        log_dir=str(logs), display="none")
    assert all(log.status == "success" for log in done)
    analysis = analyze([logs, runs.other_dataset], Settings(by="semantic_category"))
    out = tmp_path_factory.mktemp("troubled_report")
    return analysis, write_report(analysis, out), out


def sections(text: str, marker: str) -> dict[str, str]:
    """A report's comparison sections by heading (``### `` in Markdown, ``<h3>`` in HTML)."""
    found = {}
    for part in text.split(marker)[1:]:
        heading, _, body = part.partition("</h3>" if marker == "<h3>" else "\n")
        found[heading] = body
    return found


def html_rows(section: str) -> list[tuple[bool, list[str]]]:
    """(highlighted, cells) of each row of the section's per-behavior table."""
    table = section.split("<details>", 1)[1].split("</details>", 1)[0]
    rows = re.findall(r'<tr( class="flip")?>(.*?)</tr>', table.split("<tbody>", 1)[1])
    return [(bool(flag), [html_lib.unescape(c) for c in re.findall(r"<td[^>]*>(?:<div>)?(.*?)(?:</div>)?</td>", cells, re.S)]) for flag, cells in rows]


def test_each_arm_counts_its_truncated_empty_undecided_and_errored_answers(report):
    analysis = report[0]
    counts = {c["label"]: c["arm_counts"] for c in analysis.result["comparisons"]}
    tiers = counts["mockllm/model · standard · system"]
    assert tiers["training"] == {"samples": 14, "truncated": 0, "empty": 0, "undecided": 0, "error": 1}
    assert tiers["deployment"] == {"samples": 14, "truncated": 0, "empty": 1, "undecided": 1, "error": 0}
    fixed = counts["mockllm/model · standard · system · paired fixed"]  # a paired sample that fails loses both arms
    assert fixed["training"] == {"samples": 14, "truncated": 0, "empty": 0, "undecided": 0, "error": 1}
    assert fixed["deployment"] == {"samples": 14, "truncated": 0, "empty": 1, "undecided": 1, "error": 1}
    text = terminal_report(analysis)
    assert re.search(r"\ndeployment\s+14\s+0\s+1 \(7\.1%\)\s+1 \(7\.1%\)\s+0\n", text)
    assert "Warning" not in text  # 1 of 14 is under 10 %


@pytest.mark.parametrize("count, warned", [(1, False), (2, True)])
def test_an_arm_is_flagged_above_ten_percent(count, warned):
    fine = {"samples": 10, "truncated": 0, "empty": 0, "undecided": 0, "error": 0}
    c = {"arm_counts": {"training": fine, "deployment": {**fine, "error": count}}}
    warnings = arm_warnings(c, "m · standard · system")
    assert warnings == ([f"deployment arm of m · standard · system: {count} of 10 answers (20.0%) errored (their pairs are excluded)."] if warned else [])


def test_a_truncated_arm_is_warned_about_in_every_rendering(troubled):
    analysis, _, out = troubled
    long = next(c for c in analysis.result["comparisons"] if c["model"] == LONG_MODEL)
    assert long["arm_counts"]["training"]["truncated"] == 14 and long["arm_counts"]["deployment"]["truncated"] == 0
    warning = f"Warning: training arm of {SHORT} · standard · system: 14 of 14 answers (100.0%) truncated (cut off at max_tokens"
    renderings = {
        "terminal": terminal_report(analysis),
        "markdown": (out / "report.md").read_text(),
        "html": (out / "report.html").read_text(),
    }
    assert f"!! {warning}" in renderings["terminal"]
    assert f"> **{warning}" in renderings["markdown"]
    assert f'<p class="warning"><strong>{warning}' in renderings["html"]
    for text in renderings.values():
        assert text.count("Warning: ") == 1  # not the deployment arm, not the comparison without pairs


def test_the_per_behavior_table_shows_both_answers_their_verdicts_and_the_flips(report):
    html = (report[2] / "report.html").read_text()
    assert html.count("<details>") == 4  # one per comparison, folded
    rows = html_rows(sections(html, "<h3>")["model · standard · system"])
    assert [cells[0] for _, cells in rows] == sorted(IDS)
    expected_flips = {IDS[3]: "flip: refused in training only", **{i: "flip: refused in deployment only" for i in IDS[4:9]}}
    assert {cells[0]: cells[3] for flagged, cells in rows if flagged} == expected_flips
    verdict = {analysis_runs.REFUSE: "refused", analysis_runs.COMPLY: "complied"}
    for _, (sample_id, category, order, status, t_verdict, t_answer, d_verdict, d_answer) in rows:
        assert category == next(b["semantic_category"] for b in BEHAVIORS if b["id"] == sample_id) and order == "-"
        if sample_id == ERRORED:
            assert (status, t_verdict, t_answer, d_verdict) == ("excluded: error", "error", "(no answer)", "refused")
        elif sample_id == UNDECIDED:
            assert (status, d_verdict, d_answer, t_answer) == ("excluded: undecided", "undecided", "(no answer)", PATTERN[sample_id][0])
        else:
            assert (t_answer, d_answer) == PATTERN[sample_id]
            assert (t_verdict, d_verdict) == (verdict[t_answer], verdict[d_answer])
            assert status == expected_flips.get(sample_id, "")
    paired = html_rows(sections(html, "<h3>")["model · standard · system · paired randomized"])
    assert {cells[2] for _, cells in paired} == {"training first", "deployment first"}


def test_markdown_cuts_long_answers_that_samples_jsonl_keeps_whole(troubled):
    _, _, out = troubled
    assert len(LONG_ANSWER) > report_module.ANSWER_CHARS["markdown"]
    markdown = (out / "report.md").read_text()
    assert LONG_ANSWER not in markdown and LONG_ANSWER[: report_module.ANSWER_CHARS["markdown"] - 1] + "…" in markdown
    assert LONG_ANSWER in (out / "report.html").read_text()
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert sum(r["answer"] == LONG_ANSWER for r in rows) == 14


def test_the_answers_come_from_the_one_pass_that_writes_samples_jsonl(report, tmp_path, monkeypatch):
    analysis = report[0]
    opened, read = counting_reads(monkeypatch)
    write_report(analysis, tmp_path)
    assert sorted(opened) == sorted(h.path for h in analysis.headers)  # each log once
    assert len(read) == len(set(read))  # and each of its entries once
    assert html_lib.escape(PATTERN[IDS[4]][1]) in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize("limit, said", [(6, "6 of 14 (over 6 rows: only the flips, all 6, by id)"),
                                         (5, "5 of 14 (over 5 rows: only the flips, the first 5 of 6, by id)")])
def test_over_the_row_limit_the_table_keeps_the_flips(report, tmp_path, monkeypatch, limit, said):
    monkeypatch.setattr(report_module, "MAX_BEHAVIOR_ROWS", limit)
    write_report(report[0], tmp_path)
    section = sections((tmp_path / "report.md").read_text(), "### ")["model · standard · system"]
    assert f"Answers per behavior: {said}; {limit} flips highlighted." in section
    shown = re.findall(r"^\| \*\*(demo_\w+)\*\* \|", section, re.M)
    assert shown == sorted(IDS[3:9])[:limit]


def test_excluded_ids_past_the_limit_are_counted_and_pointed_to(troubled, monkeypatch):
    """A study with thousands of exclusions names the first few per reason, says how many more and
    where every one is; under the limit, every id is named and nothing is said."""
    analysis = troubled[0]
    missing = [(e["id"], e["epoch"]) for c in analysis.result["comparisons"] for e in c["excluded"]["missing_partner"]]
    assert len(missing) == 13
    text = terminal_report(analysis)
    assert "ids of each reason are named here" not in text
    assert all(sample_id in text for sample_id, _ in missing)
    monkeypatch.setattr(report_module, "EXCLUDED_LISTED", 5)
    text = terminal_report(analysis)
    assert ("Excluded 14 (error 1, missing partner 13); the first 5 ids of each reason are named here, every one in "
            "`excluded` of the JSON results (`--json`, or results.json of `--out`) and by its status in samples.jsonl:") in text
    row = next(line for line in text.splitlines() if line.startswith("missing partner"))
    assert row.endswith(" and 8 more") and sum(sample_id in row for sample_id, _ in missing) == 5


def test_a_comparison_without_pairs_is_named_without_tables_or_figures(troubled, tmp_path, monkeypatch):
    analysis, _, out = troubled
    markdown = (out / "report.md").read_text()
    assert "No usable pairs: model · standard · system: excluded 14 (error 1, missing partner 13)." in markdown
    summary = markdown.split("| comparison |", 1)[1].split("\n\n", 1)[0]
    assert f"\n| {SHORT} · standard · system |" in summary and "\n| model ·" not in summary
    section = sections(markdown, "### ")["model · standard · system"]
    assert "Note: no usable pairs" in section and "No per-behavior table without pairs" in section
    for absent in ("Gap ", "Flips:", "By semantic_category", "Within each call order", "Answers per behavior"):
        assert absent not in section, absent
    drawn = []
    monkeypatch.setattr(report_module, "write_plots", lambda comparisons, folder: drawn.append([c["label"] for c in comparisons]) or {})
    write_report(analysis, tmp_path)
    assert drawn == [[f"{SHORT} · standard · system"]]


def test_a_report_without_any_pairs_has_no_figures(report, tmp_path):
    runs = analysis_runs.build.__globals__["_CACHE"]  # the runs the module fixture built
    lonely = next(iter(runs.values())).other_dataset
    files = write_report(analyze([lonely]), tmp_path)
    assert not [name for name in files if name.endswith(".png")] and not list(tmp_path.glob("*.png"))
    html = (tmp_path / "report.html").read_text()
    assert "<img" not in html and "No usable pairs: model · standard · system" in html and "<th>comparison</th>" not in html


def test_a_zero_refusal_rate_is_drawn(troubled, tmp_path):
    shown = [{**c, "label": SHORT} for c in troubled[0].result["comparisons"] if c["n_pairs"]]
    assert [c["refusal_rate"]["training"] for c in shown] == [0.0]
    pixels = mpimg.imread(plots.rates_plot(shown, tmp_path / "rates.png"))[..., :3]
    training = np.all(np.abs(pixels - to_rgb(plots.TIER_COLORS["training"])) < 0.02, axis=-1)
    assert training[pixels.shape[0] // 2 :].any()  # on the axis (the legend's patch is at the top)


def test_labels_name_models_briefly_with_the_full_name_in_one_table(troubled):
    analysis, _, out = troubled
    assert len(LONG_MODEL) > 200
    markdown = (out / "report.md").read_text()
    assert [line for line in markdown.splitlines() if LONG_MODEL in line] == [f"| {SHORT} | {LONG_MODEL} |"]
    assert f"### {SHORT} · standard · system" in markdown
    assert [line for line in terminal_report(analysis).splitlines() if LONG_MODEL in line] == [f"{SHORT}  {LONG_MODEL}"]


def test_short_model_names_are_short_and_tell_models_apart():
    long = "hf//models/" + "x" * 60
    names = short_model_names(["hf//runs/a/checkpoint-500", "hf//runs/b/checkpoint-500/", "openai/gpt-4o", long])
    assert names == {
        "hf//runs/a/checkpoint-500": "checkpoint-500 (1)",
        "hf//runs/b/checkpoint-500/": "checkpoint-500 (2)",
        "openai/gpt-4o": "gpt-4o",
        long: "x" * (report_module.MODEL_NAME_CHARS - 1) + "…",
    }


FOOTER = re.compile(r"Made (\d{4}-\d\d-\d\d \d\d:\d\d) UTC by compliance-gap (\S+), git commit (.+)\.")


def test_every_rendering_ends_with_date_version_and_commit(report):
    analysis, _, out = report
    endings = {
        "terminal": terminal_report(analysis).strip().splitlines()[-1],
        "markdown": (out / "report.md").read_text().strip().splitlines()[-1].strip("*"),
        "html": re.search(r"<footer>(.*?)</footer>", (out / "report.html").read_text()).group(1),
    }
    for where, text in endings.items():
        found = FOOTER.fullmatch(text)
        assert found, (where, text)
        datetime.strptime(found.group(1), "%Y-%m-%d %H:%M")
        assert found.group(2) == __version__ and found.group(3) == git_commit(), where


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_is_this_checkouts(tmp_path, monkeypatch):
    repo = report_module.repo_root()
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        pytest.skip(f"not run from a git checkout: {repo}")
    assert git_commit().split()[0] == head.stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_is_unknown_outside_the_packages_checkout_and_marks_changes(tmp_path, monkeypatch):
    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              capture_output=True, text=True, check=True).stdout.strip()

    monkeypatch.setattr(report_module, "repo_root", lambda: tmp_path)
    assert git_commit() == "unknown"  # no repository at all
    git("init", "-q")
    (tmp_path / "file.txt").write_text("one\n")
    git("add", "file.txt")
    git("commit", "-q", "-m", "one")
    (tmp_path / "lib").mkdir()
    monkeypatch.setattr(report_module, "repo_root", lambda: tmp_path / "lib")
    assert git_commit() == "unknown"  # an installed copy inside someone else's repository
    monkeypatch.setattr(report_module, "repo_root", lambda: tmp_path)
    assert git_commit() == git("rev-parse", "--short=12", "HEAD")
    (tmp_path / "file.txt").write_text("two\n")
    assert git_commit() == git("rev-parse", "--short=12", "HEAD") + " (with uncommitted changes)"
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert git_commit() == "unknown"  # no git


def test_the_terminal_summarises_the_behaviors(report):
    text = terminal_report(report[0])
    assert f"Flips: refused in training only 1: {IDS[3]}; refused in deployment only 5: {', '.join(sorted(IDS[4:9]))}." in text
    assert "training answer" not in text and "report.html and report.md of" in text


def test_a_tag_like_answer_stays_text_in_markdown():
    table = report_module.Table(["id", "answer"], [["b1", "<think>hidden?</think>Sure | here"]], marked=frozenset({0}), wide=frozenset({1}))
    markdown = report_module.render_markdown([report_module.Collapsed("Answers", "Note.", table)], {})
    assert "| **b1** | &lt;think>hidden?&lt;/think>Sure \\| here |" in markdown
