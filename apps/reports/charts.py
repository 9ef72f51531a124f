"""A report's chart as SVG, drawn in Python for the PDF (WeasyPrint runs no JavaScript). It reads
the same `Chart` (labels and series) that Chart.js draws on the web page, so the two show the
same numbers: grouped bars, stacked bars, lines (a "line" series over bars too) and a funnel.

The SVG is self-contained (no fonts, scripts or links to fetch) and every text in it is
escaped, so a stage or source named `<script>` is drawn as those characters."""

from __future__ import annotations

import math
from decimal import Decimal
from html import escape

from .base import Chart, Series

WIDTH = 720
HEIGHT = 300
# Plot area margins: room for the value axis on the left and labels underneath.
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 64
LEGEND_ROW = 18
PALETTE = (
    "#2563eb",
    "#16a34a",
    "#f59e0b",
    "#dc2626",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
)
AXIS = "#6b7280"
GRID = "#e5e7eb"
FONT = 'font-family="DejaVu Sans, sans-serif"'


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def number(value: float) -> str:
    """A short axis or bar label: 1,250 / 12.5k / 3.4M."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1_000_000:
        text = f"{value / 1_000_000:.1f}M"
    elif value >= 100_000:
        text = f"{value / 1_000:.0f}k"
    elif value >= 1_000:
        text = f"{value / 1_000:.1f}k"
    elif value == int(value):
        text = f"{int(value)}"
    else:
        text = f"{value:.1f}"
    return sign + text.replace(".0k", "k").replace(".0M", "M")


def nice_max(value: float) -> float:
    """The top of the value axis: the next 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _ticks(span: float) -> int:
    """Gridlines at round numbers: a span of 2 (x 10^n) in halves, others in fifths."""
    if span <= 0:
        return 4
    mantissa = span / 10 ** math.floor(math.log10(span))
    return 4 if round(mantissa, 6) == 2 else 5


def _values(series: Series, count: int) -> list[float]:
    values = [float(v) if isinstance(v, int | float | Decimal) else 0.0 for v in series.values]
    return (values + [0.0] * count)[:count]


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "middle",
    size: int = 10,
    fill: str = AXIS,
    extra: str = "",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" {FONT}{extra}>{escape(text)}</text>'
    )


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: max(limit - 1, 1)] + "…"


def _legend(series: list[Series], y: float) -> list[str]:
    parts: list[str] = []
    x = float(LEFT)
    for index, s in enumerate(series):
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour(index)}"/>'
        )
        parts.append(_text(x + 14, y, s.name, anchor="start"))
        x += 24 + 6.5 * len(s.name)
    return parts


def _frame(height: float, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" class="report-chart">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def svg(chart: Chart | None, *, title: str = "Chart") -> str:
    """The chart as an SVG document (empty string for no chart or nothing to draw)."""
    if chart is None or not chart.labels or not chart.series:
        return ""
    if chart.kind == "funnel":
        return _funnel(chart, title)
    return _axes_chart(chart, title)


def _axes_chart(chart: Chart, title: str) -> str:
    count = len(chart.labels)
    series = chart.series
    stacked = chart.kind == "stacked"
    as_line = [chart.kind == "line" or s.kind == "line" for s in series]
    bars = [s for s, line in zip(series, as_line, strict=True) if not line]
    values = [_values(s, count) for s in series]

    # The axis spans the highest bar stack (or bar, or line point) and zero.
    highs: list[float] = []
    lows: list[float] = [0.0]
    if stacked:
        for i in range(count):
            column = [v[i] for v, line in zip(values, as_line, strict=True) if not line]
            highs.append(sum(x for x in column if x > 0))
            lows.append(sum(x for x in column if x < 0))
    for v, line in zip(values, as_line, strict=True):
        if line or not stacked:
            highs.extend(v)
            lows.extend(v)
    top = nice_max(max(highs or [0.0]))
    bottom = -nice_max(-min(lows)) if min(lows) < 0 else 0.0

    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    span = (top - bottom) or 1.0

    def y_of(value: float) -> float:
        return TOP + plot_h * (top - value) / span

    body: list[str] = [f'<rect width="{WIDTH}" height="{HEIGHT + LEGEND_ROW}" fill="#ffffff"/>']
    ticks = _ticks(top - bottom)
    for step in range(ticks + 1):
        value = bottom + span * step / ticks
        y = y_of(value)
        body.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        body.append(_text(LEFT - 6, y + 3.5, number(value), anchor="end"))
    zero = y_of(0.0)
    body.append(
        f'<line x1="{LEFT}" y1="{zero:.1f}" x2="{WIDTH - RIGHT}" y2="{zero:.1f}" stroke="{AXIS}"/>'
    )

    slot = plot_w / count
    label_limit = max(int(slot / 6), 4)
    # Labels wider than their slot (about 6 units a character) are turned, so they do not
    # run into each other.
    turned = count > 12 or max(len(label) for label in chart.labels) * 6 > slot
    for i, label in enumerate(chart.labels):
        x = LEFT + slot * (i + 0.5)
        if turned:
            body.append(
                _text(
                    x,
                    HEIGHT - BOTTOM + 12,
                    _short(label, 14),
                    anchor="end",
                    extra=f' transform="rotate(-40 {x:.1f} {HEIGHT - BOTTOM + 12:.1f})"',
                )
            )
        else:
            body.append(_text(x, HEIGHT - BOTTOM + 14, _short(label, label_limit)))

    bar_indexes = [i for i, line in enumerate(as_line) if not line]
    group = slot * 0.7
    for i in range(count):
        left = LEFT + slot * i + (slot - group) / 2
        if stacked:
            up = down = 0.0
            for k in bar_indexes:
                value = values[k][i]
                if value >= 0:
                    y0, y1 = y_of(up + value), y_of(up)
                    up += value
                else:
                    y0, y1 = y_of(down), y_of(down + value)
                    down += value
                body.append(_bar(left, y0, group, y1 - y0, colour(k)))
        elif bars:
            width = group / len(bar_indexes)
            for n, k in enumerate(bar_indexes):
                value = values[k][i]
                y0, y1 = (y_of(value), zero) if value >= 0 else (zero, y_of(value))
                body.append(_bar(left + width * n, y0, width * 0.92, y1 - y0, colour(k)))
                if count * len(bar_indexes) <= 12 and value:
                    body.append(_text(left + width * (n + 0.46), y0 - 3, number(value), size=9))
    for k, line in enumerate(as_line):
        if not line:
            continue
        points = " ".join(
            f"{LEFT + slot * (i + 0.5):.1f},{y_of(values[k][i]):.1f}" for i in range(count)
        )
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{colour(k)}" stroke-width="2"/>'
        )
        for i in range(count):
            body.append(
                f'<circle cx="{LEFT + slot * (i + 0.5):.1f}" cy="{y_of(values[k][i]):.1f}" '
                f'r="2.5" fill="{colour(k)}"/>'
            )
    body.extend(_legend(series, HEIGHT + 8))
    return _frame(HEIGHT + LEGEND_ROW, body, title)


def _bar(x: float, y: float, width: float, height: float, fill: str) -> str:
    return (
        f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(width, 0.5):.1f}" '
        f'height="{max(height, 0.0):.1f}" fill="{fill}"/>'
    )


def _funnel(chart: Chart, title: str) -> str:
    """One centred band per stage, as wide as its share of the first stage's value, with the
    value and the conversion from the stage before."""
    count = len(chart.labels)
    values = _values(chart.series[0], count)
    first = max(values[0] if values else 0.0, max(values or [0.0]), 1e-9)
    band = 28.0
    gap = 6.0
    label_w = 170
    plot_w = WIDTH - label_w - RIGHT - 110
    height = TOP + count * (band + gap) + 8
    centre = label_w + plot_w / 2
    body: list[str] = [f'<rect width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>']
    for i, (label, value) in enumerate(zip(chart.labels, values, strict=True)):
        y = TOP + i * (band + gap)
        width = max(plot_w * max(value, 0.0) / first, 2.0)
        body.append(_bar(centre - width / 2, y, width, band, colour(0)))
        body.append(_text(label_w - 8, y + band / 2 + 4, _short(label, 26), anchor="end"))
        right = label_w + plot_w + 8
        body.append(_text(right, y + band / 2 + 4, number(value), anchor="start", fill="#111827"))
        if i > 0 and values[i - 1] > 0:
            rate = value / values[i - 1] * 100
            body.append(_text(right + 52, y + band / 2 + 4, f"{rate:.0f}%", anchor="start"))
    return _frame(height, body, title)
