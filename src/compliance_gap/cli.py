"""The ``compliance-gap`` command. Options live in ``cli_args`` (light); each command's code is
imported only when it runs, so ``--help`` does not wait for Inspect, pandas or torch."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from . import cli_args
from .organisms import cli as organisms_cli

DESCRIPTION = (
    "Measure training-aware compliance (alignment faking) with Inspect AI: does a model refuse harmful "
    "requests less when told its answers are used for training (training tier) than when told they are "
    "private (deployment tier)? Run the paired tiers, analyze the logs with paired statistics, validate "
    "the classifier and quantization, and build model organisms as positive controls."
)

# name: (one-line help, the function that adds its options)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "prepare-model": ("convert the embedded SmolLM2 GGUF into a local HF folder", cli_args.prepare_model),
    "demo": ("run both tiers on the built-in samples with the embedded model", cli_args.demo),
    "analyze": ("paired compliance-gap statistics from tier or paired task logs", cli_args.analyze),
    "validate-classifier": ("compare the motivation classifier with the human labels of gold_106", cli_args.validate_classifier),
    "run": ("run the experiment matrix (models x modes, paired tiers) and analyze it", cli_args.run),
    "precision": ("print the Inspect -M flags that load an hf/ or vllm/ model at a precision", cli_args.precision),
    "quant-check": ("agreement of refusal decisions between a quantized and a higher precision", cli_args.quant_check),
    "organisms": ("model organisms of alignment faking: data, LoRA training, elicitation, SAE validation", organisms_cli.add_arguments),
}


class _Commands(argparse._SubParsersAction):
    """Adds a command's options when that command is chosen: ``analyze`` reads its choices from
    the analysis modules, which import pandas and Inspect, and no other command should wait."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pending: dict[str, Callable[[argparse.ArgumentParser], None]] = {}

    def __call__(self, parser, namespace, values, option_string=None):
        build = self.pending.pop(values[0], None)
        if build:
            build(self._name_parser_map[values[0]])
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compliance-gap", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True, action=_Commands, title="commands", metavar="COMMAND")
    for name, (help_text, build) in COMMANDS.items():
        subparsers.add_parser(name, help=help_text)
        subparsers.pending[name] = build
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
    finally:
        if "inspect_ai" in sys.modules:  # a command that ran Inspect; the others exit without importing it
            from .exiting import let_local_generation_end

            let_local_generation_end()


if __name__ == "__main__":
    sys.exit(main())
