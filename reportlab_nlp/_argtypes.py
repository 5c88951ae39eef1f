"""argparse value types shared by the commands."""

from __future__ import annotations

import argparse


def positive_int(value: str) -> int:
    """A whole number of at least 1, or an argparse error saying what was given."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {n}")
    return n
