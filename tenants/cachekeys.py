"""Finding and removing a deleted organisation's keys in Redis.

The tenant-aware cache (`default`) writes every key as `<schema>:<key prefix>:<version>:<key>`
(django_tenants.cache.make_key), so an organisation's own keys (reports and their generation,
API rate-limit counters, import progress, ...) all start with `<schema>:`. A few platform keys
(cache `platform`, written as `platform:<version>:<key>`) name an organisation's schema inside
the key: the scheduler's dispatch markers (tenants.tasks.dispatch_marker) and the count of a
job's starts (tenants.jobs._starts_key).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger("kestrel.tenants")

# Keys of the platform cache that name an organisation's schema, `{schema}` standing for it.
PLATFORM_KEYS = ("dispatch:{schema}:*", "job-starts:{schema}:*")
_BATCH = 500


def _glob(text: str) -> str:
    """`text` as a literal inside a Redis MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\^" else c for c in text)


def _client(alias: str) -> Any | None:
    try:
        cache = caches[alias]
    except Exception:  # no such cache configured (no Redis): nothing to remove
        return None
    if not isinstance(cache, RedisCache):
        return None
    return cache._cache.get_client(write=True)


def patterns(schema: str) -> list[tuple[str, str]]:
    """(cache alias, SCAN pattern) of every key that belongs to `schema`."""
    found: list[tuple[str, str]] = []
    try:
        default = caches["default"]
        found.append(("default", f"{_glob(schema)}:{_glob(default.key_prefix)}:*"))
    except Exception:  # no default cache configured
        logger.debug("no default cache")
    try:
        platform = caches["platform"]
    except Exception:
        return found
    for template in PLATFORM_KEYS:
        # The platform cache's own key function adds its prefix and version.
        key = platform.make_key(template.format(schema=_glob(schema)))
        found.append(("platform", key))
    return found


def purge(schema: str) -> int:
    """UNLINK every key of `schema` (SCAN, never KEYS: Redis keeps serving meanwhile).
    Returns how many were removed."""
    removed = 0
    for alias, pattern in patterns(schema):
        client = _client(alias)
        if client is None:
            continue
        batch: list[Any] = []
        for key in client.scan_iter(match=pattern, count=_BATCH):
            batch.append(key)
            if len(batch) >= _BATCH:
                removed += int(client.unlink(*batch))
                batch.clear()
        if batch:
            removed += int(client.unlink(*batch))
    return removed
