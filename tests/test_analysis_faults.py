"""Damaged logs and bad report folders: one clear line naming the file and the entry, exit 2,
nothing printed and no report (or an earlier report left as it was)."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import zstandard

from compliance_gap.analysis import analyze
from compliance_gap.analysis.logs import LogSetError
from compliance_gap.cli import main

from . import analysis_runs
from .analysis_runs import IDS


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return analysis_runs.build(tmp_path_factory)


def member_data_offset(path: Path, name: str) -> tuple[int, int]:
    """Where a zip member's compressed bytes start in the file, and how many there are."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
    start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
    return start, info.compress_size


def garble(path: Path, member: str) -> None:
    """Overwrite the middle of a member's compressed bytes in place (a disk or copy fault)."""
    start, size = member_data_offset(path, member)
    with path.open("r+b") as handle:
        handle.seek(start + size // 3)
        handle.write(b"\xff" * max(8, size // 3))


def drop_member(path: Path, member: str) -> None:
    """Rewrite the archive without one member (the other members kept, recompressed)."""
    decompress = zstandard.ZstdDecompressor()
    with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist()]
    contents = {}
    for name in names:
        start, size = member_data_offset(path, name)
        with path.open("rb") as handle:
            handle.seek(start)
            contents[name] = decompress.decompressobj().decompress(handle.read(size))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            if name != member:
                archive.writestr(name, contents[name])


def tier_copy(runs, tmp_path) -> tuple[Path, Path]:
    """A copy of the two tier logs; returns (folder, the training log)."""
    folder = tmp_path / "logs"
    folder.mkdir()
    for tier in ("training", "deployment"):
        shutil.copy(runs.tier_log(tier), folder)
    return folder, folder / runs.tier_log("training").name


def run_cli(args, capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("compliance-gap analyze: error:") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_a_corrupted_sample_entry_names_file_and_entry_and_writes_no_report(runs, tmp_path, capsys):
    folder, training = tier_copy(runs, tmp_path)
    garble(training, f"samples/{IDS[4]}_epoch_1.json")
    code, out, err = run_cli(["analyze", str(folder), "--out", str(tmp_path / "report")], capsys)
    assert code == 2 and out == ""  # nothing printed before everything was read
    assert_one_line_error(err, training.name, f"sample {IDS[4]} (epoch 1)", "damaged")
    assert not (tmp_path / "report").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]  # no staging folder left behind


def test_a_deleted_sample_entry_is_an_error_not_a_missing_row(runs, tmp_path, capsys):
    folder, training = tier_copy(runs, tmp_path)
    drop_member(training, f"samples/{IDS[2]}_epoch_1.json")
    code, out, err = run_cli(["analyze", str(folder), "--out", str(tmp_path / "report")], capsys)
    assert code == 2 and out == ""
    assert_one_line_error(err, training.name, f"sample {IDS[2]} (epoch 1)", "entry is missing")
    assert not (tmp_path / "report").exists()


def test_a_failed_analysis_leaves_an_earlier_report_as_it_was(runs, tmp_path, capsys):
    folder, training = tier_copy(runs, tmp_path)
    report = tmp_path / "report"
    assert main(["analyze", str(folder), "--out", str(report)]) == 0
    before = {p.name: p.read_bytes() for p in report.iterdir()}
    assert {"report.md", "report.html", "results.json", "samples.jsonl"} <= set(before)
    garble(training, f"samples/{IDS[7]}_epoch_1.json")
    capsys.readouterr()
    code, out, err = run_cli(["analyze", str(folder), "--out", str(report)], capsys)
    assert code == 2 and out == ""
    assert {p.name: p.read_bytes() for p in report.iterdir()} == before


@pytest.mark.parametrize("member, fragments", [
    ("summaries.json", ["sample summaries of", "damaged"]),
    ("header.json", ["as an Inspect log"]),
])
def test_corrupted_summaries_or_header_name_the_file(runs, tmp_path, capsys, member, fragments):
    folder, training = tier_copy(runs, tmp_path)
    garble(training, member)
    code, out, err = run_cli(["analyze", str(folder), "--json"], capsys)
    assert code == 2 and out == ""
    assert_one_line_error(err, training.name, *fragments)


def test_a_finished_log_whose_summaries_lack_samples_is_an_error(runs, tmp_path):
    folder, training = tier_copy(runs, tmp_path)
    decompress = zstandard.ZstdDecompressor()
    start, size = member_data_offset(training, "summaries.json")
    with training.open("rb") as handle:
        handle.seek(start)
        summaries = json.loads(decompress.decompressobj().decompress(handle.read(size)))
    drop_member(training, "summaries.json")
    with zipfile.ZipFile(training, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summaries.json", json.dumps(summaries[:-1]))
    with pytest.raises(LogSetError, match=f"{training.name} finished with {len(IDS)} samples but its summaries list {len(IDS) - 1}"):
        analyze([folder])


def test_out_on_an_existing_file_is_an_error_before_any_work(tmp_path, capsys):
    target = tmp_path / "report.md"
    target.write_text("mine")
    # the log path does not exist either: the --out check comes first, before any log is read
    code, out, err = run_cli(["analyze", str(tmp_path / "no-logs"), "--out", str(target)], capsys)
    assert code == 2 and out == ""
    assert_one_line_error(err, str(target), "is a file, not a folder")
    code, _, err = run_cli(["analyze", str(tmp_path / "no-logs"), "--out", str(target / "sub")], capsys)
    assert code == 2
    assert_one_line_error(err, "report.md is a file, not a folder")
    assert target.read_text() == "mine"


def test_out_in_a_read_only_place_is_an_error_before_any_work(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes through permission bits; /sys is read-only for everyone
        place = Path("/sys/compliance-gap-report")
        if os.access("/sys", os.W_OK) and not Path("/sys").is_mount():
            pytest.skip("no read-only folder to test with")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        place = locked / "report"
    code, out, err = run_cli(["analyze", str(tmp_path / "no-logs"), "--out", str(place)], capsys)
    assert code == 2 and out == ""
    assert_one_line_error(err, str(place), "cannot write in", "choose a folder you can write to")
    assert not place.exists()
