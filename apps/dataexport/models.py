"""An organisation's data export: a zip of all its data that an Owner or Admin asked for,
built on the organisation's reports queue, kept for a week, then deleted."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Building"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


ACTIVE = (Status.QUEUED, Status.RUNNING)


class DataExport(models.Model):
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="data_exports",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Rows written of all the CSVs (live figures are in the cache while it runs).
    rows_total = models.PositiveBigIntegerField(default=0)
    rows_done = models.PositiveBigIntegerField(default=0)
    # The zip, in the organisation's own media folder (MEDIA_ROOT/<schema>/dataexports/).
    file = models.FileField(upload_to="dataexports/", max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    # File name in the zip -> rows (and "files/" -> uploaded files).
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    last_downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Data export #{self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def downloadable(self) -> bool:
        return self.status == Status.DONE and bool(self.file) and not self.is_expired
