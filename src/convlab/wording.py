"""Counts in messages: "1 epoch", "2 epochs" (never "1 epochs")."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and `noun`, the noun in the plural (`plural`, else noun + "s") unless n is 1: counted(1, "epoch")
    is "1 epoch", counted(3, "epoch") is "3 epochs"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
