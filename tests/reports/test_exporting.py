"""Reports as files: the CSV is the table (header, rows, totals) with formula-like text
neutralised, the PDF (WeasyPrint) carries the title, period, filters, figures, the SVG chart,
the table and the notes, and the SVG charts draw the numbers they are given."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from apps.deals.services import deal_create, pipeline_default
from apps.reports import charts, exporting, periods, registry
from apps.reports.base import Chart, Column, Figure, Report, Series, Table
from tests.deals.conftest import ctx, people  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
BERLIN = periods.zone("Europe/Berlin")


def hand_made(**overrides: Any) -> Report:
    period = periods.resolve("this_month", tz=BERLIN, now=datetime(2026, 3, 15, tzinfo=UTC))
    fields: dict[str, Any] = {
        "name": "pipeline",
        "title": "Pipeline by stage",
        "description": "Open deals by stage.",
        "currency": "EUR",
        "filters": {"period": "this_month"},
        "period": period,
        "previous": period.previous(),
        "figures": [
            Figure("value", "Pipeline value", Decimal("125000.50"), "money", Decimal("100000")),
            Figure("deals", "Open deals", 42, "count", 40),
        ],
        "chart": Chart(
            "bar",
            ["Qualified", "Proposal"],
            [Series("Value", [50000.0, 75000.5]), Series("Weighted value", [10000.0, 37500.25])],
            money=True,
        ),
        "table": Table(
            [
                Column("stage", "Stage", "text"),
                Column("deals", "Deals", "count"),
                Column("value", "Value", "money"),
            ],
            rows=[
                {"stage": "Qualified", "deals": 20, "value": Decimal("50000.00")},
                {"stage": '=HYPERLINK("http://x")', "deals": 22, "value": Decimal("-75.50")},
                {"stage": "@SUM(A1)", "deals": 0, "value": None},
            ],
            totals={"stage": "Total", "deals": 42, "value": Decimal("49924.50")},
        ),
        "notes": ["3 deals in GBP have no exchange rate and are not counted."],
    }
    fields.update(overrides)
    return Report(**fields)


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())  # spreadsheets need the BOM to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_csv_is_the_table_with_its_totals() -> None:
    rows = read_csv(exporting.report_csv(hand_made()))
    assert rows[0] == ["Stage", "Deals", "Value"]
    assert rows[1] == ["Qualified", "20", "50000.00"]
    # Text a spreadsheet would run gets an apostrophe; a negative number stays a number.
    assert rows[2] == ['\'=HYPERLINK("http://x")', "22", "-75.50"]
    assert rows[3] == ["'@SUM(A1)", "0", ""]
    assert rows[4] == ["Total", "42", "49924.50"]
    assert len(rows) == 5


def test_csv_without_a_table_lists_the_figures() -> None:
    rows = read_csv(exporting.report_csv(hand_made(table=None)))
    assert rows[0] == ["Figure", "Value", "Previous period", "Change (%)"]
    assert rows[1] == ["Pipeline value", "125000.50", "100000", "25.0"]
    assert rows[2] == ["Open deals", "42", "40", "5.0"]


def test_pdf_shows_title_period_figures_chart_table_and_notes() -> None:
    text = pdf_text(exporting.report_pdf(hand_made(), organisation="Alpha Ltd", viewer="Ola"))
    for expected in (
        "Pipeline by stage",
        "This month",
        "1 Mar 2026",
        "31 Mar 2026",
        "compared with 1 Feb 2026",
        "Alpha Ltd",
        "125,000.50",  # a figure
        "+25.0%",  # its change against the previous period
        "49,924.50 EUR",  # the table's total
        "=HYPERLINK",  # shown as written (a PDF runs nothing)
        "3 deals in GBP have no exchange rate",
    ):
        assert expected in text, expected
    # The chart's SVG made it in: its axis and its legend are text in the PDF.
    assert "Weighted value" in text and "80k" in text


def test_pdf_of_an_empty_report_still_renders() -> None:
    report = hand_made(figures=[], chart=None, table=None, notes=[], period=None, previous=None)
    text = pdf_text(exporting.report_pdf(report))
    assert "Pipeline by stage" in text


def test_pdf_loads_nothing_from_outside() -> None:
    # A label holding markup is text, and nothing it names is fetched.
    report = hand_made(title='<img src="http://127.0.0.1:9/x.png">Sneaky')
    html = exporting.report_html(report)
    assert "<img" not in html.split("<body>")[1].split("<svg")[0]
    assert "Sneaky" in pdf_text(exporting.report_pdf(report))


def _rects(svg: str) -> list[dict[str, float]]:
    found = []
    for match in re.finditer(
        r'<rect class="bar" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg
    ):
        x, y, w, h = (float(v) for v in match.groups())
        found.append({"x": x, "y": y, "w": w, "h": h})
    return found


def test_bar_heights_follow_the_values() -> None:
    chart = Chart("bar", ["A", "B"], [Series("Deals", [10, 40])])
    bars = _rects(charts.svg(chart))
    assert len(bars) == 2
    assert bars[1]["h"] == pytest.approx(bars[0]["h"] * 4, rel=0.01)


def test_stacked_bars_add_up() -> None:
    chart = Chart("stacked", ["Jan"], [Series("Won", [30]), Series("Lost", [10])])
    won, lost = _rects(charts.svg(chart))
    assert lost["h"] == pytest.approx(won["h"] / 3, rel=0.01)
    assert lost["y"] + lost["h"] == pytest.approx(won["y"], abs=0.2)  # on top of each other


def test_line_series_is_a_polyline_over_the_bars() -> None:
    chart = Chart(
        "bar", ["Jan", "Feb", "Mar"], [Series("Won", [1, 2, 3]), Series("Trend", [1, 2, 3], "line")]
    )
    svg = charts.svg(chart)
    assert len(_rects(svg)) == 3
    points = re.search(r'<polyline points="([^"]+)"', svg)
    assert points is not None
    ys = [float(p.split(",")[1]) for p in points.group(1).split()]
    assert ys[0] > ys[1] > ys[2]  # rising values are drawn higher up


def test_funnel_bands_shrink_with_the_stages_and_show_conversion() -> None:
    chart = Chart("funnel", ["Leads", "Qualified", "Won"], [Series("Deals", [200, 100, 25])])
    svg = charts.svg(chart)
    widths = [r["w"] for r in _rects(svg)]
    assert widths[0] == pytest.approx(widths[1] * 2, rel=0.01)
    assert widths[1] == pytest.approx(widths[2] * 4, rel=0.01)
    assert ">50%<" in svg and ">25%<" in svg


def test_chart_labels_are_escaped() -> None:
    chart = Chart("bar", ["<script>alert(1)</script>"], [Series("A & B", [1])])
    svg = charts.svg(chart)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg and "A &amp; B" in svg


def test_no_chart_draws_nothing() -> None:
    assert charts.svg(None) == ""
    assert charts.svg(Chart("bar", [], [])) == ""


def test_image_installs_what_weasyprint_needs() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    runtime = dockerfile.split("AS runtime", 1)[1]
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-dejavu"):
        assert package in runtime, package


def test_real_report_as_csv_and_pdf(people: Any) -> None:  # noqa: F811
    pipeline_default()
    deal_create(actor=people.owner, title="Big one", value="1234.50")
    report = registry.build("pipeline", people.owner, {"period": "this_month"}, cached=False)
    assert report.table is not None
    rows = read_csv(exporting.report_csv(report))
    assert rows[0] == [c.label for c in report.table.columns]
    assert rows[-1][0] == "Total" and "1234.50" in rows[-1]
    text = pdf_text(exporting.report_pdf(report))
    assert "Pipeline by stage" in text and "1,234.50" in text


def test_long_labels_are_turned_short_ones_are_not() -> None:
    months = [f"Month {n} 2026" for n in range(1, 13)]
    assert "rotate(-40" in charts.svg(Chart("bar", months, [Series("Won", [1.0] * 12)]))
    assert "rotate(" not in charts.svg(Chart("bar", ["Q1", "Q2"], [Series("Won", [1.0, 2.0])]))
