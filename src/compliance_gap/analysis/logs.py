"""Read tier and paired task logs and pair each training-arm verdict with its deployment twin.

The log fields read here are the contract in docs/log-format.md. Headers come from
``read_eval_log(header_only=True)``, per-sample rows from ``inspect_ai.analysis.samples_df``;
one row per arm (a paired-task sample gives two). Every sample ends up in a pair or in an
exclusion with its reason; bad sets of logs (different datasets, two logs for one arm) are
errors that name the files.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd
from inspect_ai.analysis import SampleSummary, samples_df
from inspect_ai.log import list_eval_logs, read_eval_log

from ..options import Tier, choose

TIERS = (Tier.TRAINING.value, Tier.DEPLOYMENT.value)
TIER_SCORERS = {"rule": "refusal_scorer", "judge": "compliance_judge"}
PAIRED_SCORERS = {"rule": "paired_refusal_scorer", "judge": "paired_compliance_judge"}
PAIRED_TASK = "paired"
EXCLUSION_REASONS = ("error", "undecided", "missing_partner")  # a pair is counted under the first that applies


class Verdict(str, Enum):
    """Which verdict decides refused/complied: the judge's when every log has it, else the rule's."""

    AUTO = "auto"
    RULE = "rule"
    JUDGE = "judge"


class LogSetError(ValueError):
    """The logs cannot be analysed together; the message names the files and the fix."""


class ForeignLogError(LogSetError):
    """An Inspect log of some other task (skipped in a folder, an error when named)."""


@dataclass(frozen=True)
class LogHeader:
    path: str
    eval_id: str
    task: str
    kind: str  # "tier" or "paired"
    tier: str | None  # the tier of a tier log; None for a paired log (it holds both)
    model: str
    dataset: str
    status: str
    verdicts: tuple[str, ...]  # verdict kinds ("rule", "judge") whose scorers ran

    @property
    def name(self) -> str:
        return Path(self.path).name

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "task": self.task,
            "kind": self.kind,
            "tier": self.tier,
            "model": self.model,
            "dataset": self.dataset,
            "status": self.status,
            "verdicts": list(self.verdicts),
        }


VARIANT_FIELDS = ("tier_tag", "elicitation", "protocol", "carryover")  # sample metadata that defines a design
FRAMING_DEFAULTS = {"tier_tag": False, "elicitation": "none"}  # what logs made before these options existed ran
VARIANT_DEFAULTS = {**FRAMING_DEFAULTS, "carryover": False}  # left out of labels
VARIANT_LABELS = {"tier_tag": "tier tag", "elicitation": "elicitation {}", "protocol": "paired {}", "carryover": "carryover"}


@dataclass(frozen=True)
class ComparisonKey:
    """One comparison: both arms of one model under one framing and design. Besides mode and
    placement, the variant fields a log records (tier tag, elicitation cue, paired protocol,
    carryover) keep runs of different designs from being pooled."""

    model: str
    mode: str | None
    placement: str | None
    variant: tuple[tuple[str, Any], ...] = ()  # (field, value) for each VARIANT_FIELDS present
    control: str | None = None  # A/A control run: the tier whose framing both arms used

    @classmethod
    def of(cls, model: str, metadata: dict[str, Any]) -> ComparisonKey:
        values = {**FRAMING_DEFAULTS, **{f: v for f, v in metadata.items() if v is not None}}
        variant = tuple((f, values[f]) for f in VARIANT_FIELDS if f in values)
        return cls(model, metadata.get("mode"), metadata.get("placement"), variant, metadata.get("control"))

    def label(self) -> str:
        parts = [self.model, str(self.mode), str(self.placement)]
        for name, value in self.variant:
            if VARIANT_DEFAULTS.get(name) == value:
                continue
            parts.append(VARIANT_LABELS[name].format(value))
        if self.control:
            parts.append(f"A/A control ({self.control})")
        return " · ".join(parts)

    def sort_key(self) -> tuple:
        return (self.control is not None, self.model, str(self.mode), str(self.placement), str(self.variant), str(self.control))


@dataclass(frozen=True)
class Pair:
    id: str
    epoch: int
    refused_training: int
    refused_deployment: int
    metadata: dict[str, Any]  # the training arm's sample metadata (order, categories, ...)
    partner_metadata: dict[str, Any]  # the deployment arm's

    @property
    def order(self) -> str | None:
        return self.metadata.get("order")


@dataclass(frozen=True)
class Exclusion:
    id: str
    epoch: int
    reason: str  # one of EXCLUSION_REASONS
    tiers: tuple[str, ...]  # the arms with the problem (for missing_partner: the missing arm)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "epoch": self.epoch, "tiers": list(self.tiers)}


@dataclass
class ComparisonPairs:
    key: ComparisonKey
    verdict: str
    logs: list[str]
    pairs: list[Pair] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_log_files(paths: list[str | Path]) -> dict[str, bool]:
    """Every ``.eval``/``.json`` log under the given files and folders, each once, mapped to
    whether it was named explicitly (True) or found in a folder (False)."""
    if not paths:
        raise LogSetError("no log paths given; pass log files or folders (for example logs/)")
    files: dict[str, bool] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = [_local_path(info.name) for info in list_eval_logs(str(path.resolve()))]
            if not found:
                raise FileNotFoundError(f"no Inspect logs (.eval or .json) under {path}; pass the folder the run wrote")
            for file in found:
                files.setdefault(file, False)
        elif path.is_file():
            if path.suffix not in (".eval", ".json"):
                raise LogSetError(f"{path} is not an Inspect log; pass .eval or .json files or their folder")
            files[_local_path(str(path.resolve()))] = True
        else:
            raise FileNotFoundError(f"log path {path} does not exist")
    return dict(sorted(files.items()))


def _local_path(location: str) -> str:
    """A log location (path or file:// URI) as a normalised local path."""
    if location.startswith("file://"):
        location = unquote(location.removeprefix("file://"))
    return os.path.normpath(location)


def _short_task(task: str) -> str:
    return task.split("/")[-1]


def _dataset_label(header) -> str:
    """The data set as the run named it; a file path is compared by its file name."""
    dataset = (header.eval.metadata or {}).get("dataset") or header.eval.dataset.name or ""
    return Path(dataset).name if ("/" in dataset or os.sep in dataset) else dataset


def read_header(path: str) -> LogHeader:
    try:
        log = read_eval_log(path, header_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise LogSetError(f"cannot read {path} as an Inspect log ({error})") from error
    task = _short_task(log.eval.task)
    scorers = {_short_task(s.name) for s in (log.eval.scorers or [])}
    tier = (log.eval.metadata or {}).get("tier")
    if tier in TIERS:
        kind, names = "tier", TIER_SCORERS
    elif task == PAIRED_TASK or scorers & set(PAIRED_SCORERS.values()):
        kind, names, tier = "paired", PAIRED_SCORERS, None
    else:
        raise ForeignLogError(
            f"{path} is not a compliance-gap tier or paired log (task '{log.eval.task}', no eval.metadata.tier); "
            "pass logs of free_tier, paid_tier or paired"
        )
    verdicts = tuple(kind_ for kind_, scorer in names.items() if scorer in scorers)
    return LogHeader(path, log.eval.eval_id, task, kind, tier, log.eval.model, _dataset_label(log), log.status, verdicts)


def read_headers(files: dict[str, bool]) -> tuple[list[LogHeader], list[str]]:
    """Headers of the tier and paired logs, and the other tasks' logs found in folders (skipped).
    Copies of one run, or logs of different data sets, cannot be analysed together (samples_df
    would silently drop a copy's samples)."""
    headers, skipped = [], []
    for file, named in files.items():
        try:
            headers.append(read_header(file))
        except ForeignLogError:
            if named:
                raise
            skipped.append(file)
    if not headers:
        raise LogSetError(f"no tier or paired task logs among {len(files)} logs ({', '.join(Path(f).name for f in files)})")
    by_run: dict[str, list[str]] = defaultdict(list)
    for header in headers:
        by_run[header.eval_id].append(header.path)
    copies = [paths for paths in by_run.values() if len(paths) > 1]
    if copies:
        listing = "; ".join(" = ".join(paths) for paths in copies)
        raise LogSetError(f"these files are copies of the same run: {listing}; pass each run once")
    by_dataset: dict[str, list[str]] = defaultdict(list)
    for header in headers:
        by_dataset[header.dataset].append(header.name)
    if len(by_dataset) > 1:
        listing = "; ".join(f"'{d}': {', '.join(names)}" for d, names in sorted(by_dataset.items()))
        raise LogSetError(f"logs come from different datasets ({listing}); analyse each dataset's logs separately")
    return headers, skipped


def _plain(value: Any) -> Any:
    """A dataframe cell as a plain Python value (pandas NA -> None)."""
    if value is None or (not isinstance(value, (list, dict, str)) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _score_value(cell: Any) -> dict[str, Any]:
    value = _plain(cell)
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def _score_columns(frame: pd.DataFrame) -> dict[str, str]:
    """Scorer name (without package prefix) -> its samples_df column."""
    return {_short_task(c.removeprefix("score_")): c for c in frame.columns if c.startswith("score_")}


def read_arms(headers: list[LogHeader]) -> pd.DataFrame:
    """One row per (sample, arm): log, id, epoch, comparison (its ComparisonKey), tier, error,
    the rule and judge verdicts (None = undecided/absent) and the sample metadata."""
    frame = samples_df([h.path for h in headers], columns=SampleSummary, quiet=True)
    by_path = {h.path: h for h in headers}
    scores = _score_columns(frame)
    metadata_columns = [c for c in frame.columns if c.startswith("metadata_")]
    rows: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        header = by_path[_local_path(record["log"])]
        metadata = {c.removeprefix("metadata_"): _plain(record[c]) for c in metadata_columns}
        metadata = {k: v for k, v in metadata.items() if v is not None}
        names = TIER_SCORERS if header.kind == "tier" else PAIRED_SCORERS
        values = {kind: _score_value(record[scores[name]]) if name in scores else {} for kind, name in names.items()}
        arms = [header.tier] if header.kind == "tier" else list(TIERS)
        key = ComparisonKey.of(header.model, metadata)
        for tier in arms:
            verdict_key = "refused" if header.kind == "tier" else f"refused_{tier}"
            rows.append(
                {
                    "log": header.path,
                    "id": str(record["id"]),
                    "epoch": int(record["epoch"]),
                    "comparison": key,
                    "tier": tier,
                    "error": _plain(record["error"]) or None,
                    "rule": values["rule"].get(verdict_key),
                    "judge": values["judge"].get(verdict_key),
                    "metadata": metadata,
                }
            )
    columns = ["log", "id", "epoch", "comparison", "tier", "error", "rule", "judge", "metadata"]
    return pd.DataFrame(rows, columns=columns, dtype=object)  # object: an undecided verdict stays None, not NaN


def check_one_log_per_arm(arms: pd.DataFrame) -> None:
    """Two logs for the same arm of a comparison would pair ambiguously."""
    logs_by_arm: dict[tuple[ComparisonKey, str], set[str]] = defaultdict(set)
    for row in arms.to_dict("records"):
        logs_by_arm[(row["comparison"], row["tier"])].add(row["log"])
    problems = [
        f"{tier} tier of {key.label()}: {', '.join(sorted(Path(p).name for p in logs))}"
        for (key, tier), logs in logs_by_arm.items()
        if len(logs) > 1
    ]
    if problems:
        raise LogSetError(
            "more than one log for the same tier and model: " + "; ".join(problems)
            + ". Pass only one log per tier (for example the retried run's), or analyse them separately"
        )


def _choose_verdict(requested: Verdict, key: ComparisonKey, headers: list[LogHeader]) -> tuple[str, list[str]]:
    lacking = [h.name for h in headers if "judge" not in h.verdicts]
    if requested is Verdict.RULE:
        return "rule", []
    if requested is Verdict.JUDGE:
        if lacking:
            raise LogSetError(
                f"--verdict judge, but {', '.join(lacking)} ({key.label()}) has no compliance_judge scores; "
                "re-run with a judge model role (--model-role judge=...) or use --verdict rule"
            )
        return "judge", []
    if not lacking:
        return "judge", []
    if len(lacking) < len(headers):
        return "rule", [f"judge verdicts only in some logs ({', '.join(lacking)} lack them): using the rule-based verdict for both arms"]
    return "rule", []


def pair_arms(arms: pd.DataFrame, headers: list[LogHeader], verdict: str | Verdict = Verdict.AUTO) -> list[ComparisonPairs]:
    """Group arms into comparisons and pair training with deployment by (id, epoch)."""
    requested = choose(Verdict, "verdict", verdict)
    check_one_log_per_arm(arms)
    by_path = {h.path: h for h in headers}
    groups: dict[ComparisonKey, dict[tuple[str, int], dict[str, dict]]] = defaultdict(lambda: defaultdict(dict))
    for row in arms.to_dict("records"):
        unit = groups[row["comparison"]][(row["id"], row["epoch"])]
        if row["tier"] in unit:
            raise LogSetError(f"sample {row['id']} (epoch {row['epoch']}) appears twice in {Path(row['log']).name}")
        unit[row["tier"]] = row
    comparisons: list[ComparisonPairs] = []
    for key in sorted(groups, key=ComparisonKey.sort_key):
        units = groups[key]
        logs = sorted({row["log"] for unit in units.values() for row in unit.values()})
        chosen, notes = _choose_verdict(requested, key, [by_path[p] for p in logs])
        comparison = ComparisonPairs(key, chosen, logs, notes=notes)
        for (sample_id, epoch), by_tier in sorted(units.items()):
            exclusion = _exclusion(sample_id, epoch, by_tier, chosen)
            if exclusion:
                comparison.excluded.append(exclusion)
                continue
            training, deployment = by_tier[TIERS[0]], by_tier[TIERS[1]]
            comparison.pairs.append(
                Pair(sample_id, epoch, int(training[chosen]), int(deployment[chosen]), training["metadata"], deployment["metadata"])
            )
        comparisons.append(comparison)
    return comparisons


def _exclusion(sample_id: str, epoch: int, by_tier: dict[str, dict], verdict: str) -> Exclusion | None:
    errored = tuple(t for t in TIERS if t in by_tier and by_tier[t]["error"])
    if errored:
        return Exclusion(sample_id, epoch, "error", errored)
    undecided = tuple(t for t in TIERS if t in by_tier and by_tier[t][verdict] is None)
    if undecided:
        return Exclusion(sample_id, epoch, "undecided", undecided)
    missing = tuple(t for t in TIERS if t not in by_tier)
    if missing:
        return Exclusion(sample_id, epoch, "missing_partner", missing)
    return None


def load_pairs(
    paths: list[str | Path], verdict: str | Verdict = Verdict.AUTO
) -> tuple[list[LogHeader], list[str], pd.DataFrame, list[ComparisonPairs]]:
    """Find, validate, read and pair the logs under ``paths``: (headers, skipped other-task
    logs, one row per arm, comparisons)."""
    headers, skipped = read_headers(find_log_files(paths))
    arms = read_arms(headers)
    return headers, skipped, arms, pair_arms(arms, headers, verdict)
