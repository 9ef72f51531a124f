"""Imports: an uploaded file, how its columns map to a record type's fields, and what
happened to every row. The data written by an import lives in the records' own tables."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.records.models import Entity


class Mode(models.TextChoices):
    CREATE = "create", "Create new records only"
    UPDATE = "update", "Update matched records only"
    UPSERT = "upsert", "Create new and update matched records"


class MatchOn(models.TextChoices):
    EMAIL = "email", "Email"
    DOMAIN = "domain", "Domain"
    EXTERNAL_ID = "external_id", "External id"
    ID = "id", "Kestrel id"
    NONE = "none", "Nothing (every row is new)"


class Status(models.TextChoices):
    MAPPING = "mapping", "Waiting for column mapping"
    PREVIEW_QUEUED = "preview_queued", "Preview queued"
    PREVIEWING = "previewing", "Checking the file"
    PREVIEWED = "previewed", "Ready to import"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled, nothing was changed"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed, nothing was changed"


ACTIVE = (
    Status.PREVIEW_QUEUED,
    Status.PREVIEWING,
    Status.QUEUED,
    Status.RUNNING,
    Status.CANCELLING,
)
FINISHED = (Status.CANCELLED, Status.DONE, Status.FAILED)


class ImportJob(models.Model):
    entity = models.CharField(max_length=20, choices=Entity.choices)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.UPSERT)
    match_on = models.CharField(max_length=20, choices=MatchOn.choices, default=MatchOn.NONE)
    # Dates and numbers are read in this locale ("en" reads 03/04/2026 as March 4th and
    # 1,234.5 as a number; "en-GB", "de", "fr"... read the day first and "1.234,5").
    locale = models.CharField(max_length=16, default="en")
    file = models.FileField(upload_to="imports/", max_length=300)
    file_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    file_format = models.CharField(max_length=10, default="csv")
    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)
    headers = models.JSONField(default=list, blank=True)
    # header -> field name ("" ignores the column); headers are unique within a file.
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.MAPPING)
    previewed = models.BooleanField(default=False)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    error_file = models.FileField(upload_to="imports/", max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="imports"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import of {self.file_name} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class ImportProblem(models.Model):
    """One rejected cell or row, as the preview and the result page list them. The error file
    holds every rejected row; only the first few thousand problems are kept here."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problems")
    row = models.PositiveIntegerField()
    column = models.CharField(max_length=255, blank=True)
    code = models.CharField(max_length=40)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["row", "id"]

    def __str__(self) -> str:
        return f"Row {self.row}, {self.column or 'row'}: {self.message}"


class MappingMemory(models.Model):
    """The mapping last used for a set of headers, offered again for the next file with them."""

    entity = models.CharField(max_length=20, choices=Entity.choices)
    signature = models.CharField(max_length=64)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "signature"], name="mappingmemory_unique")
        ]

    def __str__(self) -> str:
        return f"Mapping for {self.entity} {self.signature[:8]}"
