"""The tenant registry, in the public schema: organisations, their hosts, spare schemas, audit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from .validators import SLUG_MAX_LENGTH, validate_slug


class Plan(models.TextChoices):
    FREE = "free", "Free"
    TEAM = "team", "Team"
    BUSINESS = "business", "Business"


class TenantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Tenant(TenantMixin):
    slug = models.CharField(max_length=SLUG_MAX_LENGTH, unique=True, validators=[validate_slug])
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=TenantStatus.choices, default=TenantStatus.ACTIVE
    )
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Schemas are created by the provisioning service (pool or clone), never implicitly on save.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.status == TenantStatus.SUSPENDED

    @property
    def is_public(self) -> bool:
        return self.schema_name == settings.PUBLIC_SCHEMA_NAME


class Domain(DomainMixin):
    pass


class SpareSchema(models.Model):
    """A migrated, empty schema waiting in the warm pool to become an organisation's."""

    schema_name = models.CharField(max_length=63, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.schema_name


class AuditEvent(models.Model):
    """One operator or provisioning action on an organisation; never edited or deleted."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=254, help_text="Operator email, or 'system'/'signup'.")
    action = models.CharField(max_length=64)
    tenant_slug = models.CharField(max_length=SLUG_MAX_LENGTH, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.tenant_slug}"


class ScheduledJob(models.Model):
    """Work that falls due at a moment, for one organisation: a reminder to send, an email to
    deliver. Kept in PostgreSQL (public schema, so one indexed query finds what is due across
    every organisation) and written in the same transaction as the record it serves, so the
    schedule survives a Redis flush and is never out of step with the data. It holds ids and
    times only; what the work is about stays in the organisation's own schema."""

    schema_name = models.CharField(max_length=63)
    kind = models.CharField(max_length=32)
    object_id = models.BigIntegerField()
    due_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["schema_name", "kind", "object_id"], name="scheduledjob_one_per_object"
            )
        ]
        indexes = [models.Index(fields=["due_at"], name="scheduledjob_due")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} in {self.schema_name} at {self.due_at:%Y-%m-%d %H:%M}"
