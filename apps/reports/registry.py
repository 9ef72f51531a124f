"""The reports there are, by name: `build(name, user, params)` is the one way to get one,
for the web pages, the API, the exports and the subscriptions alike (through the cache)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.http import Http404

from .base import Report


@dataclass(frozen=True)
class ReportDef:
    name: str
    title: str
    description: str
    build: Callable[..., Report]
    # Extra choices the report understands (e.g. group=reason|owner|source|month).
    groups: tuple[tuple[str, str], ...] = ()
    default_period: str = "this_month"


REPORTS: dict[str, ReportDef] = {}


def register(definition: ReportDef) -> None:
    REPORTS[definition.name] = definition


# Earlier names still understood (links and subscriptions made with them keep working).
ALIASES = {"pipeline": "pipeline-by-stage"}


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def get(name: str) -> ReportDef:
    _load()
    try:
        return REPORTS[canonical(name)]
    except KeyError:
        raise Http404(f"There is no report {name!r}.") from None


ORDER = (
    "dashboard",
    "pipeline-by-stage",
    "won-lost",
    "lead-sources",
    "activities",
    "funnel",
    "forecast",
)


def all_reports() -> list[ReportDef]:
    _load()
    return sorted(REPORTS.values(), key=lambda d: ORDER.index(d.name) if d.name in ORDER else 99)


def _load() -> None:
    if not REPORTS:
        from .queries import activity, dashboard, forecast, funnel, pipeline, sources, won_lost  # noqa: F401


def normalise(params: Mapping[str, Any]) -> dict[str, Any]:
    """The filters as the queries read them: `from` and `to` (the API's names for a custom
    range, also `start` and `end`) imply `period=custom`."""
    found = {str(k): v for k, v in params.items() if v not in (None, "")}
    for name, alias in (("start", "from"), ("end", "to")):
        if alias in found:
            found[name] = found.pop(alias)
    if ("start" in found or "end" in found) and "period" not in found:
        found["period"] = "custom"
    return found


def build(
    name: str,
    user: Any,
    params: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
    cached: bool = True,
) -> Report:
    """The report `name` as `user` may see it, for the filters in `params` (query
    parameters: period, start, end, owner, team, pipeline, group). Raises Http404 for an
    unknown report and ValidationError naming a bad filter."""
    from . import cache

    definition = get(name)
    params = normalise(params or {})
    if cached and now is None:
        return cache.cached(definition, user, params, run)
    return run(definition, user, params, now=now)


def run(definition: ReportDef, user: Any, params: dict[str, Any], *, now: Any = None) -> Report:
    """Build a report in one read transaction without PostgreSQL's JIT, which costs 30-120
    ms per big aggregate and saves nothing on queries this short."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        return definition.build(user, params, now=now)
