"""A monthly statement as a PDF (ReportLab): a title, the table per service and model with each
service's subtotal and the total, and the sign-off (the figures' SHA-256 and the audit log's chain
heads). A4 landscape, the standard Helvetica fonts (nothing to embed), French labels.

ReportLab is imported here only: reports and the gateway itself never load it.
"""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from gateway.metering.statements import Statement, StatementLine, issued, sign_off

__all__ = ["statement_pdf"]

_HEADER = [
    "Service",
    "Modèle",
    "Requêtes",
    "Jetons entrée",
    "Jetons sortie",
    "Jetons total",
    "Coût (EUR)",
    "Énergie (Wh)",
    "Émissions (gCO2e)",
]
_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


def _month(period: str, zone: str) -> str:
    start = datetime.strptime(period, "%Y-%m").replace(tzinfo=ZoneInfo(zone))
    return f"{_MONTHS[start.month - 1]} {start.year}"


def _row(line: StatementLine) -> list[str]:
    cells = line.cells()
    return cells[:2] + [f"{int(value):,}".replace(",", " ") for value in cells[2:6]] + cells[6:]


def statement_pdf(statement: Statement) -> bytes:
    """The statement as PDF bytes."""
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    buffer = io.BytesIO()
    title = f"Relevé de consommation {statement.department} {statement.period}"
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=title,
        author="Sovereign inference gateway",
        subject=f"Usage of department {statement.department}, {statement.period}",
    )
    story = [
        Paragraph(
            f"Relevé mensuel de consommation : direction {statement.department}, "
            f"{_month(statement.period, statement.timezone)}",
            styles["Title"],
        ),
        Paragraph(
            f"Période {statement.period} ({statement.timezone}), émis le {issued(statement)}. "
            "Requêtes, jetons, coût aux prix configurés, énergie et émissions estimées (méthode EcoLogits).",
            styles["BodyText"],
        ),
        Spacer(1, 4 * mm),
    ]
    data = [_HEADER]
    data += [_row(line) for line in statement.lines]
    first_subtotal = len(data)
    data += [_row(line) for line in statement.subtotals]
    data.append(_row(StatementLine("TOTAL", "", statement.total)))
    table = Table(data, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("FONT", (0, first_subtotal), (-1, -2), "Helvetica-Oblique", 8),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#000091")),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("LINEBELOW", (0, first_subtotal - 1), (-1, first_subtotal - 1), 0.6, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ]
        )
    )
    story += [table, Spacer(1, 6 * mm), Paragraph("Scellement", styles["Heading3"])]
    story += [Paragraph(escape(sentence), small) for sentence in sign_off(statement)]
    story.append(
        Paragraph(
            "Vérifier : « gateway audit verify &lt;fichier&gt; » doit trouver la chaîne intacte et, à la "
            "position indiquée, la même empreinte. Un journal coupé ou réécrit depuis ne la contient plus.",
            small,
        )
    )
    document.build(story)
    return buffer.getvalue()
