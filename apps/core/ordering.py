"""Positions in the lists people order by hand (pipelines, lost reasons, lead sources, custom
fields): a PositiveIntegerField `order`, ties broken by id."""

from __future__ import annotations

from typing import Any

from django.db.models import Max

# The largest value a PositiveIntegerField holds in PostgreSQL.
ORDER_MAX = 2_147_483_647


def next_order(queryset: Any) -> int:
    """One past the largest `order` in `queryset` (1 when empty), never past ORDER_MAX: a
    client may give a record the largest order itself, and the next one then shares it
    instead of failing to save."""
    largest = queryset.aggregate(largest=Max("order"))["largest"] or 0
    return int(min(largest + 1, ORDER_MAX))
