"""Shared fixtures: the reference data in ../shared/data, offline mode, temporary log folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
HARMBENCH_CSV = SHARED_DATA / "harmbench" / "harmbench_behaviors_text_all.csv"
ADVBENCH_CSV = SHARED_DATA / "advbench" / "harmful_behaviors.csv"
GOLD_106 = SHARED_DATA / "gold_106" / "gold_106.json"
DEMO_CSV = REPO / "data" / "demo_behaviors.csv"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("INSPECT_LOG_LEVEL", "warning")


@pytest.fixture(autouse=True)
def shared_data(monkeypatch, tmp_path):
    """Named data sets resolve to ../shared/data; the download cache is a fresh folder."""
    if not HARMBENCH_CSV.is_file():
        pytest.fail(f"reference data missing: {HARMBENCH_CSV} (CI puts shared/ beside the clone)")
    monkeypatch.setenv("COMPLIANCE_GAP_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("COMPLIANCE_GAP_CACHE", str(tmp_path / "cache"))
    return SHARED_DATA
