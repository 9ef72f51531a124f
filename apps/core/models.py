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
