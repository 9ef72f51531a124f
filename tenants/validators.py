"""Rules for organisation slugs, which become subdomains and schema names."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

SLUG_MIN_LENGTH = 3
SLUG_MAX_LENGTH = 40
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")

# Subdomains that belong to the product itself, or that would mislead users or mail servers.
RESERVED_SLUGS = frozenset(
    {
        "www",
        "api",
        "admin",
        "app",
        "mail",
        "static",
        "console",
        "public",
        "media",
        "assets",
        "cdn",
        "docs",
        "help",
        "support",
        "status",
        "blog",
        "smtp",
        "imap",
        "pop",
        "ftp",
        "ns1",
        "ns2",
        "auth",
        "login",
        "signup",
        "billing",
        "dashboard",
        "internal",
        "system",
        "root",
        "template",
        "demo-template",
        "kestrel",
    }
)


def validate_slug(value: str) -> None:
    """Raise ValidationError naming exactly what is wrong with a proposed slug."""
    if value != value.lower():
        raise ValidationError("Use lowercase letters only.", code="slug_not_lowercase")
    if not (SLUG_MIN_LENGTH <= len(value) <= SLUG_MAX_LENGTH):
        raise ValidationError(
            f"Must be between {SLUG_MIN_LENGTH} and {SLUG_MAX_LENGTH} characters long "
            f"(this one has {len(value)}).",
            code="slug_length",
        )
    if not _SLUG_RE.match(value):
        raise ValidationError(
            "Use only lowercase letters, digits and hyphens, starting and ending with a "
            "letter or digit.",
            code="slug_characters",
        )
    if "--" in value:
        raise ValidationError("Hyphens may not be doubled.", code="slug_characters")
    if value in RESERVED_SLUGS:
        raise ValidationError(
            f'"{value}" is reserved; please choose another name.', code="slug_reserved"
        )


def schema_name_for_slug(slug: str) -> str:
    """Schema names cannot hold hyphens; the prefix keeps them clear of system schemas."""
    return "t_" + slug.replace("-", "_")
