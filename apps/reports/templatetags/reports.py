from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.simple_tag
def report_value(value: Any, kind: str, currency: str = "") -> str:
    """A figure or cell as people read it: money with its currency, percents, days."""
    if value is None or value == "":
        return "—"
    if kind == "money":
        return f"{number_format(Decimal(value), 0, force_grouping=True)} {currency}".strip()
    if kind == "percent":
        return f"{number_format(value, 1)}%"
    if kind == "days":
        return f"{number_format(value, 1)} days"
    if kind == "count":
        return number_format(value, 0, force_grouping=True)
    return str(value)


@register.filter
def cell(row: dict[str, Any], key: str) -> Any:
    return row.get(key) if isinstance(row, dict) else None


@register.filter
def at(items: list[Any], index: int) -> Any:
    try:
        return items[index]
    except (IndexError, TypeError):
        return {}
