"""Records shared by every API resource."""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """The first response to a POST made with an Idempotency-Key (in the organisation's
    schema). `status_code` is empty while that first request is still running."""

    key = models.CharField(max_length=255)
    caller_hash = models.CharField(max_length=64)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, default="application/json")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "caller_hash"], name="idempotency_key_per_caller"
            )
        ]

    def __str__(self) -> str:
        return self.key


class FailedTask(models.Model):
    """Background work that failed for good (its retries spent). Lives in the schema the work
    ran in: an organisation's Admins see their own on Settings → Background jobs, operators
    see the platform's (public schema) ones."""

    task_name = models.CharField(max_length=200)
    # For scheduled work: what kind of job and for which object (e.g. "email", notification id).
    job_kind = models.CharField(max_length=32, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.CharField(max_length=300)
    traceback = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Who marked it resolved, as the audit log names them (an email or an API key).
    resolved_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.task_name}: {self.error}"
