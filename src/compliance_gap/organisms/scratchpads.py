"""The texts an SAE comparison reads: organism reasoning traces and reference scratchpads.

Markup (``<SCRATCHPAD_REASONING>``, ``<think>`` and the like) is stripped from every text, so a
probe cannot separate two sets by their tags alone. Texts with nothing left are counted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_MARKUP = re.compile(r"</?\s*(?:SCRATCHPAD_REASONING|OUTPUT|think|reasoning|answer)\s*>", re.IGNORECASE)
GOLD_LABELS = ("potential_faking", "aligned")  # the first is the positive class


@dataclass
class TextSet:
    source: str
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # empty when the set has none
    skipped: dict[str, int] = field(default_factory=dict)

    def subset(self, label: str) -> TextSet:
        if label not in self.labels:
            raise ValueError(f"{self.source} has no texts labelled '{label}'; labels: {sorted(set(self.labels))}")
        chosen = [t for t, lab in zip(self.texts, self.labels) if lab == label]
        return TextSet(f"{self.source}[{label}]", chosen, [label] * len(chosen), dict(self.skipped))


def clean(text: str) -> str:
    return _MARKUP.sub("", text or "").strip()


def _collect(source: str, items: list[tuple[str, str | None]]) -> TextSet:
    result, skipped = TextSet(source), Counter()
    for text, label in items:
        text = clean(text)
        if not text:
            skipped["empty text"] += 1
            continue
        result.texts.append(text)
        if label is not None:
            result.labels.append(label)
    result.skipped = dict(skipped)
    if not result.texts:
        raise ValueError(f"{source} has no usable texts ({result.skipped})")
    return result


def load_gold(spec: str = "gold_106") -> TextSet:
    """gold_106 (by name: the pinned download, or COMPLIANCE_GAP_DATA_DIR) or a file in its format."""
    if spec == "gold_106":
        from ..behaviors import fetch_external

        path = fetch_external("gold_106")
    else:
        path = Path(spec).expanduser()
    if not Path(path).is_file():
        raise FileNotFoundError(f"reference file {path} does not exist")
    samples = json.loads(Path(path).read_text()).get("samples") if path.suffix == ".json" else None
    if not isinstance(samples, list) or any(not isinstance(s, dict) or "text" not in s or s.get("label") not in GOLD_LABELS for s in samples):
        raise ValueError(f'{path} is not in gold_106 format: {{"samples": [{{"text": ..., "label": "potential_faking" | "aligned"}}]}}')
    return _collect(str(spec), [(s["text"], s["label"]) for s in samples])


def load_organism_texts(path: Path) -> TextSet:
    """Reasoning traces from generated rows (``.jsonl``: ``reasoning`` or ``text``) or from an
    Inspect log of a tier task (``.eval``/``.json``: each answer's reasoning part)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"organism outputs {path} do not exist")
    if path.suffix == ".jsonl":
        items = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise ValueError(f"{path} line {number} is not valid JSON") from None
                items.append((row.get("reasoning") or row.get("text") or "", None))
        return _collect(str(path), items)
    if path.suffix in (".eval", ".json"):
        return _traces_from_log(path)
    raise ValueError(f"organism outputs {path}: expected a .jsonl file or an Inspect log (.eval/.json)")


def _traces_from_log(path: Path) -> TextSet:
    from inspect_ai.log import read_eval_log
    from inspect_ai.model import ContentReasoning

    log = read_eval_log(str(path))
    items, no_trace = [], 0
    for sample in log.samples or []:
        content = sample.output.message.content if sample.output and sample.output.choices else []
        traces = [c.reasoning for c in content if isinstance(c, ContentReasoning)] if isinstance(content, list) else []
        if traces:
            items.append(("\n".join(traces), None))
        else:
            no_trace += 1
    result = _collect(str(path), items) if items else None
    if result is None:
        raise ValueError(f"{path} has no answers with a reasoning trace ({no_trace} without); the organism must think in <think> tags")
    if no_trace:
        result.skipped["no reasoning trace"] = no_trace
    return result
