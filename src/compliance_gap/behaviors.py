"""Load harmful-behavior data sets (HarmBench, AdvBench, local CSV/JSONL) as Inspect samples.

Every row is either loaded or counted as skipped with its reason (``LoadReport``); nothing is
dropped silently. External files are downloaded from pinned upstream commits and verified by
SHA-256 (``data/external_datasets.json``), then cached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from inspect_ai.dataset import MemoryDataset, Sample

from .resources import data_dir

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "COMPLIANCE_GAP_DATA_DIR"
CACHE_ENV = "COMPLIANCE_GAP_CACHE"
OFFLINE_ENV = "COMPLIANCE_GAP_OFFLINE"
HARMBENCH_COLUMNS = ("Behavior", "FunctionalCategory", "SemanticCategory", "ContextString", "BehaviorID")
NAMED_DATASETS = ("harmbench", "harmbench_standard", "advbench")
STANDARD_ROWS = 200  # the first 200 HarmBench rows are exactly the standard behaviors


class DatasetError(ValueError):
    """A data set could not be found, verified or parsed; the message names the fix."""


@dataclass
class LoadReport:
    source: str
    rows: int = 0
    loaded: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> row ids
    filtered_out: int = 0  # rows outside the requested categories

    def skip(self, reason: str, row_id: str) -> None:
        self.skipped.setdefault(reason, []).append(row_id)

    @property
    def n_skipped(self) -> int:
        return sum(len(ids) for ids in self.skipped.values())

    def summary(self) -> str:
        text = f"{self.source}: {self.rows} rows, {self.loaded} loaded, {self.n_skipped} skipped"
        if self.filtered_out:
            text += f", {self.filtered_out} outside the requested categories"
        for reason, ids in self.skipped.items():
            text += f"\n  skipped ({reason}): {', '.join(ids)}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "loaded": self.loaded,
            "skipped": self.n_skipped,
            "skipped_ids": self.skipped,
            "filtered_out": self.filtered_out,
        }


def external_manifest() -> dict[str, dict[str, Any]]:
    manifest = json.loads((data_dir() / "external_datasets.json").read_text())
    return {k: v for k, v in manifest.items() if not k.startswith("_")}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _offline() -> bool:
    """Downloads of the pinned data sets are off only when asked (``HF_HUB_OFFLINE`` is about models)."""
    return os.environ.get(OFFLINE_ENV) == "1"


def _cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "compliance_gap"))


def _verified(path: Path, expected: str, origin: str) -> Path:
    actual = sha256_of(path)
    if actual != expected:
        raise DatasetError(
            f"{origin} {path} has SHA-256 {actual}, expected {expected}: it is not the pinned "
            "upstream file. Replace it, or pass it as -T dataset=PATH to use it unverified."
        )
    return path


def fetch_external(name: str) -> Path:
    """Path of a pinned external file: override folder, else cache, else download and verify."""
    entry = external_manifest()[name]
    filename, expected = entry["file"], entry["sha256"]
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        for candidate in (Path(override) / filename, Path(override) / name / filename):
            if candidate.is_file():
                return _verified(candidate, expected, f"{DATA_DIR_ENV} file")
        raise DatasetError(f"{DATA_DIR_ENV}={override} has no {filename} (looked in it and in its '{name}/' folder)")
    cached = _cache_dir() / name / filename
    if cached.is_file():
        return _verified(cached, expected, "cached file")
    hint = (
        f"Set {DATA_DIR_ENV} to a folder holding {filename} (for example ../shared/data), "
        f"or pass -T dataset=/path/to/{filename}."
    )
    if _offline():
        raise DatasetError(f"{name} is not cached at {cached} and downloads are off (offline mode). {hint}")
    logger.info("downloading %s from %s", name, entry["url"])
    try:
        with urllib.request.urlopen(entry["url"], timeout=30) as response:
            payload = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise DatasetError(f"could not download {name} from {entry['url']} ({error}). {hint}") from error
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise DatasetError(f"downloaded {name} has SHA-256 {actual}, expected {expected}; not caching it. {hint}")
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(payload)
    return cached


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DatasetError(f"dataset file {path} does not exist; pass an existing CSV/JSONL path or one of {', '.join(NAMED_DATASETS)}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix in (".jsonl", ".json"):
            text = path.read_text(encoding="utf-8")
            rows = [json.loads(line) for line in text.splitlines() if line.strip()] if suffix == ".jsonl" else json.loads(text)
            if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                raise ValueError("expected a list of objects (one per line for .jsonl)")
            return pd.DataFrame.from_records(rows).fillna("").astype(str)
    except (ValueError, pd.errors.ParserError) as error:
        raise DatasetError(f"cannot parse {path}: {error}") from error
    raise DatasetError(f"dataset file {path} must end in .csv, .jsonl or .json")


def _clean(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _rows_to_records(frame: pd.DataFrame, source: str, report: LoadReport) -> list[dict[str, Any]]:
    """Map any supported table layout onto HarmBench's fields."""
    columns = set(frame.columns)
    if "BehaviorID" in columns or "Behavior" in columns:
        missing = [c for c in HARMBENCH_COLUMNS if c not in columns]
        if missing:
            raise DatasetError(f"{source} looks like HarmBench but lacks columns {missing}; expected {list(HARMBENCH_COLUMNS)}")
        layout = {"request": "Behavior", "id": "BehaviorID", "functional": "FunctionalCategory", "semantic": "SemanticCategory", "context": "ContextString", "tags": "Tags"}
    elif {"goal", "target"} <= columns:
        layout = {"request": "goal"}
    elif "prompt" in columns:
        layout = {"request": "prompt", "id": "id", "functional": "functional_category", "semantic": "semantic_category", "context": "context", "tags": "tags"}
    else:
        raise DatasetError(
            f"{source} has columns {sorted(columns)}; expected HarmBench columns {list(HARMBENCH_COLUMNS)}, "
            "AdvBench columns [goal, target], or a generic file with a 'prompt' column (and optional 'id')"
        )
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, row in enumerate(frame.to_dict("records")):
        get = lambda key: _clean(row.get(layout[key])) if key in layout else ""  # noqa: E731
        row_id = get("id") or f"{Path(source).stem}_{index:04d}"
        report.rows += 1
        if not get("request"):
            report.skip("empty request", row_id)
            continue
        if row_id in seen:
            report.skip("duplicate id", row_id)
            continue
        seen.add(row_id)
        functional = get("functional") or "standard"
        records.append(
            {
                "id": row_id,
                "behavior": get("request"),
                "functional_category": functional,
                "semantic_category": get("semantic") or "uncategorized",
                "context": get("context"),
                "tags": get("tags"),
                "copyright": functional == "copyright",
            }
        )
    return records


def load_behaviors(dataset: str = "harmbench", categories: str | list[str] | None = None) -> tuple[list[dict[str, Any]], LoadReport]:
    """Records for ``dataset`` (a named set or a file path), filtered by functional or semantic category."""
    if dataset in NAMED_DATASETS:
        path = fetch_external("advbench" if dataset == "advbench" else "harmbench")
    elif dataset.endswith((".csv", ".jsonl", ".json")) or os.sep in dataset or "/" in dataset:
        path = Path(dataset).expanduser()
    else:
        raise DatasetError(f"unknown dataset '{dataset}'; allowed values: {', '.join(NAMED_DATASETS)}, or a path to a .csv/.jsonl file")
    report = LoadReport(source=dataset)
    frame = _read_table(path)
    if dataset == "harmbench_standard":
        report.filtered_out += max(len(frame) - STANDARD_ROWS, 0)
        frame = frame.iloc[:STANDARD_ROWS]
    records = _rows_to_records(frame, str(path), report)
    wanted = _parse_categories(categories)
    if wanted:
        known = {r["functional_category"] for r in records} | {r["semantic_category"] for r in records}
        unknown = wanted - known
        if unknown:
            raise DatasetError(f"unknown categories {sorted(unknown)} for {dataset}; available: {', '.join(sorted(known))}")
        kept = [r for r in records if {r["functional_category"], r["semantic_category"]} & wanted]
        report.filtered_out += len(records) - len(kept)
        records = kept
    report.loaded = len(records)
    if not records:
        raise DatasetError(f"dataset {dataset} has no behaviors to evaluate ({report.summary()}); check the file and the categories filter")
    if report.n_skipped:
        logger.warning("%s", report.summary())
    return records, report


def _parse_categories(categories: str | list[str] | None) -> set[str]:
    if not categories:
        return set()
    items = categories.split(",") if isinstance(categories, str) else categories
    return {c.strip() for c in items if c.strip()}


def behavior_samples(records: list[dict[str, Any]]) -> list[Sample]:
    """One sample per behavior; the id is the BehaviorID so the two tiers' logs pair."""
    return [
        Sample(
            id=record["id"],
            input=record["behavior"],
            metadata={k: v for k, v in record.items() if k != "id"},
        )
        for record in records
    ]


def behavior_dataset(dataset: str = "harmbench", categories: str | list[str] | None = None) -> tuple[MemoryDataset, LoadReport]:
    records, report = load_behaviors(dataset, categories)
    return MemoryDataset(behavior_samples(records), name=Path(dataset).stem), report


def input_hash(sample: Any) -> str:
    """What the model was asked: the sample input and, for contextual behaviors, the context
    (a ``Sample``, or a log's sample or summary)."""
    value = sample.input if isinstance(sample.input, str) else [(m.role, m.text) for m in sample.input]
    asked = json.dumps([value, (sample.metadata or {}).get("context")], ensure_ascii=False)
    return hashlib.sha256(asked.encode()).hexdigest()[:16]


def dataset_digest(asked: dict[str, str]) -> str:
    """One hash of a data set from each sample id's ``input_hash``, independent of sample order."""
    return hashlib.sha256(json.dumps(sorted(asked.items())).encode()).hexdigest()[:16]
