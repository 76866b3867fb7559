"""The ``compliance-gap`` command. Each subcommand lives with the module it drives."""

from __future__ import annotations

import argparse
import logging
import sys

from . import demo, embedded, matrix, precision, quant_check, validate
from .analysis import cli as analysis_cli
from .organisms import cli as organisms_cli

# modules that contribute a subcommand through add_parser(subparsers)
SUBCOMMAND_MODULES = [demo, analysis_cli, validate, matrix, precision, quant_check, organisms_cli]


def _prepare_model_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prepare-model", help="convert the embedded SmolLM2 GGUF into a local HF folder")
    parser.set_defaults(func=lambda args: print(embedded.prepare_embedded_model()) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compliance-gap", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _prepare_model_parser(subparsers)
    for module in SUBCOMMAND_MODULES:
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        print(f"compliance-gap {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside an eval (run and quant-check say how to resume)
        print(f"compliance-gap {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
