"""Usage reports: the sums of one month's usage, grouped by department, service, model or day.

    report = await usage_report(store, "2026-11", by="service", department="dgfip")
    print(render_table(report))          # or render_csv, render_json; report.as_json() for the API

Every figure is a sum of integers read from the store (euros in micro-euros), so the rows add up
exactly to the total, and the total to the records. `total_tokens` is prompt plus completion tokens;
cached tokens are part of the prompt tokens.

`audio_seconds` (transcriptions and translations) is a measure of the reports whose month has any:
then every row, the total and the CSV and table columns carry it, next to `total_tokens`. A month
without audio is reported exactly as before audio was metered, so readers of those reports see no
change.

`energy_wh` and `emissions_gco2eq` (estimated for the models whose size is configured) are, the same
way, measures of the reports whose month has any energy: after `cost_eur`, in watt-hours and grams of
CO2 equivalent with six decimals, summed exactly from micro-units.

With a department, the store is asked for that department only, and any row of another department
it might return is discarded here as well: a caller can only ever see the department it named.
Who may name which department is the caller's business (the admin API asks the Casbin policy).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

import msgspec

from gateway.metering.errors import InvalidUsageQuery
from gateway.metering.records import UsageCell
from gateway.metering.store import UsageStore

__all__ = [
    "DIMENSIONS",
    "FORMATS",
    "Dimension",
    "UsageReport",
    "UsageRow",
    "UsageTotals",
    "admin_usage",
    "grouping",
    "render",
    "render_csv",
    "render_json",
    "render_table",
    "usage_report",
]

Dimension = Literal["department", "service", "model", "day"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
Format = Literal["table", "csv", "json"]
FORMATS: tuple[Format, ...] = get_args(Format)

_MEASURES = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "total_tokens",
    "weighted_cost",
    "cost_eur",
)
_AUDIO = "audio_seconds"
_AUDIO_AFTER = _MEASURES.index("total_tokens") + 1  # where the audio measure goes, when it is reported
_IMPACTS = ("energy_wh", "emissions_gco2eq")  # after every other measure, when the month has energy


def _euros(micro: int) -> str:
    """Exact decimal euros: 1234567 -> "1.234567"."""
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(micro), 1_000_000)
    return f"{sign}{whole}.{fraction:06d}"


class UsageTotals(msgspec.Struct, kw_only=True):
    """Summed usage. Integers only: `cost_eur` is derived from the exact `cost_micro_eur`."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    weighted_cost: int = 0
    cost_micro_eur: int = 0
    audio_seconds: int = 0
    energy_micro_wh: int = 0
    emissions_micro_g: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost_eur(self) -> float:
        return self.cost_micro_eur / 1_000_000

    @property
    def energy_wh(self) -> float:
        return self.energy_micro_wh / 1_000_000

    @property
    def emissions_gco2eq(self) -> float:
        return self.emissions_micro_g / 1_000_000

    def add(self, cell: UsageCell | UsageTotals) -> None:
        self.requests += cell.requests
        self.prompt_tokens += cell.prompt_tokens
        self.completion_tokens += cell.completion_tokens
        self.cached_tokens += cell.cached_tokens
        self.weighted_cost += cell.weighted_cost
        self.cost_micro_eur += cell.cost_micro_eur
        self.audio_seconds += cell.audio_seconds
        self.energy_micro_wh += cell.energy_micro_wh
        self.emissions_micro_g += cell.emissions_micro_g

    def measures(self, audio: bool = False, impacts: bool = False) -> dict[str, int | float]:
        """The figures as JSON gives them: `cost_eur` a number, `cost_micro_eur` its exact value;
        `audio_seconds` after `total_tokens` when `audio` (the report has some)."""
        figures: dict[str, int | float] = {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "total_tokens": self.total_tokens,
        }
        if audio:
            figures[_AUDIO] = self.audio_seconds
        figures["weighted_cost"] = self.weighted_cost
        figures["cost_eur"] = self.cost_eur
        figures["cost_micro_eur"] = self.cost_micro_eur
        if impacts:
            figures["energy_wh"] = self.energy_wh
            figures["emissions_gco2eq"] = self.emissions_gco2eq
        return figures

    def _texts(self, audio: bool = False, impacts: bool = False) -> list[str]:
        texts = [
            str(self.requests),
            str(self.prompt_tokens),
            str(self.completion_tokens),
            str(self.cached_tokens),
            str(self.total_tokens),
            str(self.weighted_cost),
            _euros(self.cost_micro_eur),
        ]
        if audio:
            texts.insert(_AUDIO_AFTER, str(self.audio_seconds))
        if impacts:
            texts += [_euros(self.energy_micro_wh), _euros(self.emissions_micro_g)]  # six decimals
        return texts


class UsageRow(UsageTotals, kw_only=True):
    """One group: `key` holds the values of the report's `columns`, in order."""

    key: tuple[str, ...]


class UsageReport(msgspec.Struct, kw_only=True):
    period: str
    """The month, `YYYY-MM`."""
    timezone: str
    """The zone of its days and boundaries."""
    start: int
    """First second of the month (epoch), included."""
    end: int
    """First second of the next month (epoch), excluded."""
    columns: tuple[Dimension, ...]
    """What the rows are grouped by: `service` comes with its `department`."""
    department: str | None
    """The only department reported, or None for every department."""
    rows: list[UsageRow]
    """Sorted by `key`; groups without any request are absent."""
    total: UsageTotals
    """The sums of every row."""

    @property
    def has_audio(self) -> bool:
        """Whether the month had audio, and so whether its figures include `audio_seconds`."""
        return self.total.audio_seconds > 0

    @property
    def has_impacts(self) -> bool:
        """Whether the month had estimated energy, and so whether its figures include it."""
        return self.total.energy_micro_wh > 0 or self.total.emissions_micro_g > 0

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: what `GET /admin/usage` answers."""
        zone = ZoneInfo(self.timezone)
        return {
            "object": "usage_report",
            "period": self.period,
            "timezone": self.timezone,
            "start": datetime.fromtimestamp(self.start, zone).isoformat(),
            "end": datetime.fromtimestamp(self.end, zone).isoformat(),
            "by": list(self.columns),
            "department": self.department,
            "rows": [
                dict(zip(self.columns, row.key, strict=True)) | row.measures(self.has_audio, self.has_impacts)
                for row in self.rows
            ],
            "total": self.total.measures(self.has_audio, self.has_impacts),
        }


def grouping(by: str | Sequence[str]) -> tuple[Dimension, ...]:
    """The report's columns from `by`: one dimension or several (a list, or `model,day`).

    `service` brings its `department` along, since service names are only unique within one."""
    names = [name.strip() for name in by.split(",")] if isinstance(by, str) else [str(name) for name in by]
    columns: list[Dimension] = []
    for name in names:
        if name not in DIMENSIONS:
            raise InvalidUsageQuery(
                f"cannot group usage by {name!r}; choose among {', '.join(DIMENSIONS)}", "by"
            )
        wanted: list[Dimension] = ["department", "service"] if name == "service" else [name]
        columns.extend(column for column in wanted if column not in columns)
    if not columns:
        raise InvalidUsageQuery(f"group usage by one of {', '.join(DIMENSIONS)}", "by")
    return tuple(columns)


def _summarize(
    cells: Iterable[UsageCell], columns: tuple[Dimension, ...], department: str | None
) -> tuple[list[UsageRow], UsageTotals]:
    groups: dict[tuple[str, ...], UsageRow] = {}
    total = UsageTotals()
    for cell in cells:
        if department is not None and cell.department != department:
            continue
        key = tuple(getattr(cell, column) for column in columns)
        row = groups.get(key)
        if row is None:
            row = groups[key] = UsageRow(key=key)
        row.add(cell)
        total.add(cell)
    return [groups[key] for key in sorted(groups)], total


async def usage_report(
    store: UsageStore,
    period: str,
    *,
    by: str | Sequence[str] = "department",
    department: str | None = None,
) -> UsageReport:
    """One month's usage (`2026-11`, in the store's time zone), grouped `by`, of `department` only
    when given. `InvalidUsageQuery` for a malformed argument, `UsageStoreError` if the store fails."""
    month = store.calendar.period(period)
    columns = grouping(by)
    if department is not None and not department.strip():
        raise InvalidUsageQuery("department must not be empty", "department")
    cells = await store.cells(month, department)
    rows, total = _summarize(cells, columns, department)
    return UsageReport(
        period=month.name,
        timezone=month.zone.key,
        start=month.start,
        end=month.end,
        columns=columns,
        department=department,
        rows=rows,
        total=total,
    )


async def admin_usage(
    store: UsageStore,
    *,
    period: str | None = None,
    by: str | Sequence[str] = "department",
    department: str | None = None,
) -> dict[str, Any]:
    """What `GET /admin/usage?period=&by=&department=` answers, JSON-ready; the current month when
    `period` is None. The caller decides, before calling, which department its caller may read."""
    name = period if period is not None else store.calendar.current().name
    return (await usage_report(store, name, by=by, department=department)).as_json()


# -- rendering -------------------------------------------------------------------------------------


def _header(report: UsageReport) -> list[str]:
    measures = list(_MEASURES)
    if report.has_audio:
        measures.insert(_AUDIO_AFTER, _AUDIO)
    if report.has_impacts:
        measures += _IMPACTS
    return [*report.columns, *measures]


def render_csv(report: UsageReport) -> str:
    """One line per row, a header first, no total line (a spreadsheet sums); euros with six decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_header(report))
    for row in report.rows:
        writer.writerow([*row.key, *row._texts(report.has_audio, report.has_impacts)])
    return out.getvalue()


def render_json(report: UsageReport) -> str:
    return msgspec.json.encode(report.as_json()).decode()


def render_table(report: UsageReport) -> str:
    """Aligned text for a terminal: a title, the rows, a rule and the total."""
    title = f"Usage {report.period} ({report.timezone}) by {', '.join(report.columns)}"
    if report.department is not None:
        title += f", department {report.department}"
    header = [column.upper() for column in _header(report)]
    lines = [[*row.key, *row._texts(report.has_audio, report.has_impacts)] for row in report.rows]
    total = [
        "TOTAL",
        *[""] * (len(report.columns) - 1),
        *report.total._texts(report.has_audio, report.has_impacts),
    ]
    widths = [max(len(line[index]) for line in [header, *lines, total]) for index in range(len(header))]
    labels = len(report.columns)

    def format_line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if index < labels else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return (
        "\n".join([title, "", format_line(header), *map(format_line, lines), rule, format_line(total)]) + "\n"
    )


def render(report: UsageReport, format: str) -> str:
    if format == "table":
        return render_table(report)
    if format == "csv":
        return render_csv(report)
    if format == "json":
        return render_json(report) + "\n"
    raise InvalidUsageQuery(f"unknown format {format!r}; choose among {', '.join(FORMATS)}", "format")
