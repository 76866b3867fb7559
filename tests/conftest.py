"""Shared fixtures: the reference data sets, offline mode, temporary log folders.

The reference files (HarmBench, AdvBench, gold_106) come from ``../shared/data`` when it is
beside the clone (CI, offline), otherwise from the project's own pinned, hash-checked download
(a user's clone). When neither works, only the tests marked ``needs_data`` skip, each naming
the missing file and how to provide it; every other test runs.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

from compliance_gap.behaviors import DATA_DIR_ENV, DatasetError, external_manifest, fetch_external

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
DEMO_CSV = REPO / "data" / "demo_behaviors.csv"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("INSPECT_LOG_LEVEL", "warning")


@cache
def reference_file(name: str) -> Path | str:
    """The verified local path of reference data set ``name``, or why there is none."""
    entry = external_manifest()[name]
    shared = SHARED_DATA / name / entry["file"]
    if shared.is_file():
        return shared
    try:  # the user's path: the pinned download into the project's cache, checked by SHA-256
        return fetch_external(name)
    except DatasetError as error:
        return (
            f"reference file {entry['file']} ({name}) is not available: no {shared} and the pinned download "
            f"failed ({str(error).split(' (')[0]}). Put the shared data folder beside the clone, set "
            f"COMPLIANCE_GAP_DATA_DIR to a folder holding {entry['file']}, or run once with network access"
        )


def data_path(name: str) -> Path:
    """The path of a reference file, for tests marked ``needs_data(name)`` (which skip without it)."""
    found = reference_file(name)
    assert isinstance(found, Path), found
    return found


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_data(*names): needs these reference data sets; skipped, saying why, without them")


@cache
def data_dir() -> Path | None:
    """The folder that named data sets resolve to in tests: ../shared/data, else the download cache."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    found = [p for p in map(reference_file, external_manifest()) if isinstance(p, Path)]
    return found[0].parents[1] if found else None


@pytest.fixture(autouse=True)
def shared_data(request, monkeypatch, tmp_path):
    """Named data sets resolve to the reference files; the download cache is a fresh folder.
    A test marked ``needs_data`` skips, naming the file, when one of its data sets is missing."""
    marker = request.node.get_closest_marker("needs_data")
    for name in marker.args if marker else ():
        found = reference_file(name)
        if not isinstance(found, Path):
            pytest.skip(found)
    if data_dir() is not None:
        monkeypatch.setenv(DATA_DIR_ENV, str(data_dir()))
    monkeypatch.setenv("COMPLIANCE_GAP_CACHE", str(tmp_path / "cache"))
