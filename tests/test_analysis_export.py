"""samples.jsonl from one streaming pass per log: the same rows, in the same order, as the
per-sample reader it replaced (kept below as the reference), each log's archive opened once and
its entries read one at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log, read_eval_log_samples, write_eval_log

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


def counting_reads(monkeypatch) -> tuple[list[str], list[tuple[str, str]]]:
    """Record each archive export opens (its path) and each entry it reads from one (path, name)."""
    opened, read = [], []
    real_open = export.open_eval_archive

    def counting_open(path):
        archive = real_open(path)
        opened.append(path)
        real_read = archive.read

        def counting_read(name, *args):
            read.append((path, name))
            return real_read(name, *args)

        archive.read = counting_read
        return archive

    monkeypatch.setattr(export, "open_eval_archive", counting_open)
    return opened, read


def test_each_log_is_opened_once_and_its_entries_streamed_one_at_a_time(expected, monkeypatch):
    """One archive open per log and one read per sample entry (one open per sample took minutes at
    study scale), and the first row is out after one entry is read: no log's samples are held."""
    analysis, expected = expected
    opened, read = counting_reads(monkeypatch)
    rows = export.sample_rows(analysis)
    first = next(rows)
    assert len(read) == 1 and len(opened) == 1
    assert as_written([first, *rows]) == expected
    assert sorted(opened) == sorted(h.path for h in analysis.headers)
    assert len(read) == len(set(read)) == 3 * 120  # 120 samples per log, each entry read once


def test_only_the_fields_rows_are_made_from_are_read(expected):
    """Of an entry, only the fields its kind of rows are made from are validated: never the events
    or attachments; a tier log's messages and output, a paired log's store (which holds both arms)."""
    analysis, _ = expected
    units = export.log_units(analysis)
    for header in analysis.headers:
        samples = list(export.stream_samples(header, units[header.path][:3]))
        assert [(str(s.id), s.epoch) for s in samples] == units[header.path][:3]
        assert all(s.events == [] and s.attachments == {} and s.scores for s in samples)
        assert all(bool(s.messages) is (header.kind == "tier") for s in samples), header.kind
        assert all(bool(s.store) is (header.kind == "paired") for s in samples), header.kind


def test_json_logs_give_the_same_rows(study, expected, tmp_path):
    """A log written as one JSON file is read whole, with the same rows as its .eval twin."""
    folder = tmp_path / "json"
    for path in sorted(study.glob("*.eval")):
        write_eval_log(read_eval_log(str(path)), str(folder / path.with_suffix(".json").name), format="json")
    analysis = analyze([folder])
    rows = [json.loads(row) for row in as_written(export.sample_rows(analysis))]
    for row in rows:
        assert row.pop("log").endswith(".json")
    assert rows == [{k: v for k, v in json.loads(row).items() if k != "log"} for row in expected[1]]


def test_cli_out_writes_the_same_samples_jsonl(study, expected, tmp_path, capsys):
    assert main(["analyze", str(study), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "samples.jsonl").read_text(encoding="utf-8").splitlines() == expected[1]
    assert "Report:" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no staging folder left behind
