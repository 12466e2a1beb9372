"""argparse `type`s for the flags that take a count or a rate: a value out of range is the flag's
one-line error (exit 2), before a command reads anything."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse `type`: an integer from `lo` to `hi`; anything else is the flag's one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range: give a whole number from {lo} to {hi:,}")
        return value

    parse.__name__ = "whole number"  # (argparse names the type in its message)
    return parse


def positive(text: str) -> float:
    """An argparse `type`: a finite number above 0 (a learning rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is out of range: give a finite number above 0")
    return value
