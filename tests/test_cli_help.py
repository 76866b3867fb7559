"""The command line: every command documents its options, and building it stays light (issue 12)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from compliance_gap import cli

ORGANISMS = ["plant", "check-plant", "generate", "train", "merge", "elicit", "sae"]
COMMANDS = [[name] for name in cli.COMMANDS] + [["organisms", name] for name in ORGANISMS]


def chosen_parser(words: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser for ``words`` after ``--help`` has built it."""
    parser = cli.build_parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([*words, "--help"])
    assert exit_info.value.code == 0
    for word in words:
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = subparsers.choices[word]
    return parser


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_help_describes_every_option(words, capsys):
    parser = chosen_parser(words)
    assert capsys.readouterr().out.startswith("usage: compliance-gap")
    assert parser.description
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"{' '.join(words)} {action.dest}: no help"
        if action.option_strings and not action.required and action.dest != "help":
            assert "default" in action.help, f"{' '.join(words)} {action.option_strings[-1]}: help names no default"


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out
    assert all(name in out for name in cli.COMMANDS)


def test_building_the_parser_imports_nothing_heavy():
    """--help must not wait for Inspect, torch, transformers or pandas: checked in a fresh interpreter."""
    code = (
        "import sys\n"
        "from compliance_gap import cli\n"
        "parser = cli.build_parser()\n"
        "for words in [['run'], ['demo'], ['validate-classifier'], ['quant-check'], ['organisms', 'plant'], ['analyze']]:\n"
        "    try:\n"
        "        parser.parse_args([*words, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('inspect_ai', 'torch', 'transformers', 'pandas') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
