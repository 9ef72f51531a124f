"""Built reports are cached per organisation (the tenant cache prefixes every key with the
schema), keyed by the report, its filters, the day, and the viewer's visibility scope.

Nothing is ever deleted: every key carries the organisation's report *generation*, a counter
in the same cache that moves after the commit of any write to what reports read (deals, stage
moves, leads, activities, stages, pipelines, sources, teams, members, rates: signals.py; and
the bulk paths that write without the ORM's signals, such as imports, call
`reports_changed()`). A change therefore shows on the next load; entries of older
generations expire on their own (TTL). A report built while a write was still uncommitted
is stored under the old generation, which the commit then leaves behind."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.core import visibility

from .base import Report

TTL = 300
GENERATION = "reports:generation"

logger = logging.getLogger("kestrel.reports")


def generation() -> int:
    found = cache.get(GENERATION)
    if found is None:
        # A fresh start (or an evicted counter) must not meet entries of an earlier count.
        cache.add(GENERATION, time.time_ns(), None)
        found = cache.get(GENERATION)
    return int(found)


def bump() -> None:
    """Move the generation on. A cache that cannot be reached does not stop the write that
    changed the figures (a deal, a lead saved while Redis restarts): it holds no report to
    serve now, and one it still holds when it is back expires within TTL."""
    try:
        try:
            cache.incr(GENERATION)
        except ValueError:  # no counter yet: the next read starts a fresh one
            generation()
    except Exception:
        logger.warning("report cache unreachable; cached reports not invalidated", exc_info=True)


def reports_changed() -> None:
    """Every cached report of this organisation is stale: at once (for reads later in this
    transaction), and again once the current transaction commits (a report built meanwhile
    by another request still read the old rows)."""
    bump()
    transaction.on_commit(bump)


def scope(user: Any) -> str:
    """Who sees the same figures: every member of a see-all role alike; anyone else sees
    their own records, shares and teams."""
    role = getattr(user, "role", None)
    if getattr(user, "is_superuser", False):
        return "all"
    if role in visibility.SEE_ALL:
        return f"role:{role}"
    return f"user:{user.pk}"


def key(name: str, user: Any, params: dict[str, Any]) -> str:
    tz = getattr(user, "time_zone", "UTC")
    today = timezone.now().astimezone(ZoneInfo(tz or "UTC"))
    raw = json.dumps(
        {
            "p": sorted((str(k), str(v)) for k, v in params.items()),
            "d": str(today.date()),
            "tz": tz,
        },
        sort_keys=True,
    )
    digest = hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:20]
    return f"reports:{generation()}:{name}:{scope(user)}:{digest}"


def cached(definition: Any, user: Any, params: dict[str, Any], build: Any) -> Report:
    cache_key = key(definition.name, user, params)
    report = cache.get(cache_key)
    if report is None:
        report = build(definition, user, params)
        cache.set(cache_key, report, TTL)
    return report
