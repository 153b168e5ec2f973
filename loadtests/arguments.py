"""Command-line argument types shared by the benchmarks."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["bounded_count"]


def bounded_count(maximum: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to `maximum` (every loop of a benchmark is bounded)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not 1 <= value <= maximum:
            raise argparse.ArgumentTypeError(f"between 1 and {maximum:,}")
        return value

    return parse
