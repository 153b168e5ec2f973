"""Read py-spy's collapsed stacks (`--format raw`) and say where the gateway's CPU time goes.

Each line is `frame;frame;...;leaf COUNT`, a frame being `function (path/file.py:line)`. Line numbers
are dropped so that one function's samples add up. Three views are printed: the share of samples
spent under each function of `gateway/` (inclusive), the leaf functions (self time), and the
packages the leaf functions belong to.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

__all__ = ["summarize_collapsed"]

_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^():]*)(?::\d+)?\)$")
_OWN_PACKAGE = "gateway/"


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for frame in stack.split(";"):
        match = _FRAME.match(frame)
        frames.append((match["function"], match["path"]) if match else (frame, ""))
    return frames


def _stacks(text: str) -> Iterable[tuple[list[tuple[str, str]], int]]:
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield _frames(stack), int(count)


def _package(path: str) -> str:
    # py-spy shortens site-packages paths to `package/module.py`; the standard library to `asyncio/x.py`.
    return path.split("/", 1)[0] if "/" in path else path or "?"


def _table(title: str, counts: Counter[str], total: int, top: int) -> list[str]:
    lines = [title]
    for name, count in counts.most_common(top):
        lines.append(f"  {count * 100 / total:5.1f}%  {name}")
    return lines


def summarize_collapsed(text: str, top: int = 15) -> str:
    """A plain-text summary of a py-spy raw profile."""
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for frames, count in _stacks(text):
        total += count
        own = {f"{function} ({path})" for function, path in frames if path.startswith(_OWN_PACKAGE)}
        for name in own:
            inclusive[name] += count
        function, path = frames[-1]
        leaves[f"{function} ({path})"] += count
        packages[_package(path)] += count
    if total == 0:
        return "no samples"
    lines = [f"{total} samples"]
    lines += _table("time under gateway/ functions (inclusive):", inclusive, total, top)
    lines += _table("leaf functions (self time):", leaves, total, top)
    lines += _table("self time by package:", packages, total, top)
    return "\n".join(lines)
