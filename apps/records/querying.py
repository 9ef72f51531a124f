"""List filters and ordering from query parameters, shared by the web lists, saved views and
the API so that they can never disagree.

    <field>=v  <field>__contains=v  <field>__gt|gte|lt|lte=v  <field>__isnull=true
    cf_<key>=v (and the same suffixes)  tag=<name>[,<name>]  owner=<id>|me
    search=<text> (typo tolerant)  ordering=<field>|-<field>|cf_<key>|-cf_<key>
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from . import customfields, search
from .registry import EntitySpec

# Parameters that are not filters: pagination, display and request options.
RESERVED = frozenset(
    {
        "page",
        "page_size",
        "cursor",
        "cols",
        "view",
        "format",
        "allow_duplicate",
        "q",
        "kind",
        "saved",
    }
)
OPS = ("contains", "gt", "gte", "lt", "lte", "isnull")


def _split(param: str) -> tuple[str, str]:
    name, _, op = param.partition("__")
    return name, op


def _builtin_q(spec: Any, raw: str, op: str, user: Any) -> Q:
    path = spec.path
    if spec.kind == "user" and raw == "me":
        raw = str(getattr(user, "pk", ""))
    if op == "isnull":
        wanted = raw.strip().lower() in ("1", "true", "yes")
        if spec.kind in ("text", "choice"):
            empty = Q(**{f"{path}__isnull": True}) | Q(**{path: ""})
            return empty if wanted else ~empty
        return Q(**{f"{path}__isnull": wanted})
    if op == "contains":
        return Q(**{f"{path}__icontains": raw})
    if spec.kind in ("number", "user"):
        try:
            value: Any = int(raw)
        except ValueError:
            raise ValidationError({spec.name: f"{spec.label} must be a whole number."}) from None
    elif spec.kind == "boolean":
        value = raw.strip().lower() in ("1", "true", "yes")
    elif spec.kind == "text" and not op:
        return Q(**{f"{path}__iexact": raw})
    else:
        value = raw
    return Q(**{f"{path}__{op}" if op else path: value})


def apply(
    queryset: QuerySet[Any], entity: EntitySpec, params: Mapping[str, Any], *, user: Any = None
) -> QuerySet[Any]:
    """`queryset` filtered and ordered by `params`; ValidationError names an unknown filter
    or a value of the wrong type."""
    fields = {f.key: f for f in customfields.definitions(entity.key, include_archived=True)}
    conditions = Q()
    searching = False
    for param in params:
        values = params.getlist(param) if hasattr(params, "getlist") else [params[param]]
        values = [v for v in values if str(v).strip() != ""]
        if param in RESERVED or param == "ordering" or not values:
            continue
        if param == "search":
            queryset = search.matching(queryset, values[-1], ordered=not params.get("ordering"))
            searching = True
            continue
        if param == "tag":
            for value in values:
                names = [n.strip() for n in str(value).split(",") if n.strip()]
                conditions &= (
                    Q(tags__name__in=names) if len(names) > 1 else Q(tags__name__iexact=names[0])
                )
            continue
        name, op = _split(param)
        if op and op not in OPS:
            raise ValidationError({param: f"Unknown filter {param!r}: use one of {OPS}."})
        for value in values:
            if name.startswith("cf_"):
                definition = fields.get(name[3:])
                if definition is None:
                    raise ValidationError({param: f"There is no custom field {name[3:]!r}."})
                try:
                    conditions &= customfields.filter_q(definition, str(value), op)
                except ValidationError as exc:
                    raise ValidationError({param: exc.messages}) from None
                continue
            spec = entity.field(name)
            if spec is None:
                raise ValidationError({param: f"Unknown filter {param!r}."})
            conditions &= _builtin_q(spec, str(value), op, user)
    queryset = queryset.filter(conditions)
    if "tag" in params:
        queryset = queryset.distinct()
    return order(queryset, entity, params.get("ordering") or "", fields, searching=searching)


def order(
    queryset: QuerySet[Any],
    entity: EntitySpec,
    ordering: str,
    fields: dict[str, Any],
    *,
    searching: bool = False,
) -> QuerySet[Any]:
    if not ordering:
        return queryset
    descending = ordering.startswith("-")
    name = ordering.lstrip("-")
    if name.startswith("cf_") and name[3:] in fields:
        expression: Any = customfields.sort_expression(fields[name[3:]])
    elif (spec := entity.field(name)) is not None and spec.sortable:
        expression = F(spec.path)
        if searching:
            # As in search.newest_first: sort the matches rather than walk an index.
            expression = Coalesce(expression, expression)
    else:
        raise ValidationError({"ordering": f"Cannot sort by {name!r}."})
    # One named sort value, so cursor pagination can page through any column.
    queryset = queryset.annotate(sort_value=expression)
    return queryset.order_by(
        "-sort_value" if descending else "sort_value", "-id" if descending else "id"
    )
