"""Asking for an export on the web: Owners and Admins only, one at a time, built on the
queue, the requester emailed a link to the page behind sign-in, the zip downloaded as an
attachment and audited; failures tried once more, then shown; progress while it runs."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.audit.models import AuditEntry
from apps.dataexport import archive, services
from apps.dataexport.models import DataExport, Status
from tenants.models import Tenant
from tests.dataexport.conftest import open_zip
from tests.members import member
from tests.notifications.conftest import SchemaKeepingClient, anonymous, signed_in

pytestmark = pytest.mark.django_db


def request_export(client: SchemaKeepingClient, capture: Any) -> Any:
    with capture(execute=True):
        return client.post("/settings/data-export/request/")


def test_an_admin_asks_gets_the_email_and_downloads_after_signing_in(
    in_a: Tenant, owner: User, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    admin = member("maya@alpha.test", Role.ADMIN, full_name="Maya Admin")
    client = signed_in(in_a, admin)
    page = client.get("/settings/data-export/")
    assert page.status_code == 200 and b"No exports yet" in page.content
    answer = request_export(client, django_capture_on_commit_callbacks)
    assert answer.status_code == 302
    export = DataExport.objects.get()
    assert export.status == Status.DONE and export.requested_by == admin
    # The file is in the organisation's own media folder, kept for a week.
    assert Path(export.file.path).is_relative_to(media / in_a.schema_name / "dataexports")
    assert export.size == Path(export.file.path).stat().st_size
    assert export.expires_at is not None and export.finished_at is not None
    assert (export.expires_at - export.finished_at).days == 7
    assert export.counts["users.csv"] == User.objects.count()
    assert export.emailed_at is not None
    assert AuditEntry.objects.filter(action="data_export.requested", actor=admin).exists()

    (message,) = mail.outbox
    assert message.to == [admin.email] and "ready" in message.subject
    link = re.search(r"http://\S+", str(message.body))
    assert link is not None
    url = link.group(0)
    assert url == "http://alpha.localhost:8000/settings/data-export/"
    path = url.split(":8000", 1)[1]
    # Anonymous: sign in first; the file itself is never public.
    nobody = anonymous(in_a)
    assert nobody.get(path).status_code == 302
    download = f"/settings/data-export/{export.pk}/download/"
    refused = nobody.get(download)
    assert refused.status_code == 302 and "/accounts/login/" in refused["Location"]
    # The Admin, signed in, finds the link on that page and downloads the zip.
    again = signed_in(in_a, admin)
    listed = again.get(path)
    assert listed.status_code == 200 and download.encode() in listed.content
    got = again.get(download)
    assert got.status_code == 200
    assert got["Content-Type"] == "application/zip"
    assert got["Content-Disposition"].startswith('attachment; filename="alpha-data-export-')
    body = b"".join(got.streaming_content)  # type: ignore[attr-defined]
    assert "contacts.csv" in open_zip(body).namelist()
    export.refresh_from_db()
    assert export.download_count == 1
    assert AuditEntry.objects.filter(action="data_export.downloaded", actor=admin).count() == 1


def test_non_admins_are_refused(
    in_a: Tenant, owner: User, rep: User, readonly: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_request(actor=owner)
    for person in (rep, readonly, member("boss@alpha.test", Role.MANAGER)):
        client = signed_in(in_a, person)
        assert client.get("/settings/data-export/").status_code == 403
        assert client.post("/settings/data-export/request/").status_code == 403
        assert client.get(f"/settings/data-export/{export.pk}/download/").status_code == 403
        assert client.get(f"/settings/data-export/{export.pk}/progress/").status_code == 403
        with pytest.raises(PermissionDenied):
            services.export_request(actor=person)
    assert DataExport.objects.count() == 1
    page = signed_in(in_a, rep).get("/")
    assert b"Export all data" not in page.content


def test_one_at_a_time(in_a: Tenant, owner: User, admin_client: SchemaKeepingClient) -> None:
    running = DataExport.objects.create(requested_by=owner, status=Status.RUNNING)
    cache.set(
        services.progress_key(running.pk), {"done": 40, "total": 100, "beat": time.time()}, 60
    )
    with pytest.raises(services.ExportInProgress):
        services.export_request(actor=owner)
    answer = admin_client.post("/settings/data-export/request/", follow=True)
    assert b"An export is already being built" in answer.content
    assert DataExport.objects.count() == 1
    # The page shows its progress, and asks for more every second.
    page = admin_client.get("/settings/data-export/")
    assert (
        b'max="100" value="40"' in page.content
        and b"<strong>40</strong> of 100 rows (40%)" in page.content
    )
    assert b'hx-trigger="every 1s"' in page.content
    assert b'http-equiv="refresh"' in page.content  # without JavaScript, the page reloads
    poll = admin_client.get(f"/settings/data-export/{running.pk}/progress/")
    assert poll.status_code == 200 and b'value="40"' in poll.content
    DataExport.objects.filter(pk=running.pk).update(status=Status.DONE)
    done = admin_client.get(f"/settings/data-export/{running.pk}/progress/")
    assert done.status_code == 286 and done["HX-Refresh"] == "true"


def test_a_run_whose_worker_vanished_does_not_block_the_next(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(hours=2)
    stuck = DataExport.objects.create(requested_by=owner, status=Status.RUNNING, started_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        fresh = services.export_request(actor=owner)
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == Status.FAILED and "stopped without finishing" in stuck.error
    assert fresh.status == Status.DONE


def test_a_failure_is_tried_again_once_then_shown(
    in_a: Tenant,
    owner: User,
    monkeypatch: pytest.MonkeyPatch,
    admin_client: SchemaKeepingClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    calls: list[int] = []

    def broken(path: Path, progress: Any = None) -> dict[str, Any]:
        calls.append(1)
        path.write_bytes(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(archive, "write_archive", broken)
    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_request(actor=owner)
    export.refresh_from_db()
    assert len(calls) == 2 and export.attempts == 2
    assert export.status == Status.FAILED
    assert export.error == "OSError: No space left on device"
    assert not export.file
    # No half-written file is left behind.
    folder = Path(archive.media_folder()) / archive.ARCHIVE_FOLDER
    assert not folder.exists() or not list(folder.iterdir())
    (message,) = mail.outbox
    assert "failed" in message.subject and "No space left on device" in message.body
    page = admin_client.get("/settings/data-export/")
    assert b"Failed" in page.content and b"No space left on device" in page.content


def test_a_failure_then_a_success(
    in_a: Tenant,
    owner: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    real = archive.write_archive
    calls: list[int] = []

    def flaky(path: Path, progress: Any = None) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return real(path, progress)

    monkeypatch.setattr(archive, "write_archive", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_request(actor=owner)
    export.refresh_from_db()
    assert export.status == Status.DONE and export.attempts == 2 and export.error == ""


def test_expired_exports_go_with_their_files(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.tasks import prune_expired

    with django_capture_on_commit_callbacks(execute=True):
        old = services.export_request(actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        new = services.export_request(actor=owner)
    old.refresh_from_db()
    new.refresh_from_db()
    old_file = Path(old.file.path)
    DataExport.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert old_file.exists()
    removed = prune_expired()
    assert removed["data_exports"] >= 1
    assert not DataExport.objects.filter(pk=old.pk).exists() and not old_file.exists()
    assert DataExport.objects.filter(pk=new.pk).exists() and Path(new.file.path).exists()


def test_an_expired_export_is_not_downloaded(
    in_a: Tenant,
    owner: User,
    admin_client: SchemaKeepingClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_request(actor=owner)
    DataExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = admin_client.get(f"/settings/data-export/{export.pk}/download/", follow=True)
    assert b"not available" in answer.content
    assert b"Expired" in answer.content


def test_files_no_export_names_are_removed_once_no_run_can_still_write_them(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    """A worker killed mid-build (a deploy, the hard time limit) leaves its half-written file
    behind; the housekeeping removes it once it is older than any run lasts."""
    import os
    import time

    from django.core.files.storage import default_storage

    from apps.core.tasks import prune_expired
    from apps.dataexport.tasks import HARD_LIMIT

    assert services.ORPHAN_AGE.total_seconds() > HARD_LIMIT
    with django_capture_on_commit_callbacks(execute=True):
        kept = services.export_request(actor=owner)
    kept.refresh_from_db()
    folder = Path(default_storage.path("dataexports"))
    old = time.time() - services.ORPHAN_AGE.total_seconds() - 60
    orphan = folder / "data-20260101-000000-dead.zip.part"
    orphan.write_bytes(b"half a zip")
    os.utime(orphan, (old, old))
    os.utime(kept.file.path, (old, old))  # an old file an export still names stays
    recent = folder / "data-20260101-000001-live.zip.part"  # a run may still be writing it
    recent.write_bytes(b"being written")

    prune_expired()

    assert not orphan.exists()
    assert recent.exists()
    assert Path(kept.file.path).exists()
    kept.refresh_from_db()
    assert kept.downloadable


def test_an_export_whose_task_was_lost_does_not_block_the_next_for_ever(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    """The queue lost its message (the broker was down when it was sent, or flushed): the
    export never starts. After QUEUED_STALE it is shown failed and a new one can be asked."""
    from datetime import timedelta

    from django.utils import timezone

    lost = DataExport.objects.create(requested_by=owner)  # queued, no task ever sent
    with pytest.raises(services.ExportInProgress):
        services.export_request(actor=owner)
    DataExport.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - services.QUEUED_STALE - timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        fresh = services.export_request(actor=owner)
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == Status.FAILED and "never started" in lost.error
    assert fresh.status == Status.DONE
