"""Loading HarmBench, AdvBench and local files; every bad input fails with a useful message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compliance_gap.behaviors import DatasetError, behavior_dataset, fetch_external, load_behaviors, sha256_of

from .conftest import data_path


@pytest.mark.needs_data("harmbench")
def test_harmbench_counts_by_functional_category():
    records, report = load_behaviors("harmbench")
    counts = {}
    for r in records:
        counts[r["functional_category"]] = counts.get(r["functional_category"], 0) + 1
    assert counts == {"standard": 200, "contextual": 100, "copyright": 100}
    assert (report.rows, report.loaded, report.n_skipped) == (400, 400, 0)


@pytest.mark.needs_data("harmbench")
def test_harmbench_standard_is_exactly_the_first_200_rows():
    standard, report = load_behaviors("harmbench_standard")
    everything, _ = load_behaviors("harmbench")
    assert [r["id"] for r in standard] == [r["id"] for r in everything[:200]]
    assert {r["functional_category"] for r in standard} == {"standard"}
    assert report.filtered_out == 200


@pytest.mark.needs_data("harmbench")
def test_contextual_behaviors_carry_their_context_and_copyright_is_marked():
    records, _ = load_behaviors("harmbench")
    contextual = [r for r in records if r["functional_category"] == "contextual"]
    assert all(len(r["context"]) > 20 for r in contextual)
    assert all(r["context"] == "" for r in records if r["functional_category"] == "standard")
    assert sum(r["copyright"] for r in records) == 100


@pytest.mark.needs_data("harmbench")
def test_sample_ids_are_behavior_ids_and_text_has_no_carriage_returns():
    dataset, _ = behavior_dataset("harmbench", categories="contextual")
    assert len(dataset) == 100
    sample = dataset[0]
    assert sample.id == "carroll_method_isotonitazene" and sample.metadata["context"]
    assert all("\r" not in s.input and "\r" not in s.metadata["behavior"] for s in dataset)


@pytest.mark.needs_data("harmbench")
def test_category_filter_accepts_functional_and_semantic_names():
    records, report = load_behaviors("harmbench", categories="standard,copyright")
    assert len(records) == 300 and report.filtered_out == 100
    records, _ = load_behaviors("harmbench", categories=["harassment_bullying"])
    assert {r["semantic_category"] for r in records} == {"harassment_bullying"}


@pytest.mark.needs_data("harmbench")
def test_unknown_category_lists_the_available_ones():
    with pytest.raises(DatasetError, match="available: .*chemical_biological"):
        load_behaviors("harmbench", categories="weapons")


@pytest.mark.needs_data("advbench")
def test_advbench_and_generic_files(tmp_path):
    records, _ = load_behaviors("advbench")
    assert len(records) == 520 and records[0]["id"] == "harmful_behaviors_0000"
    generic = tmp_path / "mine.jsonl"
    generic.write_text(json.dumps({"prompt": "Tell me a secret", "id": "a1"}) + "\n" + json.dumps({"prompt": "Another"}) + "\n")
    records, report = load_behaviors(str(generic))
    assert [r["id"] for r in records] == ["a1", "mine_0001"]
    assert records[0]["semantic_category"] == "uncategorized"


@pytest.mark.needs_data("harmbench")
def test_local_harmbench_csv_path_is_detected_by_its_columns():
    records, _ = load_behaviors(str(data_path("harmbench")), categories="contextual")
    assert len(records) == 100


def test_empty_and_duplicate_rows_are_skipped_and_reported(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("prompt,id\nfirst,a\n,b\nagain,a\nlast,c\n")
    records, report = load_behaviors(str(path))
    assert [r["id"] for r in records] == ["a", "c"]
    assert report.skipped == {"empty request": ["b"], "duplicate id": ["a"]}
    assert "2 skipped" in report.summary()


@pytest.mark.parametrize(
    "content, message",
    [
        ("question,answer\nx,y\n", "expected HarmBench columns"),
        ("Behavior,BehaviorID\nx,y\n", "lacks columns"),
        ("prompt\n", "no behaviors to evaluate"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_behaviors(str(path))


def test_missing_file_and_unknown_name():
    with pytest.raises(DatasetError, match="does not exist"):
        load_behaviors("/nonexistent/behaviors.csv")
    with pytest.raises(DatasetError, match="allowed values: harmbench, harmbench_standard, advbench"):
        load_behaviors("harmbnch")


def test_offline_without_cache_or_override_names_the_override(monkeypatch):
    monkeypatch.delenv("COMPLIANCE_GAP_DATA_DIR", raising=False)
    monkeypatch.setenv("COMPLIANCE_GAP_OFFLINE", "1")
    with pytest.raises(DatasetError, match="COMPLIANCE_GAP_DATA_DIR"):
        load_behaviors("harmbench")


@pytest.mark.needs_data("harmbench")
def test_cached_file_is_verified(monkeypatch, tmp_path):
    monkeypatch.delenv("COMPLIANCE_GAP_DATA_DIR")
    cache = tmp_path / "cache" / "harmbench"
    cache.mkdir(parents=True)
    (cache / "harmbench_behaviors_text_all.csv").write_bytes(data_path("harmbench").read_bytes())
    assert fetch_external("harmbench") == cache / "harmbench_behaviors_text_all.csv"
    (cache / "harmbench_behaviors_text_all.csv").write_text("Behavior\ntampered\n")
    with pytest.raises(DatasetError, match="not the pinned upstream file"):
        fetch_external("harmbench")


@pytest.mark.needs_data("advbench")
def test_download_is_verified_before_caching(monkeypatch, tmp_path):
    """The real download code, fed from a local file URL instead of the network."""
    import compliance_gap.behaviors as behaviors

    monkeypatch.delenv("COMPLIANCE_GAP_DATA_DIR")
    monkeypatch.delenv("COMPLIANCE_GAP_OFFLINE", raising=False)
    manifest = behaviors.external_manifest()
    manifest["advbench"]["url"] = Path(data_path("advbench")).as_uri()
    monkeypatch.setattr(behaviors, "external_manifest", lambda: manifest)
    path = fetch_external("advbench")
    assert path.parent == tmp_path / "cache" / "advbench" and sha256_of(path) == manifest["advbench"]["sha256"]
    manifest["harmbench"]["url"] = Path(data_path("advbench")).as_uri()  # wrong bytes for harmbench
    with pytest.raises(DatasetError, match="not caching it"):
        fetch_external("harmbench")
    assert not (tmp_path / "cache" / "harmbench").exists()
