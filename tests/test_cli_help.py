"""Every subcommand's --help has examples, and every example is a command line its parser accepts."""

from __future__ import annotations

import argparse
import shlex

import pytest

from srbench.cli import build_parser


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """``(path, parser)`` for the parser and every nested subcommand parser."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, path + (name,))


PARSER = build_parser()
COMMANDS = {" ".join(path): sub for path, sub in _commands(PARSER) if path}


def _example_lines(epilog: str) -> list[str]:
    """The example command lines of an epilog (continuation lines joined, comments dropped)."""
    lines, pending = [], ""
    for raw in epilog.splitlines():
        text = raw.strip()
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text, pending = pending + text, ""
        words = shlex.split(text, comments=True) if "srbench" in text else []
        while words and "=" in words[0] and not words[0].startswith("-"):  # NAME=value in front
            words.pop(0)
        if words and words[0] == "torchrun":
            words = words[words.index("srbench"):]
        if words and words[0] == "srbench":
            lines.append(words[1:])
    return lines


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_has_examples_that_parse(command, capsys):
    sub = COMMANDS[command]
    assert sub.epilog and "example" in sub.epilog.lower(), f"srbench {command} --help shows no examples"
    examples = _example_lines(sub.epilog)
    assert examples, f"srbench {command} --help: no example command line"
    for argv in examples:
        try:
            PARSER.parse_args(argv)
        except SystemExit:
            pytest.fail(f"example 'srbench {shlex.join(argv)}' of 'srbench {command} --help' does not parse: "
                        + capsys.readouterr().err)


def test_every_subcommand_is_covered():
    assert {"run", "upscale", "datasets fetch", "datasets verify", "datasets list", "train", "report",
            "mos create", "mos serve", "mos export"} <= set(COMMANDS)


def test_mos_export_help_names_every_column_it_writes():
    """``srbench mos export --help`` lists all of the CSV's columns (it once listed 11 of 16)."""
    import subprocess
    import sys

    from srbench.mos_app.store import CSV_COLUMNS

    out = subprocess.run([sys.executable, "-m", "srbench", "mos", "export", "--help"], capture_output=True,
                         text=True, check=True).stdout
    listed = " ".join(out.split()).split("in this order: ")[1].split(".")[0].split(", ")
    assert listed == list(CSV_COLUMNS) and len(listed) == 16


def test_mos_serve_base_path_is_checked():
    """``--base-path`` loses its slashes; a path that is not plain URL segments is refused in one line."""
    from srbench.cli.mos import check_base_path
    from srbench.mos_app.study import StudyError

    assert check_base_path("/mos/") == "mos" and check_base_path("studies/mos") == "studies/mos"
    assert check_base_path("") == ""
    for bad in ("a b", "mos?x=1", "../mos", "mos//x", "m%20s"):
        with pytest.raises(StudyError, match="--base-path"):
            check_base_path(bad)
