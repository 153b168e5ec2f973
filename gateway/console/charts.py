"""Charts drawn on the server as inline SVG: no script, no library, readable without colours.

Every chart is an `<svg role="img">` with a title and a description; pages put the same figures in
a table next to it for screen readers and for copying. Colours come from the style sheet (classes
`s0`... `s8`, `over`), never from inline styles, so the console's Content-Security-Policy can forbid
them. Text is escaped here: names come from keys and configuration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["PALETTE_SIZE", "Budget", "Series", "budget_bars", "nice_ceiling", "stacked_bars", "top_series"]

PALETTE_SIZE = 9
"""Series colours in the style sheet; the last one is for "other"."""

Format = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked series: a name and one value per category (per day)."""

    name: str
    values: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(frozen=True, slots=True)
class Budget:
    """One budget bar: what was used of a limit."""

    label: str
    used: int
    limit: int

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit > 0 else math.inf if self.used else 0.0


def nice_ceiling(value: float, ticks: int = 4) -> tuple[float, float]:
    """A round top for an axis and the step between its ticks (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 2.5, 5, 10) if factor * power >= raw)
    return step * math.ceil(value / step - 1e-9), step


def top_series(series: Sequence[Series], keep: int, other: str) -> list[Series]:
    """The `keep` largest series, and the rest summed as one named `other` (so colours stay few)."""
    ranked = sorted(series, key=lambda item: (-item.total, item.name))
    if len(ranked) <= keep + 1:
        return ranked
    rest = ranked[keep:]
    summed = tuple(sum(values) for values in zip(*(item.values for item in rest), strict=True))
    return [*ranked[:keep], Series(other, summed)]


def _text(x: float, y: float, content: str, *, anchor: str = "start", css: str = "") -> str:
    css_attr = f' class="{css}"' if css else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{css_attr}>{escape(content)}</text>'


def stacked_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    title: str,
    description: str,
    axis_format: Format,
    value_format: Format,
    category_label: Callable[[str], str] = str,
    width: int = 820,
    height: int = 260,
) -> Markup:
    """Vertical bars, one per category, each stacking the series in order (colour `s<i>`)."""
    left, right, top, bottom = 64, 8, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(item.values[index] for item in series) for index in range(len(categories))]
    axis_top, step = nice_ceiling(max(totals, default=0))
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    ticks = round(axis_top / step)
    for tick in range(ticks + 1):
        value = step * tick
        y = top + plot_h - plot_h * value / axis_top
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(_text(left - 6, y + 4, axis_format(value), anchor="end", css="axis"))
    slot = plot_w / max(len(categories), 1)
    bar = max(slot * 0.72, 1.0)
    label_every = 1 if slot >= 18 else 2 if slot >= 9 else 5
    for index, category in enumerate(categories):
        x = left + slot * index + (slot - bar) / 2
        base: float = top + plot_h
        for number, item in enumerate(series):
            value = item.values[index]
            if value <= 0:
                continue
            h = plot_h * value / axis_top
            base -= h
            tip = f"{category_label(category)} · {item.name} : {value_format(value)}"
            parts.append(
                f'<rect class="s{min(number, PALETTE_SIZE - 1)}" x="{x:.1f}" y="{base:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}"><title>{escape(tip)}</title></rect>'
            )
        if index % label_every == 0:
            parts.append(
                _text(x + bar / 2, height - 8, category_label(category), anchor="middle", css="axis")
            )
    parts.append(
        f'<line class="baseline" x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def budget_bars(
    budgets: Sequence[Budget],
    *,
    chart_id: str,
    title: str,
    description: str,
    value_format: Format,
    share_format: Format,
    limit_label: str,
    width: int = 820,
) -> Markup:
    """Horizontal bars, one per budget: the part used, the limit drawn as a line, the figures at the
    right. A bar beyond its limit gets class `over` and the scale grows so the excess shows."""
    label_w, figures_w, row_h, top = 230, 250, 30, 22
    bar_x, bar_w = label_w, width - label_w - figures_w
    height = top + row_h * len(budgets) + 6
    parts = [
        f'<svg class="chart budgets" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>',
        _text(bar_x + bar_w, 14, limit_label, anchor="end", css="axis"),
    ]
    for row, budget in enumerate(budgets):
        y = top + row * row_h
        scale = max(budget.limit, budget.used, 1)
        used_w = bar_w * budget.used / scale
        limit_x = bar_x + bar_w * budget.limit / scale
        over = budget.used > budget.limit
        label = budget.label if len(budget.label) <= 30 else budget.label[:29] + "…"
        share = "∞" if math.isinf(budget.share) else share_format(budget.share)
        parts.append(_text(0, y + 16, label, css="label"))
        parts.append(f'<rect class="track" x="{bar_x}" y="{y + 4}" width="{bar_w}" height="16"/>')
        parts.append(
            f'<rect class="{"over" if over else "used"}" x="{bar_x}" y="{y + 4}" width="{used_w:.1f}" '
            f'height="16"><title>{escape(budget.label)} : {escape(value_format(budget.used))} / '
            f"{escape(value_format(budget.limit))}</title></rect>"
        )
        parts.append(f'<line class="limit" x1="{limit_x:.1f}" x2="{limit_x:.1f}" y1="{y}" y2="{y + 24}"/>')
        figures = f"{value_format(budget.used)} / {value_format(budget.limit)} ({share})"
        parts.append(
            _text(bar_x + bar_w + 10, y + 16, figures, css="figures over-text" if over else "figures")
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()
