"""Demo imports for `make dev`: a contacts file from "an old CRM", imported through the real
importer, so /imports/ shows a finished import with its duplicate, its three rejected rows and
their error file; the same file is left mapped and previewed a second time, one click from
"Import" (it would change nothing: update mode finds every row unchanged). Safe to run again."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import User

from . import services
from .models import ImportJob

DEMO_OWNER = "owner@demo.kestrel.test"
SAMPLE = Path(settings.BASE_DIR) / "docs" / "samples" / "contacts-from-old-crm.csv"


def seed_imports() -> None:
    owner = User.objects.filter(email=DEMO_OWNER, is_active=True).first()
    if owner is None or ImportJob.objects.exists() or not SAMPLE.exists():
        return
    for mode, commit in (("upsert", True), ("update", False)):
        upload = SimpleUploadedFile(SAMPLE.name, SAMPLE.read_bytes(), content_type="text/csv")
        job = services.import_create(actor=owner, entity="contact", upload=upload, mode=mode)
        job = services.import_configure(actor=owner, job=job, match_on="email")
        services.run(_queued(job, "preview_queued"), dry_run=True)
        if commit:
            services.run(_queued(job, "queued"), dry_run=False)


def _queued(job: ImportJob, status: str) -> ImportJob:
    # The demo runs the importer in this process (no worker needed while seeding), so it
    # moves the job to the queued state the services would have set before queuing it.
    ImportJob.objects.filter(pk=job.pk).update(status=status)
    job.refresh_from_db()
    return job
