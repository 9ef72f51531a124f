"""Scope strings: "<resource>:read" or "<resource>:write", resource in plural kebab-case or "*"."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError

# Resources a "*" scope does not reach: a key limited by scopes must name them itself
# ("data-exports:read" downloads every record of the organisation at once).
EXPLICIT_ONLY = frozenset({"data-exports"})

_SCOPE = re.compile(r"^(\*|[a-z][a-z0-9]*(?:-[a-z0-9]+)*):(read|write)$")


def parse_scopes(raw: Iterable[str] | str) -> list[str]:
    """Normalise and validate; raises ValidationError naming the first bad scope."""
    items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    scopes: list[str] = []
    for item in items:
        scope = str(item).strip().lower()
        if not _SCOPE.match(scope):
            raise ValidationError(
                f'"{item}" is not a scope; use <resource>:read or <resource>:write, '
                "e.g. contacts:read or *:write.",
                code="scope_invalid",
            )
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def scope_allows(scopes: list[str], *, resource: str, write: bool) -> bool:
    """Whether a key holding `scopes` may read (or write) `resource`. No scopes: no limit."""
    if not scopes:
        return True
    wanted = ("write",) if write else ("read", "write")
    names = (resource,) if resource in EXPLICIT_ONLY else (resource, "*")
    return any(f"{name}:{level}" in scopes for name in names for level in wanted)
