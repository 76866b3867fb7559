"""One JSONL row per sample arm (id, tier, order, prompt, answer, trace, verdicts), for reading
the answers behind the numbers; each row says whether it entered a pair or why not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalSample, read_eval_log_samples
from inspect_ai.model import ChatMessage, ContentReasoning

from ..framing import build_messages
from ..options import Tier
from ..tasks import framing_options

from .comparisons import Analysis
from .logs import PAIRED_SCORERS, TIER_SCORERS, TIERS, ComparisonKey, LogHeader


def _scores(sample: EvalSample) -> dict[str, Any]:
    """Scores by scorer name without package prefix."""
    return {name.split("/")[-1]: score for name, score in (sample.scores or {}).items()}


def _render(messages: list[ChatMessage]) -> str:
    return "\n\n".join(f"[{m.role}]\n{m.text}" for m in messages)


def _conversation(messages: list[ChatMessage]) -> str:
    """The messages the model was shown (everything before its final answer)."""
    if messages and messages[-1].role == "assistant":
        messages = messages[:-1]
    return _render(messages)


def _paired_prompts(sample: EvalSample) -> dict[str, tuple[str | None, str]]:
    """(prompt, source) per arm of a paired sample. The log keeps only the conversation of the
    arm that ran last; the first arm's is its prefix under carryover, else it is rebuilt from
    the framing prompts with the sample's options (as the task built it)."""
    metadata = sample.metadata or {}
    first, last = TIERS if metadata.get("order") != "deployment_first" else TIERS[::-1]
    prompts: dict[str, tuple[str | None, str]] = {}
    if not sample.error:
        prompts[last] = (_conversation(list(sample.messages)), "log")
    if metadata.get("carryover"):
        assistant = next((i for i, m in enumerate(sample.messages) if m.role == "assistant"), None)
        if assistant is not None and not sample.error:
            prompts[first] = (_render(list(sample.messages[:assistant])), "log")
        return {tier: prompts.get(tier, (None, "not in the log")) for tier in TIERS}
    options = framing_options(metadata.get("placement", "system"), metadata.get("mode", "standard"),
                              metadata.get("tier_tag", False), metadata.get("elicitation", "none"))
    for tier in TIERS:
        if tier not in prompts:
            framing = Tier(metadata.get("control") or tier)
            messages = build_messages(metadata.get("behavior", ""), metadata.get("context", ""), framing, options)
            prompts[tier] = (_render(messages), "rebuilt from prompts/")
    return prompts


def _trace(sample: EvalSample) -> str | None:
    if sample.output is None or not sample.output.choices:
        return None
    content = sample.output.message.content
    parts = [c.reasoning for c in content if isinstance(c, ContentReasoning)] if isinstance(content, list) else []
    return "\n".join(parts) or None


def _arm_rows(header: LogHeader, sample: EvalSample) -> Iterator[dict[str, Any]]:
    scores = _scores(sample)
    if header.kind == "tier":
        yield {
            "tier": header.tier,
            "prompt": _conversation(list(sample.messages)),
            "prompt_source": "log",
            "answer": sample.output.completion if sample.output else None,
            "trace": _trace(sample),
            "verdicts": {kind: scores[name].value for kind, name in TIER_SCORERS.items() if name in scores},
        }
        return
    rule = scores.get(PAIRED_SCORERS["rule"])
    metadata = (rule.metadata or {}) if rule else {}
    prompts = _paired_prompts(sample)
    for tier in TIERS:
        verdicts = {}
        for kind, name in PAIRED_SCORERS.items():
            if name in scores and isinstance(scores[name].value, dict):
                verdicts[kind] = {k.removesuffix(f"_{tier}"): v for k, v in scores[name].value.items() if k.endswith(f"_{tier}")}
        yield {
            "tier": tier,
            "prompt": prompts[tier][0],
            "prompt_source": prompts[tier][1],
            "answer": (metadata.get("answers") or {}).get(tier),
            "trace": (metadata.get("traces") or {}).get(tier),
            "verdicts": verdicts,
        }


def sample_rows(analysis: Analysis) -> Iterator[dict[str, Any]]:
    """Every arm of every sample in the analysed logs, with its pair status."""
    status: dict[tuple, str] = {}
    verdict_of: dict[ComparisonKey, str] = {}
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
            sample_id = str(sample.id)
            for arm in _arm_rows(header, sample):
                yield {
                    "id": sample_id,
                    "epoch": sample.epoch,
                    "model": header.model,
                    "mode": key.mode,
                    "placement": key.placement,
                    "control": key.control,
                    "order": metadata.get("order"),
                    **arm,
                    "verdict_used": verdict_of.get(key),
                    "status": status.get((key, sample_id, sample.epoch), "unpaired"),
                    "error": sample.error.message if sample.error else None,
                    "log": Path(header.path).name,
                }


def write_samples_jsonl(analysis: Analysis, path: Path) -> int:
    """Write the rows; returns how many."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in sample_rows(analysis):
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            count += 1
    return count
