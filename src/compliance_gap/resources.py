"""Locate the editable resource folders (``prompts/``, ``data/``).

In a source checkout (editable install) they are the repository's top-level folders, so a
researcher edits a prompt without touching code; a wheel carries copies under
``compliance_gap/_resources``. ``COMPLIANCE_GAP_PROMPTS`` overrides the prompt folder.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE.parents[1]


def _resource_dir(name: str) -> Path:
    for candidate in (_REPO_ROOT / name, _PACKAGE / "_resources" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"cannot find the '{name}/' folder next to the package ({_REPO_ROOT}) or inside it; "
        "reinstall the project with `pip install -e .` from a checkout"
    )


def prompts_dir() -> Path:
    override = os.environ.get("COMPLIANCE_GAP_PROMPTS")
    return Path(override) if override else _resource_dir("prompts")


def data_dir() -> Path:
    return _resource_dir("data")


def repo_root() -> Path:
    """The checkout root (where ``logs/`` and ``models/`` live for a source install)."""
    return _REPO_ROOT


def prompt_record(relatives: list[str]) -> dict[str, object]:
    """Which prompt folder and files a task uses, with each file's SHA-256, for the log: an edited
    copy (``COMPLIANCE_GAP_PROMPTS``) is visible there, not only in the answers."""
    import hashlib

    folder = prompts_dir()
    hashes = {}
    for relative in relatives:
        read_prompt(relative)  # a missing file is the same clear error as at generation time
        hashes[relative] = hashlib.sha256((folder / relative).read_bytes()).hexdigest()
    return {"folder": str(folder.resolve()), "sha256": hashes}


def read_prompt(relative: str) -> str:
    """Read a prompt template; trailing whitespace is trimmed so files can end with a newline."""
    path = prompts_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"prompt file {path} is missing; restore it from git or set COMPLIANCE_GAP_PROMPTS "
            "to a folder that has it"
        )
    return path.read_text(encoding="utf-8").rstrip()
