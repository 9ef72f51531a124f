"""Every queued import is watched from PostgreSQL until it ends: a run whose message was
lost (a Redis flush, a worker killed before Redis hands the message back) is sent again by
the watch, without anyone opening its page; a finished import's watch goes away."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.imports import services
from apps.imports.models import ImportJob, Status
from apps.imports.tasks import WATCH_KIND, watch_imports
from tenants.db import connection
from tenants.models import ScheduledJob

CSV = b"First name,Email\nAda,ada@watch.example\nAlan,alan@watch.example\n"


def _watch(job: ImportJob) -> ScheduledJob:
    return ScheduledJob.objects.get(
        schema_name=connection.schema_name, kind=WATCH_KIND, object_id=job.pk
    )


def test_a_lost_run_is_sent_again_by_its_watch(
    owner_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    job = services.import_create(
        actor=owner_a, entity="contact", upload=SimpleUploadedFile("w.csv", CSV)
    )
    # Queued, but the message never reaches a worker (captured and dropped here).
    with django_capture_on_commit_callbacks(execute=False):
        job = services.import_start(actor=owner_a, job=job)
    watch = _watch(job)
    assert watch.due_at > timezone.now() + dt.timedelta(seconds=services.STALE_SECONDS)
    assert not Contact.objects.filter(email__endswith="@watch.example").exists()

    # Before it is due, nothing happens; once the run has been silent too long, the watch
    # (the dispatcher's task for this organisation) sends it again and the import finishes.
    assert watch_imports() == 0
    long_ago = timezone.now() - dt.timedelta(seconds=services.STALE_SECONDS + 1)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    ScheduledJob.objects.filter(pk=watch.pk).update(due_at=timezone.now())
    assert watch_imports() == 1
    job.refresh_from_db()
    assert job.status == Status.DONE and job.created == 2
    assert Contact.objects.filter(email__endswith="@watch.example").count() == 2
    assert not ScheduledJob.objects.filter(pk=watch.pk).exists()  # the watch ended with it


def test_a_live_run_keeps_its_watch_for_later(
    owner_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    job = services.import_create(
        actor=owner_a, entity="contact", upload=SimpleUploadedFile("w.csv", CSV)
    )
    with django_capture_on_commit_callbacks(execute=False):
        job = services.import_start(actor=owner_a, job=job)
    # A worker is on it (it reported a moment ago): the watch looks again later.
    ImportJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, heartbeat_at=timezone.now())
    ScheduledJob.objects.filter(pk=_watch(job).pk).update(due_at=timezone.now())
    assert watch_imports() == 1
    later = _watch(job)
    assert later.due_at > timezone.now() + dt.timedelta(seconds=services.STALE_SECONDS - 5)
    assert later.attempts == 0
    assert ImportJob.objects.get(pk=job.pk).status == Status.RUNNING
