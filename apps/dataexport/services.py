"""Data exports: an Owner or Admin asks for all the organisation's data; the zip is built on
the organisation's reports queue (tasks.build_export), the requester gets an email with a
link to the export's page (behind sign-in), and the file is kept for EXPIRY, then deleted by
the hourly housekeeping.

Only Owners and Admins (and API keys with those roles) see, ask for or download exports;
everyone else is refused (PermissionDenied). One export is built at a time per
organisation: asking while one is queued or running raises ExportInProgress. A run that
fails is tried once more a minute later; after that the export shows "Failed" with the
error, and the requester is told by email."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import ADMIN_ROLES
from apps.audit.services import audit_record
from apps.records.services import actor_label, actor_user
from tenants.db import connection

from . import archive
from .models import ACTIVE, DataExport, Status

logger = logging.getLogger(__name__)

EXPIRY = dt.timedelta(days=7)
# Tries of one export before it is shown as failed.
MAX_ATTEMPTS = 2
RETRY_DELAY_SECONDS = 60
# A run that has not reported progress for this long has lost its worker.
STALE = dt.timedelta(minutes=20)
# An export queued this long after it was asked for (or last tried) lost its task (the
# broker was down when it was sent, or lost the message): it would block every later one.
# Longer than a first try may run (tasks.HARD_LIMIT) plus a busy queue's wait.
QUEUED_STALE = dt.timedelta(hours=3)
PROGRESS_TTL = 24 * 3600
# A file of the exports' folder that no export names (the half-written `.part` of a run whose
# worker was killed: a deploy, the hard time limit, out of memory) is removed by the
# housekeeping once it is older than any run can last (tasks.HARD_LIMIT).
ORPHAN_AGE = dt.timedelta(hours=2)
MAX_ERROR = 1000
TENANT_URLCONF = "config.urls_tenant"


class ExportInProgress(Exception):
    """An export of the organisation is already queued or being built."""

    def __init__(self, export: DataExport) -> None:
        super().__init__(
            f"An export is already being built (#{export.pk}, asked for "
            f"{export.created_at:%Y-%m-%d %H:%M} UTC); ask again once it is ready."
        )
        self.export = export


# --- reading ----------------------------------------------------------------------------------


def may_export(actor: Any) -> bool:
    """Owners and Admins, and API keys with those roles."""
    if getattr(actor, "is_superuser", False) or getattr(actor, "is_admin", False):
        return True
    return getattr(actor, "role", None) in ADMIN_ROLES


def _require(actor: Any) -> None:
    if not may_export(actor):
        raise PermissionDenied("Only Owners and Admins can export the organisation's data.")


def export_list(*, user: Any) -> QuerySet[DataExport]:
    """Every export of the organisation, newest first; PermissionDenied for anyone but an
    Owner or Admin."""
    _require(user)
    return DataExport.objects.select_related("requested_by").order_by("-created_at", "-id")


def export_get(*, user: Any, pk: Any) -> DataExport:
    """One export (PermissionDenied for non-Admins, Http404 when there is no such export
    in this organisation)."""
    try:
        return export_list(user=user).get(pk=int(pk))
    except (DataExport.DoesNotExist, TypeError, ValueError, OverflowError):
        raise Http404("There is no such export.") from None


def progress_key(export_id: int) -> str:
    return f"dataexport:progress:{export_id}"


def progress(export: DataExport) -> dict[str, Any]:
    """Rows written of all rows, and the percentage, as the page and the API show them."""
    live = (cache.get(progress_key(export.pk)) or {}) if export.is_active else {}
    total = int(live.get("total") or export.rows_total or 0)
    done = int(live.get("done") or export.rows_done or 0)
    if export.status == Status.DONE:
        done = total
        percent = 100
    else:
        percent = min(99, done * 100 // total) if total else 0
    return {"done": done, "total": total, "percent": percent}


def _stale(export: DataExport, now: dt.datetime) -> bool:
    if export.status != Status.RUNNING:
        return False
    live = cache.get(progress_key(export.pk)) or {}
    beat = live.get("beat") or (export.started_at or export.created_at).timestamp()
    return now.timestamp() - float(beat) > STALE.total_seconds()


def _lost(export: DataExport, now: dt.datetime) -> bool:
    if export.status != Status.QUEUED:
        return False
    since = max(t for t in (export.created_at, export.started_at) if t is not None)
    return now - since > QUEUED_STALE


def fail_stale(*, now: dt.datetime | None = None) -> int:
    """Show as failed the runs whose worker vanished (no progress for STALE) and the
    exports whose task was lost (queued for QUEUED_STALE), so they do not block the next
    export. Returns how many."""
    moment = now or timezone.now()
    failed = 0
    for export in DataExport.objects.filter(status=Status.QUEUED):
        if _lost(export, moment):
            failed += DataExport.objects.filter(pk=export.pk, status=Status.QUEUED).update(
                status=Status.FAILED,
                finished_at=moment,
                error="The export never started (its task was lost). Ask for a new one.",
            )
    for export in DataExport.objects.filter(status=Status.RUNNING):
        if _stale(export, moment):
            failed += DataExport.objects.filter(pk=export.pk, status=Status.RUNNING).update(
                status=Status.FAILED,
                finished_at=moment,
                error="The export stopped without finishing (its worker went away). "
                "Ask for a new one.",
            )
    return failed


# --- asking -----------------------------------------------------------------------------------


@transaction.atomic
def export_request(*, actor: Any, ip_address: str | None = None) -> DataExport:
    """Queue an export of everything in the organisation, for `actor` (an Owner or Admin,
    else PermissionDenied). Raises ExportInProgress while another is queued or running.
    Audit-logged; the task is sent when the transaction commits."""
    _require(actor)
    with connection.cursor() as cursor:
        # One request at a time per organisation decides whether one is running.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"dataexport:{connection.schema_name}"]
        )
    fail_stale()
    running = DataExport.objects.filter(status__in=ACTIVE).order_by("created_at").first()
    if running is not None:
        raise ExportInProgress(running)
    export = DataExport.objects.create(requested_by=actor_user(actor))
    audit_record(
        action="data_export.requested",
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        target=export,
        ip_address=ip_address,
    )
    _send(export.pk)
    return export


def _send(export_id: int, *, countdown: int | None = None) -> None:
    from .tasks import build_export

    def send() -> None:
        if countdown:
            build_export.apply_async((export_id,), countdown=countdown)
        else:
            build_export.delay(export_id)

    transaction.on_commit(send)


def record_download(*, export: DataExport, actor: Any, ip_address: str | None = None) -> DataExport:
    """Count a download of the file and write it to the audit log."""
    _require(actor)
    with transaction.atomic():
        DataExport.objects.filter(pk=export.pk).update(
            download_count=F("download_count") + 1, last_downloaded_at=timezone.now()
        )
        audit_record(
            action="data_export.downloaded",
            actor=actor_user(actor),
            actor_label=actor_label(actor),
            target=export,
            detail={"size": export.size},
            ip_address=ip_address,
        )
    export.refresh_from_db()
    return export


# --- building ---------------------------------------------------------------------------------


def file_name(export: DataExport) -> str:
    """The name the download is saved under."""
    organisation = archive._organisation()["slug"]
    stamp = (export.finished_at or export.created_at).strftime("%Y%m%d-%H%M")
    return f"{organisation}-data-export-{stamp}.zip"


def build_archive(export: DataExport, *, notify: bool = True) -> DataExport:
    """Build the export's zip now, in this process and schema: it is marked running,
    progress goes to the cache as rows are written, and at the end the file, its size and
    counts are saved, it is kept for EXPIRY and the requester is emailed (unless not
    `notify`). Raises whatever
    stopped it (the caller decides whether to try again); the half-written file is
    removed."""
    now = timezone.now()
    DataExport.objects.filter(pk=export.pk).update(
        status=Status.RUNNING, started_at=now, attempts=F("attempts") + 1, error=""
    )
    export.refresh_from_db()
    key = progress_key(export.pk)
    state: dict[str, Any] = {"done": 0, "total": 0, "beat": now.timestamp()}
    cache.set(key, state, PROGRESS_TTL)

    def report(done: int, total: int) -> None:
        state.update(done=done, total=total, beat=timezone.now().timestamp())
        cache.set(key, state, PROGRESS_TTL)

    stamp = now.strftime("%Y%m%d-%H%M%S")
    name = default_storage.get_available_name(
        f"{archive.ARCHIVE_FOLDER}/data-{stamp}-{secrets.token_hex(8)}.zip"
    )
    path = Path(default_storage.path(name))
    partial = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        manifest = archive.write_archive(partial, progress=report)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    finished = timezone.now()
    found = archive.counts(manifest)
    total = sum(v for k, v in found.items() if k != "files/")
    DataExport.objects.filter(pk=export.pk).update(
        status=Status.DONE,
        file=name,
        size=path.stat().st_size,
        counts=found,
        rows_total=total,
        rows_done=total,
        finished_at=finished,
        expires_at=finished + EXPIRY,
        error="",
    )
    cache.delete(key)
    export.refresh_from_db()
    if not notify:
        return export
    try:
        _email(export, ready=True)
    except Exception:  # the export is ready on its page whether or not the email went
        logger.exception("could not email that data export %s is ready", export.pk)
    return export


def run(export_id: int) -> DataExport | None:
    """The task's work: build the export if it is still to be built; on failure try once
    more after RETRY_DELAY_SECONDS, then show it failed and tell the requester."""
    export = DataExport.objects.filter(pk=export_id, status__in=ACTIVE).first()
    if export is None:
        return None
    try:
        return build_archive(export)
    except Exception as exc:
        logger.exception("data export %s failed", export_id)
        return _failed(export, exc)


def _failed(export: DataExport, exc: BaseException) -> DataExport:
    export.refresh_from_db()
    reason = f"{exc.__class__.__name__}: {exc}"[:MAX_ERROR]
    cache.delete(progress_key(export.pk))
    if export.attempts < MAX_ATTEMPTS:
        DataExport.objects.filter(pk=export.pk).update(
            status=Status.QUEUED,
            error=f"The first try failed ({reason}); trying again.",
        )
        _send(export.pk, countdown=RETRY_DELAY_SECONDS)
    else:
        DataExport.objects.filter(pk=export.pk).update(
            status=Status.FAILED, error=reason, finished_at=timezone.now()
        )
        export.refresh_from_db()
        try:
            _email(export, ready=False)
        except Exception:  # the failure is on the page either way
            logger.exception("could not email the failure of data export %s", export.pk)
    export.refresh_from_db()
    return export


# --- telling the requester --------------------------------------------------------------------


def page_path() -> str:
    return reverse("dataexport:list", urlconf=TENANT_URLCONF)


def build_email(export: DataExport, *, ready: bool) -> EmailMultiAlternatives | None:
    """The email to the requester: the export is ready (with the link to its page, where
    they sign in to download it) or it failed. None when nobody asked (a removed user)."""
    from apps.core.urls_util import host_url, tenant_host
    from apps.notifications.email import current_tenant, sender

    person = export.requested_by
    if person is None or not person.is_active or not person.email:
        return None
    tenant = current_tenant()
    context: dict[str, Any] = {
        "export": export,
        "organisation": tenant.name,
        "recipient_name": person.get_short_name(),
        "link": host_url(tenant_host(tenant.slug), page_path()),
        "counts": export.counts,
    }
    kind = "ready" if ready else "failed"
    subject = (
        f"Your data export of {tenant.name} is ready"
        if ready
        else f"Your data export of {tenant.name} failed"
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"dataexport/email_{kind}.txt", context),
        from_email=sender(tenant),
        to=[person.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string(f"dataexport/email_{kind}.html", context), "text/html"
    )
    return message


def _email(export: DataExport, *, ready: bool) -> None:
    message = build_email(export, ready=ready)
    if message is None:
        return
    message.send(fail_silently=False)
    DataExport.objects.filter(pk=export.pk).update(emailed_at=timezone.now())


# --- housekeeping -----------------------------------------------------------------------------


def delete_expired(*, now: dt.datetime | None = None) -> int:
    """Delete the exports past their expiry, file and row, in the current organisation.
    Returns how many."""
    moment = now or timezone.now()
    removed = 0
    for export in DataExport.objects.filter(expires_at__lte=moment):
        if export.file:
            export.file.delete(save=False)
        export.delete()
        removed += 1
    _delete_orphans(moment)
    return removed


def _delete_orphans(moment: dt.datetime) -> int:
    folder = Path(default_storage.path(archive.ARCHIVE_FOLDER))
    if not folder.is_dir():
        return 0
    kept = set(DataExport.objects.exclude(file="").values_list("file", flat=True))
    cutoff = (moment - ORPHAN_AGE).timestamp()
    removed = 0
    for path in folder.iterdir():
        if f"{archive.ARCHIVE_FOLDER}/{path.name}" in kept or not path.is_file():
            continue
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.info("removed %s data export files no export names", removed)
    return removed
