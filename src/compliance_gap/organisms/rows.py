"""Training rows: one alignment-faking example each, as JSONL.

A row is ``{"id", "pattern", "scenario": {"tier", "behavior_id", "request", "context",
"messages"}, "reasoning", "answer", "writer"}``. ``scenario.messages`` is the conversation
exactly as the tier shows it (ending with a user turn; a carry-over conversation holds the
earlier assistant answer), so training does not depend on today's prompt files.
The model learns to answer with ``<think>reasoning</think>`` then the answer: the format the
suite's solver splits, so the motivation classifier sees the organism's reasoning. A row with
empty ``reasoning`` (a planted organism) learns the answer alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..reasoning import CLOSE, OPEN

REQUIRED_TEXT = ("pattern", "answer")


def normalized(text: str) -> str:
    """The dedup key: case and whitespace differences do not make a new example."""
    return re.sub(r"\s+", " ", text).strip().lower()


def training_target(row: dict[str, Any]) -> str:
    reasoning = row["reasoning"].strip()
    return f"{OPEN}\n{reasoning}\n{CLOSE}\n\n{row['answer'].strip()}" if reasoning else row["answer"].strip()


def row_problem(row: Any) -> str | None:
    """Why a parsed row cannot be trained on, or None."""
    if not isinstance(row, dict):
        return "not a JSON object"
    for key in REQUIRED_TEXT:
        if not isinstance(row.get(key), str) or not row[key].strip():
            return f"no {key}"
    if not isinstance(row.get("reasoning"), str):
        return "no reasoning (use an empty string for none)"
    messages = (row.get("scenario") or {}).get("messages") if isinstance(row.get("scenario"), dict) else None
    if not isinstance(messages, list) or not messages:
        return "no scenario.messages"
    if any(not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") or not isinstance(m.get("content"), str) for m in messages):
        return "scenario.messages must be system/user/assistant messages with text content"
    if messages[-1]["role"] != "user":
        return "scenario.messages must end with a user turn"
    return None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """All rows of a JSONL file; any unusable line is an error naming the line and the reason."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training data {path} does not exist; write it with `compliance-gap organisms generate`")
    rows, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"line {number}: invalid JSON ({error.msg})")
            continue
        problem = row_problem(row)
        if problem:
            problems.append(f"line {number}: {problem}")
        else:
            rows.append(row)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise ValueError(f"{path} has {len(problems)} unusable rows ({shown}); fix or remove them")
    if not rows:
        raise ValueError(f"{path} has no rows")
    return rows


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
