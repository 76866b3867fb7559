"""``compliance-gap analyze PATH...``: the paired analysis of tier or paired task logs.

Nothing is printed or written until every log has been read: the report folder is written into
a staging folder beside it (made before any work, which also proves the place is writable) and
moved into place only when complete, so an error never leaves a partial report.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from .comparisons import Analysis, Settings, analyze
from .logs import LogSetError, one_line
from .report import terminal_report, to_json, write_report


def staging_folder(out_dir: Path) -> Path:
    """A fresh folder beside (or inside) ``out_dir`` on the same file system, for the report to
    be written into before it is moved; an error names the problem when ``out_dir`` cannot be."""
    out_dir = Path(out_dir).expanduser().absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise LogSetError(f"--out {out_dir} is a file, not a folder; pass a folder for the report (it is created if missing)")
    base = next(p for p in (out_dir, *out_dir.parents) if p.exists())
    if not base.is_dir():
        raise LogSetError(f"--out {out_dir}: {base} is a file, not a folder; pass a folder path for the report")
    try:
        return Path(tempfile.mkdtemp(prefix=".compliance-gap-report-", dir=base))
    except OSError as error:
        raise LogSetError(f"--out {out_dir}: cannot write in {base} ({one_line(error)}); choose a folder you can write to") from error


def save_report(analysis: Analysis, out_dir: Path, staging: Path | None = None) -> dict[str, Path]:
    """Write the report folder all or nothing: into ``staging`` (a ``staging_folder``), then
    each file moved into ``out_dir``. Returns file name -> final path."""
    out_dir = Path(out_dir).expanduser().absolute()
    staging = staging or staging_folder(out_dir)
    try:
        written = write_report(analysis, staging)
        out_dir.mkdir(parents=True, exist_ok=True)
        moved = {}
        for name, path in written.items():
            moved[name] = out_dir / path.name
            os.replace(path, moved[name])
        return moved
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _main(args: argparse.Namespace) -> int:
    settings = Settings(
        verdict=args.verdict, mcnemar=args.mcnemar, by=args.by, target_gap_pp=args.target_gap, allow_mismatch=args.allow_mismatch
    )
    staging = staging_folder(args.out) if args.out else None
    try:
        analysis = analyze(args.paths, settings)
        files = save_report(analysis, args.out, staging) if args.out else None
    finally:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
    print((to_json(analysis) if args.json else terminal_report(analysis)).rstrip("\n"))
    if files and not args.json:
        print(f"\nReport: {files['report.html']} (also report.md, results.json, samples.jsonl, PNGs in {args.out})")
    return 0
