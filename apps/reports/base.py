"""What every report is made of, whichever way it is shown: the web page, the API's JSON, the
CSV and the PDF all read one `Report`, so they can never disagree.

- `figures`: the headline numbers (with the previous period's value when compared), each
  linking to the list of records behind it;
- `chart`: labels and series, drawn by Chart.js on the web and as SVG in the PDF;
- `table`: the rows under the chart (also the CSV), each cell optionally linking to records;
- `notes`: what a reader must know (deals in a currency without a rate, for example).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Kind = Literal["money", "count", "percent", "days", "text"]


@dataclass
class Figure:
    key: str
    label: str
    value: Decimal | int | float | None
    kind: Kind = "count"
    previous: Decimal | int | float | None = None
    link: str = ""
    help: str = ""

    @property
    def change(self) -> float | None:
        """Change against the previous period, in percent (None: nothing to compare)."""
        if self.previous in (None, 0) or self.value is None:
            return None
        return round(
            (float(self.value) - float(self.previous)) / abs(float(self.previous)) * 100, 1
        )


@dataclass
class Column:
    key: str
    label: str
    kind: Kind = "count"


@dataclass
class Table:
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    # Per row, per column key: the URL of the records behind the cell.
    links: list[dict[str, str]] = field(default_factory=list)
    totals: dict[str, Any] | None = None


@dataclass
class Series:
    name: str
    values: list[float]
    # "bar" (default) or "line"; a line series is drawn over the bars.
    kind: str = "bar"


@dataclass
class Chart:
    kind: Literal["bar", "stacked", "line", "funnel"]
    labels: list[str]
    series: list[Series]
    money: bool = False


@dataclass
class Report:
    name: str
    title: str
    description: str
    currency: str
    filters: dict[str, Any]
    period: Any = None  # periods.Period
    previous: Any = None  # periods.Period
    figures: list[Figure] = field(default_factory=list)
    chart: Chart | None = None
    table: Table | None = None
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def number(value: Any) -> Any:
            return str(value) if isinstance(value, Decimal) else value

        def period(p: Any) -> dict[str, Any] | None:
            if p is None:
                return None
            return {
                "key": p.key,
                "label": p.label,
                "from": p.first.isoformat(),
                "to": p.last.isoformat(),
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
            }

        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "currency": self.currency,
            "filters": self.filters,
            "period": period(self.period),
            "previous_period": period(self.previous),
            "figures": [
                {
                    "key": f.key,
                    "label": f.label,
                    "kind": f.kind,
                    "value": number(f.value),
                    "previous": number(f.previous),
                    "change_percent": f.change,
                    "link": f.link,
                    "help": f.help,
                }
                for f in self.figures
            ],
            "chart": None
            if self.chart is None
            else {
                "kind": self.chart.kind,
                "money": self.chart.money,
                "labels": self.chart.labels,
                "series": [
                    {"name": s.name, "kind": s.kind, "values": s.values} for s in self.chart.series
                ],
            },
            "table": None
            if self.table is None
            else {
                "columns": [
                    {"key": c.key, "label": c.label, "kind": c.kind} for c in self.table.columns
                ],
                "rows": [{k: number(v) for k, v in row.items()} for row in self.table.rows],
                "links": self.table.links,
                "totals": None
                if self.table.totals is None
                else {k: number(v) for k, v in self.table.totals.items()},
            },
            "notes": self.notes,
        }
