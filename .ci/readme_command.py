#!/usr/bin/env python3
"""Print the test (or install) command that README.md tells a new user to run (one source of truth for CI).

The test command is the one line of a fenced ``bash``/``sh`` block in README.md
that runs pytest (``python -m pytest ...`` or ``pytest ...``), with any
environment assignments in front of it (``SRBENCH_DATA=... python -m pytest``),
lines continued with a trailing backslash joined. The install command
(``--install``) is the one such line that runs ``pip install``. Exactly one of
each must exist; otherwise this script names what it found and exits with
status 1. ``.ci/run`` runs the printed lines with bash from the checkout root,
exactly as a user would paste them.

    python3 .ci/readme_command.py [--install] [README.md]
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

FENCE = re.compile(r"^\s*```\s*(\w*)\s*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def shell_lines(markdown: str) -> list[str]:
    """The logical lines (continuations joined, comments and blanks dropped) of every bash/sh block."""
    lines, inside, pending = [], False, ""
    for raw in markdown.splitlines():
        fence = FENCE.match(raw)
        if fence:
            inside = not inside and fence.group(1).lower() in ("bash", "sh", "shell", "console")
            pending = ""
            continue
        if not inside:
            continue
        text = raw.strip()
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "  # bash joins the lines; indentation is only layout
            continue
        text = pending + text
        pending = ""
        if text and not text.startswith("#"):
            lines.append(text)
    return lines


def runs_pytest(line: str) -> bool:
    """True if the command (after leading ``NAME=value`` assignments) is pytest."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return False
    while words and ASSIGNMENT.match(words[0]):
        words.pop(0)
    if not words:
        return False
    program = Path(words[0]).name
    return program == "pytest" or (program.startswith("python") and words[1:3] == ["-m", "pytest"])


def runs_pip_install(line: str) -> bool:
    """True if the line runs ``pip install`` (``pip``, ``pip3`` or ``python -m pip``) anywhere in it."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return False
    for i, word in enumerate(words):
        program = Path(word).name
        if program in ("pip", "pip3") and words[i + 1:i + 2] == ["install"]:
            return True
        if program.startswith("python") and words[i + 1:i + 4] == ["-m", "pip", "install"]:
            return True
    return False


def _single(readme: Path, matches, what: str) -> str:
    found = [line for line in shell_lines(readme.read_text(encoding="utf-8")) if matches(line)]
    if len(found) != 1:
        raise ValueError(f"{readme}: expected exactly one {what} in its bash blocks, found {len(found)}"
                         + "".join(f"\n  {line}" for line in found))
    return found[0]


def test_command(readme: Path) -> str:
    """The README's single pytest command line; ``ValueError`` if there is none or more than one."""
    return _single(readme, runs_pytest, "pytest command")


def install_command(readme: Path) -> str:
    """The README's single ``pip install`` command line; ``ValueError`` if there is none or more than one."""
    return _single(readme, runs_pip_install, "pip install command")


def main(argv: list[str]) -> int:
    install = "--install" in argv
    argv = [a for a in argv if a != "--install"]
    readme = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "README.md"
    try:
        print(install_command(readme) if install else test_command(readme))
    except (OSError, ValueError) as exc:
        print(f"readme_command: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
