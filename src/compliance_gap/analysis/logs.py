"""Read tier and paired task logs and pair each training-arm verdict with its deployment twin.

The log fields read here are the contract in docs/log-format.md. Each log is read once for the
analysis: its header (``read_eval_log(header_only=True)``) and its sample summaries
(``summaries.sample_summaries``, one read of the log's summary table), one ``Arm`` per arm
(a paired-task sample gives two). Every sample ends up in a pair or in an exclusion with its
reason; sets of logs that cannot be analysed together (two logs for one arm, arms run with
different decoding, judge, scorer or prompts) are errors that name the files, and a log an eval
set has retried is left out by its ``logs.json``, with a note.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd
from inspect_ai.log import EvalLog, effective_generate_config, list_eval_logs, read_eval_log

from ..behaviors import dataset_digest, input_hash
from ..options import Tier, Verdict, choose
from .shards import ShardRecord, misplaced_samples, run_problem, runs_of, shard_counts, shard_record, shards_note
from .verdicts import arm_verdicts, base_name, judge_of, refused, scorer_names
from .summaries import sample_summaries

TIERS = (Tier.TRAINING.value, Tier.DEPLOYMENT.value)
VERDICT_KINDS = ("rule", "judge")  # the verdicts a gap can be computed from
PAIRED_TASK = "paired"
PACKAGE = "compliance-gap"
MANIFEST = "logs.json"  # eval_set's list of the headers of every log in its folder
EXCLUSION_REASONS = ("error", "undecided", "missing_partner")  # a pair is counted under the first that applies
# generate-config fields that change how a call is made, not what the model answers
OPERATIONAL_CONFIG = {
    "max_retries", "timeout", "attempt_timeout", "stream_idle_timeout", "max_connections",
    "adaptive_connections", "cache_prompt", "cache", "batch", "extra_headers",
}


class LogSetError(ValueError):
    """The logs cannot be analysed together; the message names the files and the fix."""


class ForeignLogError(LogSetError):
    """An Inspect log of some other task (skipped in a folder, an error when named)."""


def one_line(error: BaseException) -> str:
    """An exception as one line (pydantic and zstd errors span several)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}" if text else type(error).__name__


@dataclass(frozen=True)
class LogHeader:
    path: str
    eval_id: str
    task: str
    kind: str  # "tier" or "paired"
    tier: str | None  # the tier of a tier log; None for a paired log (it holds both)
    model: str
    dataset: str  # the data set as the run named it (for display; content is compared by dataset_hash)
    status: str
    verdicts: tuple[str, ...]  # verdict kinds ("rule", "judge") with scores: from the header, then from the samples
    setup: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)  # see run_setup
    planned: int | None = None  # samples x epochs the run was given (a finished log holds them all)
    dataset_hash: str | None = None  # hash of the ids and inputs of its samples, once they are read
    shard: ShardRecord | None = None  # which shard of a split run it holds (-T shard=I/K; analysis/shards.py)

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
            "dataset_hash": self.dataset_hash,
            "status": self.status,
            "verdicts": list(self.verdicts),
            **({"shard": self.shard.label(), "full_dataset_hash": self.shard.dataset_hash} if self.shard else {}),
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

    def without_model(self) -> tuple:
        return (self.mode, self.placement, self.variant, self.control)


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm of one sample as the analysis reads it (from the log's sample summaries)."""

    log: str
    id: str
    epoch: int
    comparison: ComparisonKey
    tier: str
    error: str | None
    rule: int | None  # the rule-based verdict (1 refused, 0 complied); None = undecided/absent
    judge: int | None  # the compliance judge's
    truncated: bool  # the rule scorer's flags: the answer stopped at max_tokens
    empty: bool  # no answer at all
    metadata: dict[str, Any]  # the sample metadata (scalars; long strings shortened by Inspect)
    input_hash: str  # what the model was asked (input and context), for the dataset check
    scored_by: tuple[str, ...] = ()  # the verdict kinds that scored this arm (a judge needs a judge bound)

    def verdict(self, kind: str) -> int | None:
        return self.rule if kind == "rule" else self.judge


def arms_table(arms: list[Arm]) -> pd.DataFrame:
    """The arms as a table, one row per arm (object columns: an undecided verdict stays None)."""
    names = [f.name for f in fields(Arm)]
    return pd.DataFrame({name: [getattr(arm, name) for arm in arms] for name in names}, columns=names, dtype=object)


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


@dataclass(frozen=True)
class Mismatch:
    """A setting that differs between the two arms' logs of one comparison."""

    comparison: str  # the comparison's label
    field: str  # a decoding field (max_tokens, seed, ...), judge_*, *_scorer, scorer_version or dataset
    values: dict[str, Any]  # log file name -> its value
    detail: str = ""  # for the dataset: which ids differ

    def describe(self, with_logs: bool = True) -> str:
        """'max_tokens differs: 2048 (a.eval) vs 512 (b.eval)'; without the log names when the
        sentence has named them already, in the same order."""
        values = " vs ".join(json.dumps(v, default=str) + (f" ({log})" if with_logs else "") for log, v in self.values.items())
        return f"{self.field} differs: {values}{f' ({self.detail})' if self.detail else ''}"

    def as_dict(self) -> dict[str, Any]:
        return {"comparison": self.comparison, "field": self.field, "values": list(self.values.values()), "logs": list(self.values), "detail": self.detail}


@dataclass(frozen=True)
class Superseded:
    """A log that its eval set retried: ``logs.json`` holds a newer log of the same task."""

    path: str
    replaced_by: str
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "replaced_by": self.replaced_by, "status": self.status}


@dataclass
class ComparisonPairs:
    key: ComparisonKey
    verdict: str
    logs: list[str]
    pairs: list[Pair] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)  # pooled anyway (allow_mismatch)
    tiers: tuple[str, ...] = TIERS  # the arms its logs hold
    shards: dict[str, int] = field(default_factory=dict)  # tier -> number of shards, for arms merged from shards


@dataclass
class LoadedLogs:
    """Everything read from the logs: what was analysed, what was left out, and the pairs."""

    headers: list[LogHeader]
    skipped: list[str]  # other tasks' logs found in folders
    superseded: list[Superseded]
    arms: list[Arm]
    comparisons: list[ComparisonPairs]


# ---- finding the logs ------------------------------------------------------------------------


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
            if path.suffix not in (".eval", ".json") or path.name == MANIFEST:
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


def _manifest(folder: str) -> dict[str, EvalLog]:
    """The headers eval_set listed in ``folder/logs.json``, by absolute log path."""
    path = Path(folder) / MANIFEST
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return {os.path.normpath(os.path.join(folder, name)): EvalLog.model_validate(header) for name, header in entries.items()}
    except Exception as error:  # noqa: BLE001 - any unreadable manifest gets the same clear message
        raise LogSetError(
            f"cannot read {path} ({one_line(error)}); re-run the eval set to rewrite it, or delete it to analyse "
            "the folder's logs without it"
        ) from error


def drop_superseded(files: dict[str, bool]) -> tuple[dict[str, bool], list[Superseded]]:
    """Leave out the logs an eval set has retried. In a folder with eval_set's ``logs.json``,
    each task (``eval.task_id``) counts its newest log (``eval.created``; a log written after the
    manifest is read directly) and ignores the others, as ``eval_set`` itself does when it
    resumes. Folders without a manifest keep every log."""
    kept, superseded = dict(files), []
    for folder in sorted({os.path.dirname(f) for f in files}):
        if not (Path(folder) / MANIFEST).is_file():
            continue
        headers = _manifest(folder)
        for file in files:
            if os.path.dirname(file) == folder and file not in headers:
                headers[file] = _read_log_header(file)
        by_task: dict[str, list[str]] = defaultdict(list)
        for path, header in headers.items():
            by_task[header.eval.task_id].append(path)
        for paths in by_task.values():
            paths.sort(key=lambda p: (datetime.fromisoformat(headers[p].eval.created), p))
            current = paths[-1]
            if not os.path.exists(current):
                raise LogSetError(
                    f"{Path(folder) / MANIFEST} names {Path(current).name} as the newest log of task "
                    f"{headers[current].eval.task}, but the file is missing; restore it, re-run the eval set, "
                    "or delete logs.json to analyse the folder's logs without it"
                )
            for old in paths[:-1]:
                if kept.pop(old, None) is not None:
                    superseded.append(Superseded(old, current, headers[old].status))
    return kept, superseded


# ---- headers ---------------------------------------------------------------------------------


def _short_task(task: str) -> str:
    return task.split("/")[-1]


def _dataset_label(header: EvalLog) -> str:
    """The data set as the run named it; a file path is shown by its file name."""
    dataset = (header.eval.metadata or {}).get("dataset") or header.eval.dataset.name or ""
    return Path(dataset).name if ("/" in dataset or os.sep in dataset) else dataset


def _read_log_header(path: str) -> EvalLog:
    try:
        return read_eval_log(path, header_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise LogSetError(f"cannot read {path} as an Inspect log ({one_line(error)}); re-run it or restore it from a copy") from error


def _decoding(config: Any) -> dict[str, Any]:
    return {k: v for k, v in config.model_dump(exclude_none=True).items() if k not in OPERATIONAL_CONFIG}


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted fields, so a mismatch names the one setting that differs."""
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def run_setup(log: EvalLog, names: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What must match between two arms' logs for their verdicts to be comparable: the decoding
    (the task's generate config overridden by the eval's, and the model args), and for each
    verdict kind its scorer (options, package version) and, for the judge, the judge model, its
    generate config and vote settings. Fields are dotted (``judge_votes.votes``)."""
    decoding = {**_decoding(log.plan.config), **_decoding(effective_generate_config(log)), "model_args": log.eval.model_args}
    scorers = {_short_task(s.name): s for s in (log.eval.scorers or [])}
    version = (log.eval.packages or {}).get(PACKAGE)
    setup = {"decoding": _flat(decoding)}
    for kind, name in names.items():
        scorer = scorers.get(name)
        setup[kind] = {"scorer_version": version, f"{kind}_scorer": {"options": scorer.options, "metadata": scorer.metadata} if scorer else None}
    verdicts = (log.eval.metadata or {}).get("verdicts") or {}
    role = (log.eval.model_roles or {}).get("judge")
    setup["judge"].update(
        {
            "judge_model": role.model if role else verdicts.get("judge"),
            "judge_config": _decoding(role.config) if role else None,
            "judge_votes": verdicts.get("compliance_judge"),
        }
    )
    return {group: _flat(fields) for group, fields in setup.items()}


def read_header(path: str) -> LogHeader:
    log = _read_log_header(path)
    task = _short_task(log.eval.task)
    scorers = {_short_task(s.name) for s in (log.eval.scorers or [])}
    tier = (log.eval.metadata or {}).get("tier")
    paired_names = scorer_names(paired=True)
    if tier in TIERS:
        kind, names = "tier", scorer_names(paired=False)
    elif task == PAIRED_TASK or scorers & set(paired_names.values()):
        kind, names, tier = "paired", paired_names, None
    else:
        raise ForeignLogError(
            f"{path} is not a compliance-gap tier or paired log (task '{log.eval.task}', no eval.metadata.tier); "
            "pass logs of free_tier, paid_tier or paired"
        )
    names = {k: names[k] for k in VERDICT_KINDS}
    # a judge scorer with no judge bound leaves every sample unscored: read_arms keeps only the kinds that scored
    verdicts = tuple(kind_ for kind_, scorer in names.items() if scorer in {base_name(s) for s in scorers})
    planned = len(log.eval.dataset.sample_ids) * (log.eval.config.epochs or 1) if log.eval.dataset.sample_ids else None
    return LogHeader(
        path, log.eval.eval_id, task, kind, tier, log.eval.model, _dataset_label(log), log.status, verdicts,
        run_setup(log, names), planned, shard=shard_record(log.eval.metadata),
    )


def read_headers(files: dict[str, bool]) -> tuple[list[LogHeader], list[str]]:
    """Headers of the tier and paired logs, and the other tasks' logs found in folders (skipped).
    Copies of one run cannot be analysed together (their samples would count twice)."""
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
    return headers, skipped


# ---- samples ---------------------------------------------------------------------------------


def sample_arms(header: LogHeader, sample: Any) -> list[Arm]:
    """The arms of one sample (an ``EvalSampleSummary``): one for a tier log, two for a paired log."""
    metadata = {k: v for k, v in (sample.metadata or {}).items() if v is not None}
    key = ComparisonKey.of(header.model, metadata)
    asked = input_hash(sample)
    arms = []
    for tier, verdicts in arm_verdicts(sample.scores, header.kind == "paired", header.tier).items():
        rule = verdicts.get("rule", {})
        arms.append(
            Arm(
                header.path, str(sample.id), int(sample.epoch), key, tier, sample.error or None,
                refused(verdicts, "rule"), refused(verdicts, "judge"), bool(rule.get("truncated")), bool(rule.get("empty")),
                metadata, asked, tuple(kind for kind in VERDICT_KINDS if kind in verdicts),
            )
        )
    return arms


def read_summaries(header: LogHeader) -> list[Any]:
    """The log's sample summaries; a damaged summary table, or one that lacks samples a finished
    log ran, is an error naming the file."""
    try:
        summaries = sample_summaries(header.path)
    except Exception as error:  # noqa: BLE001 - a damaged log, whatever the cause
        raise LogSetError(
            f"cannot read the sample summaries of {header.path} ({one_line(error)}); the log is damaged: "
            "re-run it or restore it from a copy"
        ) from error
    if header.status == "success" and header.planned and len(summaries) != header.planned:
            raise LogSetError(
                f"{header.path} finished with {header.planned} samples but its summaries list {len(summaries)}; "
                "the log is damaged: re-run it or restore it from a copy"
            )
    return summaries


def read_arms(headers: list[LogHeader]) -> tuple[list[LogHeader], list[Arm]]:
    """Every arm of every log, and the headers with their dataset hashes."""
    arms: list[Arm] = []
    hashed: list[LogHeader] = []
    for header in headers:
        asked: dict[str, str] = {}
        kinds: set[str] = set()
        judges: set[str] = set()
        for sample in read_summaries(header):
            judges.add(judge_of(sample.scores, header.kind == "paired") or "")
            for arm in sample_arms(header, sample):
                arms.append(arm)
                asked[arm.id] = arm.input_hash
                kinds.update(arm.scored_by)
        digest = dataset_digest(asked)
        scored_kinds = tuple(kind for kind in header.verdicts if kind in kinds or not asked)
        setup = header.setup
        if "judge" in kinds:  # the judges that scored the samples, whether bound in the eval or by inspect score
            setup = {**setup, "judge": {**setup["judge"], "judge_model": ", ".join(sorted(j for j in judges if j)) or None}}
        hashed.append(replace(header, dataset_hash=digest, verdicts=scored_kinds, setup=setup))
    return hashed, arms


# ---- pairing ---------------------------------------------------------------------------------


def check_one_log_per_arm(arms: list[Arm], headers: list[LogHeader]) -> None:
    """Two logs for the same arm of a comparison would pair ambiguously; the shards of one split
    run count as one log (``shards.py``), and must be complete and disjoint."""
    by_path = {h.path: h for h in headers}
    logs_by_arm: dict[tuple[ComparisonKey, str], set[str]] = defaultdict(set)
    for arm in arms:
        logs_by_arm[(arm.comparison, arm.tier)].add(arm.log)
    tiers_of: dict[tuple[ComparisonKey, tuple[str, ...]], list[str]] = defaultdict(list)  # a paired log holds both
    for (key, tier), logs in logs_by_arm.items():
        tiers_of[(key, tuple(sorted(logs)))].append(tier)
    problems: dict[str, list[str]] = defaultdict(list)
    for (key, logs), tiers in tiers_of.items():
        what = f"{' and '.join(tiers)} tier{'s' if len(tiers) > 1 else ''} of {key.label()}"
        if problem := run_problem(what, runs_of(set(logs), by_path)):
            problems[problem[0]].append(problem[1])
    if problems["several"]:
        raise LogSetError(
            "more than one log for the same tier and model: " + "; ".join(problems["several"])
            + ". Pass only one log per tier (for example the retried run's), or analyse them separately"
        )
    if problems["missing"]:
        raise LogSetError(
            "a run split into shards is incomplete: " + "; ".join(problems["missing"])
            + ". Run the missing shards (`compliance-gap run --shards K` resumes where it stopped), or pass every shard's log"
        )
    if misplaced := misplaced_samples(arms, by_path):
        raise LogSetError(
            "shards overlap: " + "; ".join(misplaced) + ". Pass the logs of one split (-T shard=I/K), each shard once, "
            "or re-run the shard from a clean folder"
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


def setup_mismatches(label: str, verdict: str, headers: list[LogHeader]) -> list[Mismatch]:
    """The decoding, scorer and (for judge verdicts) judge settings that differ between the logs."""
    mismatches = []
    for group in ("decoding", verdict):
        fields = sorted({name for h in headers for name in h.setup[group]})
        for name in fields:
            values = {h.name: h.setup[group].get(name) for h in headers}
            if len({json.dumps(v, sort_keys=True, default=str) for v in values.values()}) > 1:
                mismatches.append(Mismatch(label, name, values))
    return mismatches


def dataset_mismatch(label: str, units: dict[tuple[str, int], dict[str, Arm]], headers: list[LogHeader]) -> Mismatch | None:
    """Whether the two arms' logs asked the same things under the same ids."""
    by_tier = {t: {u[t].id: u[t].input_hash for u in units.values() if t in u} for t in TIERS}
    shared = by_tier[TIERS[0]].keys() & by_tier[TIERS[1]].keys()
    differing = sorted(i for i in shared if by_tier[TIERS[0]][i] != by_tier[TIERS[1]][i])
    if shared and not differing:
        return None
    values = {h.name: h.dataset_hash for h in headers}
    if not shared:
        return Mismatch(label, "dataset", values, "the two arms share no sample id")
    shown = ", ".join(differing[:5]) + (", ..." if len(differing) > 5 else "")
    return Mismatch(label, "dataset", values, f"{len(differing)} of {len(shared)} shared ids ask different prompts ({shown})")


def model_name_hints(comparisons: list[ComparisonPairs]) -> None:
    """Two one-armed comparisons that differ only in the model name are, most likely, one model
    named two ways (a hub id and a local path): say so instead of only 'missing partner'."""
    one_armed: dict[str, list[tuple[ComparisonPairs, set[str]]]] = defaultdict(list)  # present tier -> comparisons
    for comparison in comparisons:
        if len(comparison.tiers) == 1:
            one_armed[comparison.tiers[0]].append((comparison, {e.id for e in comparison.excluded}))
    for training, training_ids in one_armed[TIERS[0]]:
        for deployment, deployment_ids in one_armed[TIERS[1]]:
            if training.key.without_model() == deployment.key.without_model() and training_ids & deployment_ids:
                note = (
                    f"the training arm was run as model '{training.key.model}' and the deployment arm as "
                    f"'{deployment.key.model}': arms pair only under the same model name; if these are the same "
                    "model, re-run one tier under the other's name"
                )
                training.notes.append(note)
                deployment.notes.append(note)


def pair_arms(
    arms: list[Arm], headers: list[LogHeader], verdict: str | Verdict = Verdict.AUTO, allow_mismatch: bool = False
) -> list[ComparisonPairs]:
    """Group arms into comparisons and pair training with deployment by (id, epoch). Arms whose
    logs differ in decoding, scorer, judge or prompts are an error, or with ``allow_mismatch``
    are pooled with every difference recorded."""
    requested = choose(Verdict, "verdict", verdict)
    check_one_log_per_arm(arms, headers)
    by_path = {h.path: h for h in headers}
    groups: dict[ComparisonKey, dict[tuple[str, int], dict[str, Arm]]] = defaultdict(lambda: defaultdict(dict))
    for arm in arms:
        unit = groups[arm.comparison][(arm.id, arm.epoch)]
        if arm.tier in unit:
            raise LogSetError(f"sample {arm.id} (epoch {arm.epoch}) appears twice in {Path(arm.log).name}")
        unit[arm.tier] = arm
    comparisons: list[ComparisonPairs] = []
    for key in sorted(groups, key=ComparisonKey.sort_key):
        units = groups[key]
        logs = sorted({arm.log for unit in units.values() for arm in unit.values()})
        log_headers = [by_path[p] for p in logs]
        chosen, notes = _choose_verdict(requested, key, log_headers)
        tiers = tuple(t for t in TIERS if any(t in unit for unit in units.values()))
        comparison = ComparisonPairs(key, chosen, logs, notes=notes, tiers=tiers)
        comparison.mismatches = setup_mismatches(key.label(), chosen, log_headers)
        comparison.shards = shard_counts([arm for unit in units.values() for arm in unit.values()], by_path)
        comparison.notes += shards_note(comparison.shards)
        if len(logs) > 1 and (different := dataset_mismatch(key.label(), units, log_headers)):
            comparison.mismatches.append(different)
        for (sample_id, epoch), by_tier in sorted(units.items()):
            exclusion = _exclusion(sample_id, epoch, by_tier, chosen)
            if exclusion:
                comparison.excluded.append(exclusion)
                continue
            training, deployment = by_tier[TIERS[0]], by_tier[TIERS[1]]
            comparison.pairs.append(
                Pair(sample_id, epoch, training.verdict(chosen), deployment.verdict(chosen), training.metadata, deployment.metadata)
            )
        comparisons.append(comparison)
    if not allow_mismatch and any(c.mismatches for c in comparisons):
        listing = "; ".join(
            f"{c.key.label()} ({' vs '.join(Path(p).name for p in c.logs)}): {'; '.join(m.describe(with_logs=False) for m in c.mismatches)}"
            for c in comparisons if c.mismatches
        )
        raise LogSetError(
            f"the two arms of a comparison were not run alike: {listing}. Pair only logs run with the same settings "
            "and prompts (re-run one tier), or pass --allow-mismatch to pool them with every difference listed"
        )
    for comparison in comparisons:
        comparison.notes += [f"pooled despite a mismatch (--allow-mismatch): {m.describe()}" for m in comparison.mismatches]
    model_name_hints(comparisons)
    return comparisons


def _exclusion(sample_id: str, epoch: int, by_tier: dict[str, Arm], verdict: str) -> Exclusion | None:
    errored = tuple(t for t in TIERS if t in by_tier and by_tier[t].error)
    if errored:
        return Exclusion(sample_id, epoch, "error", errored)
    undecided = tuple(t for t in TIERS if t in by_tier and by_tier[t].verdict(verdict) is None)
    if undecided:
        return Exclusion(sample_id, epoch, "undecided", undecided)
    missing = tuple(t for t in TIERS if t not in by_tier)
    if missing:
        return Exclusion(sample_id, epoch, "missing_partner", missing)
    return None


def load_pairs(paths: list[str | Path], verdict: str | Verdict = Verdict.AUTO, allow_mismatch: bool = False) -> LoadedLogs:
    """Find, validate, read and pair the logs under ``paths``."""
    files, superseded = drop_superseded(find_log_files(paths))
    headers, skipped = read_headers(files)
    headers, arms = read_arms(headers)
    return LoadedLogs(headers, skipped, superseded, arms, pair_arms(arms, headers, verdict, allow_mismatch))
