"""A report as files: CSV (the table under the chart: its columns, rows and totals; the
headline figures when a report has no table) and PDF (title, period and comparison, filters,
figures, the chart as SVG, the table and the notes), rendered with WeasyPrint.

Both read the one `Report` the web page and the API show, so none of them can disagree. A text
cell that a spreadsheet would run as a formula gets a leading apostrophe, as record exports do;
numbers are written as they are (a negative number is not a formula)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from . import charts
from .base import Figure, Kind, Report

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv; charset=utf-8"
PDF_TYPE = "application/pdf"
# Filters that are not about which records (the period is shown on its own).
PERIOD_KEYS = ("period", "start", "end")


def neutralise(value: Any) -> str | int | float:
    """A CSV cell: numbers as they are, text never starting like a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _figure_rows(figures: Iterable[Figure]) -> list[list[Any]]:
    rows: list[list[Any]] = [["Figure", "Value", "Previous period", "Change (%)"]]
    for f in figures:
        rows.append([f.label, f.value, f.previous, f.change])
    return rows


def csv_rows(report: Report) -> list[list[Any]]:
    """The rows of the CSV, before neutralising."""
    table = report.table
    if table is None or not table.columns:
        return _figure_rows(report.figures)
    keys = [c.key for c in table.columns]
    rows: list[list[Any]] = [[c.label for c in table.columns]]
    rows.extend([row.get(k) for k in keys] for row in table.rows)
    if table.totals is not None:
        totals = [table.totals.get(k) for k in keys]
        if totals and totals[0] in (None, ""):
            totals[0] = "Total"
        rows.append(totals)
    return rows


def report_csv(report: Report) -> bytes:
    """The report's table as CSV (UTF-8 with a BOM, which spreadsheets need to read it as
    UTF-8): the columns' labels, one line per row, then the totals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv_rows(report):
        writer.writerow([neutralise(cell) for cell in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def display(value: Any, kind: Kind | str, currency: str = "") -> str:
    """A value as a reader sees it in the PDF: 12,500.00 EUR, 42.5%, 12 days, 1,204."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        if kind == "money":
            return f"{number:,.2f} {currency}".strip()
        if kind == "percent":
            return f"{number:,.1f}%"
        if kind == "days":
            return f"{number:,.1f} days"
        if number == number.to_integral_value():
            return f"{int(number):,}"
        return f"{number:,.2f}"
    return str(value)


def filters_in_words(filters: Mapping[str, Any], report_name: str = "") -> list[str]:
    """The filters a report was built with, as a reader would say them ("Owner: Rita Rep"),
    the period left out (it is shown on its own). Ids of owners, teams and pipelines are
    named; one that no longer exists is shown as its id."""
    from apps.accounts.models import Team, User
    from apps.deals.models import Pipeline

    models: dict[str, Any] = {"owner": User, "team": Team, "pipeline": Pipeline}
    words: list[str] = []
    for key, raw in filters.items():
        if key in PERIOD_KEYS or raw in (None, "", [], ()):
            continue
        if key == "group":
            words.append(f"Grouped by: {_group_label(report_name, str(raw))}")
            continue
        value: Any = raw
        model = models.get(key)
        if model is not None and str(raw).isdigit():
            found = model.objects.filter(pk=int(raw)).first()
            value = found.get_full_name() if isinstance(found, User) else (found or f"#{raw}")
        elif isinstance(raw, Mapping):
            value = raw.get("label") or raw.get("name") or raw.get("id")
        elif isinstance(raw, list | tuple):
            value = ", ".join(str(v) for v in raw)
        words.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return words


def figure_cells(report: Report) -> list[dict[str, Any]]:
    """The headline figures as a reader sees them (for the PDF and the email)."""
    return [
        {
            "label": f.label,
            "value": display(f.value, f.kind, report.currency),
            "previous": None
            if f.previous is None
            else display(f.previous, f.kind, report.currency),
            "change": f.change,
            "help": f.help,
        }
        for f in report.figures
    ]


def _group_label(report_name: str, group: str) -> str:
    from . import registry

    try:
        groups = dict(registry.get(report_name).groups) if report_name else {}
    except Exception:  # an unknown report: the grouping's own name
        groups = {}
    return str(groups.get(group) or group)


def pdf_context(
    report: Report,
    *,
    organisation: str = "",
    generated_at: datetime | None = None,
    viewer: str = "",
) -> dict[str, Any]:
    columns = report.table.columns if report.table is not None else []

    def cells(values: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            {"text": display(values.get(c.key), c.kind, report.currency), "num": c.kind != "text"}
            for c in columns
        ]

    rows = [cells(row) for row in (report.table.rows if report.table is not None else [])]
    totals = None
    if report.table is not None and report.table.totals is not None:
        totals = cells(report.table.totals)
        if totals and totals[0]["text"] == "—":
            totals[0] = {"text": "Total", "num": False}
    figures = figure_cells(report)
    return {
        "report": report,
        "organisation": organisation,
        "viewer": viewer,
        # As the reader's clock said (the caller passes it in their zone).
        "generated_at": (
            f"{generated_at:%d %b %Y %H:%M} {generated_at.tzname() or ''}".strip()
            if generated_at is not None
            else ""
        ),
        "filters": filters_in_words(report.filters, report.name),
        "figures": figures,
        # Drawn here from numbers and escaped labels only (charts.py), so it is safe markup.
        "chart_svg": mark_safe(charts.svg(report.chart, title=report.title)),  # noqa: S308
        "columns": columns,
        "rows": rows,
        "totals": totals,
    }


def _refusing_fetcher() -> Any:
    """A report PDF is self-contained: nothing in it is fetched (no file, no network), even
    if a label someday held a URL."""
    from weasyprint.urls import URLFetcher

    class NoFetching(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"report PDFs load nothing from outside ({url[:60]})")

    return NoFetching()


def report_html(report: Report, **context: Any) -> str:
    return render_to_string("reports/pdf.html", pdf_context(report, **context))


def report_pdf(report: Report, **context: Any) -> bytes:
    """The report as a PDF document (A4), WeasyPrint rendering `reports/pdf.html`."""
    from weasyprint import HTML

    # fontTools reports every table it trims from the embedded fonts at INFO.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    html = report_html(report, **context)
    document = HTML(string=html, base_url=None, url_fetcher=_refusing_fetcher())
    pdf = document.write_pdf()
    if pdf is None:  # pragma: no cover - write_pdf returns bytes when given no target
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)


def file_name(report: Report, extension: str) -> str:
    """`pipeline-2026-03-01-2026-03-31.pdf`: the report and its period."""
    stem = report.name
    period = report.period
    if period is not None and getattr(period, "first", None) is not None:
        stem += f"-{period.first.isoformat()}-{period.last.isoformat()}"
    return f"{stem}.{extension}"
