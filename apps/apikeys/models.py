"""API keys of one organisation (in its schema, so a key can never open another's data)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.accounts.roles import Role


class ApiKey(models.Model):
    name = models.CharField(max_length=100)
    # The visible part of the key ("kst_<prefix>_..."), shown in lists and used for lookup.
    prefix = models.CharField(max_length=16, unique=True)
    # SHA-256 of the secret part. The secret has 256 bits of entropy, so a fast hash is
    # enough, and checking a key costs microseconds rather than a password hash's 100 ms.
    secret_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ADMIN)
    # "<resource>:read" or "<resource>:write" ("*" for every resource); empty means the
    # role's full reach. Write implies read.
    scopes = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="api_keys",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (kst_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"
