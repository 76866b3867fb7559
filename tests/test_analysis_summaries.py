"""The sample summaries the analysis reads are exactly Inspect's, from finished logs, from the
journal of a log that never finished, and with a requeued sample's last row, without Inspect's
second thinning pass (the time of reading them at study scale)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log_sample_summaries

from compliance_gap.analysis.summaries import sample_summaries

from . import analysis_runs
from .test_analysis_faults import drop_member


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return analysis_runs.build(tmp_path_factory)


def dumped(summaries) -> list[dict]:
    """As JSON round-trips them: an unscored judge's NaN is written "NaN", so equal summaries compare equal."""
    return [json.loads(summary.model_dump_json()) for summary in summaries]


def all_logs(runs) -> list[Path]:
    return sorted(p for folder in (runs.tiers, runs.other, runs.paired, runs.judged) for p in folder.glob("*.eval"))


def unfinished_copy(runs, tmp_path) -> Path:
    """A paired log as a crashed run leaves it: its summaries only in the journal."""
    source = sorted(runs.paired.glob("*.eval"))[0]
    path = tmp_path / source.name
    shutil.copy(source, path)
    drop_member(path, "summaries.json")
    with zipfile.ZipFile(path) as archive:
        assert "_journal/summaries/1.json" in archive.namelist() and "summaries.json" not in archive.namelist()
    return path


def test_the_summaries_are_inspects_for_every_kind_of_log(runs):
    logs = all_logs(runs)
    assert len(logs) >= 8  # tier, paired (three designs), judged
    for path in logs:
        assert dumped(sample_summaries(str(path))) == dumped(read_eval_log_sample_summaries(str(path))), path.name


def test_a_log_that_never_finished_is_read_from_its_journal(runs, tmp_path):
    path = str(unfinished_copy(runs, tmp_path))
    expected = dumped(read_eval_log_sample_summaries(path))
    assert len(expected) == len(analysis_runs.IDS)
    assert dumped(sample_summaries(path)) == expected


def test_a_requeued_sample_counts_by_its_last_row_in_its_first_place(runs, tmp_path):
    path = unfinished_copy(runs, tmp_path)
    with zipfile.ZipFile(path) as archive:
        first = json.loads(archive.read("_journal/summaries/1.json"))[0]
    rerun = {**first, "error": "the re-run failed", "uuid": "rerun"}
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("_journal/summaries/2.json", json.dumps([rerun]))
    expected = dumped(read_eval_log_sample_summaries(str(path)))
    assert expected[0]["uuid"] == "rerun" and len(expected) == len(analysis_runs.IDS)
    assert dumped(sample_summaries(str(path))) == expected


def test_the_summaries_are_not_thinned_a_second_time(runs, monkeypatch):
    """Inspect thinned them when it wrote them; thinning again was most of the reading time."""
    import inspect_ai.log._log as inspect_log

    class ThinnedAgain(Exception):
        pass

    def thinning(*args, **kwargs):
        raise ThinnedAgain

    monkeypatch.setattr(inspect_log, "thin_metadata", thinning)
    path = str(sorted(runs.paired.glob("*.eval"))[0])
    with pytest.raises(ThinnedAgain):
        read_eval_log_sample_summaries(path)
    assert len(sample_summaries(path)) == len(analysis_runs.IDS)
