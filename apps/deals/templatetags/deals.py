"""Template helpers of the deals pages: rotting cards, and a record's deals for the
"Deals" card on contact and company pages."""

from __future__ import annotations

from typing import Any

from django import template

from .. import selectors

register = template.Library()


@register.filter
def with_selected(options: str, value: Any) -> str:
    """Options rendered once per page (`move_menu`), with the one for `value` selected."""
    from django.utils.safestring import mark_safe

    marker = f'value="{value}">'
    return mark_safe(options.replace(marker, f'value="{value}" selected>', 1))  # noqa: S308


@register.filter
def rotting(deal: Any) -> bool:
    return selectors.is_rotting(deal)


@register.simple_tag(takes_context=True)
def record_deals(context: Any, record: Any) -> list[Any]:
    """The deals linked to `record` that the signed-in user may see (at most 20)."""
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or record is None:
        return []
    return list(selectors.record_deals(user=user, record=record)[:20])


@register.filter
def in_stage(seconds: int | None) -> str:
    """Seconds spent in a stage, for people: "3 days", "5 hours"; "—" when unknown."""
    from ..timeline import duration

    return duration(seconds) or "—"


@register.filter
def new_deal_query(record: Any) -> str:
    """The query string of a "New deal" link that starts linked to `record`."""
    name = "contacts" if record._meta.model_name == "contact" else "companies"
    return f"{name}={record.pk}"


@register.filter
def can_add_deal(user: Any) -> bool:
    from apps.core import visibility

    from ..models import Deal

    return visibility.can_create(user, Deal)
