"""Argument types shared by the commands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse
from typing import Callable

INT64_LIMIT = 2**63
"""Whole-number options stay below this (torch's int64 holds them)."""


def whole_number(low: int = 1, *, meaning_of_low: str = "") -> Callable[[str], int]:
    """An argparse ``type``: a whole number in ``low`` .. 2**63 - 1.

    ``12``, ``1_000_000`` and ``1e6`` are accepted (a float spelling must be
    whole: ``2.5``, ``nan`` and ``inf`` are not). Errors read ``expected a whole
    number, got '2.5'``, ``must be at least 1, got 0``, ``must be below 2**63, got 1e30``;
    ``meaning_of_low`` adds what ``low`` means, e.g. ``"0: whole images"``.
    """
    floor = f"must be at least {low}" + (f" ({meaning_of_low})" if meaning_of_low else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
            if not number.is_integer():  # also nan and inf
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
            value = int(number)
        if value < low:
            raise argparse.ArgumentTypeError(f"{floor}, got {text}")
        if value >= INT64_LIMIT:
            raise argparse.ArgumentTypeError(f"must be below 2**63, got {text}")
        return value

    parse.__name__ = "whole number"  # argparse's name for the type in its own messages
    return parse
