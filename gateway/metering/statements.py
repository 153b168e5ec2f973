"""Monthly statements: one department's month, per service and model, for a finance office.

    statement = await monthly_statement(store, "2026-11", "dgfip", chain_heads(config.audit))
    render_statement_csv(statement)      # or statement_pdf(statement) (gateway.metering.statement_pdf)

A statement holds, for each (service, model) of the department's month, its requests, tokens, euros,
energy and emissions; a subtotal per service; the month's total; and its sign-off: the heads of the
audit log's chains when it was issued (`gateway.audit.heads`), plus the SHA-256 of its own figures,
so that a statement can be checked against the log and its figures against a copy.

Every figure is an exact sum of what the usage store counted (micro-units), written with six
decimals: the lines add up to the subtotals and the subtotals to the total, to the last digit.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Sequence

import msgspec

from gateway.audit.heads import ChainHead
from gateway.metering.errors import InvalidUsageQuery
from gateway.metering.reports import UsageTotals, usage_report
from gateway.metering.store import UsageStore

__all__ = ["STATEMENT_COLUMNS", "Statement", "StatementLine", "monthly_statement", "render_statement_csv"]

STATEMENT_COLUMNS = (
    "service",
    "model",
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_eur",
    "energy_wh",
    "emissions_gco2eq",
)
ALL_MODELS = "(all models)"
"""The model column of a service's subtotal."""


def _decimal(micro: int) -> str:
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(micro), 1_000_000)
    return f"{sign}{whole}.{fraction:06d}"


class StatementLine(msgspec.Struct, frozen=True):
    service: str
    model: str
    """A model's name, or `ALL_MODELS` on a service's subtotal."""
    figures: UsageTotals

    def cells(self) -> list[str]:
        figures = self.figures
        return [
            self.service,
            self.model,
            str(figures.requests),
            str(figures.prompt_tokens),
            str(figures.completion_tokens),
            str(figures.total_tokens),
            _decimal(figures.cost_micro_eur),
            _decimal(figures.energy_micro_wh),
            _decimal(figures.emissions_micro_g),
        ]


class Statement(msgspec.Struct, frozen=True):
    period: str
    timezone: str
    department: str
    issued_at: float
    """When it was made (epoch seconds): the chain heads are the log's at that time."""
    lines: tuple[StatementLine, ...]
    """Per (service, model), sorted."""
    subtotals: tuple[StatementLine, ...]
    """Per service, sorted."""
    total: UsageTotals
    chain_heads: tuple[ChainHead, ...]

    def figures_sha256(self) -> str:
        """SHA-256 of the figures as the CSV writes them (lines, subtotals, total): what the PDF
        prints, so that a PDF and a CSV of the same month can be seen to agree."""
        digest = hashlib.sha256()
        for line in (*self.lines, *self.subtotals, StatementLine("TOTAL", "", self.total)):
            digest.update(",".join(line.cells()).encode() + b"\n")
        return digest.hexdigest()


async def monthly_statement(
    store: UsageStore, period: str, department: str, chain_heads: Sequence[ChainHead] = ()
) -> Statement:
    """The statement of `department` for `period` (`2026-11`, in the store's time zone)."""
    if not department or not department.strip():
        raise InvalidUsageQuery("a statement is for one department: name it", "department")
    report = await usage_report(store, period, by="service,model", department=department)
    lines: list[StatementLine] = []
    services: dict[str, UsageTotals] = {}
    for row in report.rows:
        _, service, model = row.key
        lines.append(StatementLine(service, model, row))
        services.setdefault(service, UsageTotals()).add(row)
    return Statement(
        period=report.period,
        timezone=report.timezone,
        department=department,
        issued_at=time.time(),
        lines=tuple(lines),
        subtotals=tuple(StatementLine(name, ALL_MODELS, services[name]) for name in sorted(services)),
        total=report.total,
        chain_heads=tuple(chain_heads),
    )


def render_statement_csv(statement: Statement) -> str:
    """The lines, each service's subtotal and the total, under one header; then the sign-off as
    `#` lines (spreadsheets and `pandas.read_csv(comment="#")` skip them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATEMENT_COLUMNS)
    for line in (*statement.lines, *statement.subtotals):
        writer.writerow(line.cells())
    writer.writerow(StatementLine("TOTAL", "", statement.total).cells())
    for comment in sign_off(statement):
        out.write(f"# {comment}\n")
    return out.getvalue()


def issued(statement: Statement) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(statement.issued_at))


def sign_off(statement: Statement) -> list[str]:
    """What the statement is signed off with, one sentence each."""
    said = [
        f"statement of department {statement.department} for {statement.period} ({statement.timezone}), "
        f"issued {issued(statement)}",
        f"figures sha256 {statement.figures_sha256()}",
    ]
    if not statement.chain_heads:
        said.append("audit log: no hash chain configured (audit.hash_chain), nothing to sign off with")
    for head in statement.chain_heads:
        state = "intact" if head.intact else "BROKEN (run gateway audit verify)"
        said.append(
            f"audit chain {head.file}: {head.records} records, last seq {head.seq}, "
            f"last line sha256 {head.sha256}, {state}"
        )
    return said
