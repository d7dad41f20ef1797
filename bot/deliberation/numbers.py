"""Exact decimal display of integer hundredths (areas in 0.01 m², money in fen, percentages)."""

from __future__ import annotations


def format_hundredths(value: int) -> str:
    """7840 -> "78.40", -5 -> "-0.05": the stored integer, never a float on the way."""
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"
