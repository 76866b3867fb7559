"""samples.jsonl from one streaming pass per log: the same rows, in the same order, as the
per-sample reader it replaced (kept below as the reference), read a chunk at a time with no
per-sample archive opens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log_samples

from compliance_gap.analysis import analyze
from compliance_gap.analysis import export
from compliance_gap.analysis.logs import ComparisonKey
from compliance_gap.cli import main

from .analysis_study import build_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return build_study(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def expected(study):
    """The analysis of the study logs and the rows the per-sample reader writes for it."""
    analysis = analyze([study])
    return analysis, as_written(reference_rows(analysis))


# ---- the reference: samples.jsonl as written before the single pass (export.py at b11e9a1): every
# sample through read_eval_log_samples, in the log's order --------------------------------------


def reference_rows(analysis):
    """Every sample read in turn by Inspect's plain reader; each arm shaped by the one verdict reader
    (``export._arm_rows``, whose rows are checked in test_analysis_logs/test_paired)."""
    status, verdict_of = {}, {}
    for comparison in analysis.comparisons:
        verdict_of[comparison.key] = comparison.verdict
        for pair in comparison.pairs:
            status[(comparison.key, pair.id, pair.epoch)] = "paired"
        for exclusion in comparison.excluded:
            status[(comparison.key, exclusion.id, exclusion.epoch)] = f"excluded: {exclusion.reason}"
    for header in analysis.headers:
        for sample in read_eval_log_samples(header.path, all_samples_required=False):
            metadata = sample.metadata or {}
            key = ComparisonKey.of(header.model, metadata)
            for arm in export._arm_rows(header, sample):
                yield {
                    "id": str(sample.id),
                    "epoch": sample.epoch,
                    "model": header.model,
                    "mode": key.mode,
                    "placement": key.placement,
                    "control": key.control,
                    "order": metadata.get("order"),
                    **arm,
                    "verdict_used": verdict_of.get(key),
                    "status": status.get((key, str(sample.id), sample.epoch), "unpaired"),
                    "error": sample.error.message if sample.error else None,
                    "log": Path(header.path).name,
                }


def as_written(rows) -> list[str]:
    return [json.dumps(row, ensure_ascii=False, default=str) for row in rows]


# ---- tests ------------------------------------------------------------------------------------


def test_single_pass_writes_the_same_rows_in_the_same_order(expected, tmp_path):
    analysis, expected = expected
    assert len(expected) == 480  # 60 behaviors x 2 epochs: 120 samples per tier log, 120 paired samples of two arms
    statuses = {json.loads(row)["status"] for row in expected}
    assert {"paired", "excluded: error", "excluded: undecided"} <= statuses
    assert any(json.loads(row)["trace"] for row in expected)  # every row shape is exercised
    path = tmp_path / "samples.jsonl"
    assert export.write_samples_jsonl(analysis, path) == len(expected)
    assert path.read_text(encoding="utf-8").splitlines() == expected


def test_samples_are_read_in_bounded_chunks_never_one_open_per_sample(expected, monkeypatch):
    """A small chunk makes several reads per log; each read holds at most CHUNK samples, and no
    sample is read on its own (the per-sample path that took minutes at study scale)."""
    analysis, expected = expected
    reads = []
    real_read = export.read_eval_log_samples_by_id

    def counting(path, units):
        reads.append(len(units))
        return real_read(path, units)

    def forbidden(*args, **kwargs):
        raise AssertionError("one sample read on its own")

    monkeypatch.setattr(export, "CHUNK", 50)
    monkeypatch.setattr(export, "read_eval_log_samples_by_id", counting)
    monkeypatch.setattr(export, "read_eval_log_sample", forbidden)
    assert as_written(export.sample_rows(analysis)) == expected
    assert max(reads) == 50 and sum(reads) == 3 * 120 and len(reads) == 3 * 3  # 120 samples per log: 50 + 50 + 20


def test_cli_out_writes_the_same_samples_jsonl(study, expected, tmp_path, capsys):
    assert main(["analyze", str(study), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "samples.jsonl").read_text(encoding="utf-8").splitlines() == expected[1]
    assert "Report:" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no staging folder left behind
