from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def join_list(value: Any) -> Any:
    """Multi-select values read as a comma list; booleans as Yes/No."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    return value
