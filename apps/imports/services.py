"""Writes on imports: upload a file, map its columns, preview (a dry run in the background),
run, cancel. Each checks the actor may create records of the type, is audit-logged, and
queues work on the organisation's reports queue; the importer itself is `engine.Importer`.

Progress lives in the cache while a run's data transaction is open (the job row is only
written outside it, so a cancel never waits on the import's locks)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import tempfile
import zoneinfo
from pathlib import Path
from typing import Any

import psycopg
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile, File
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core import visibility
from apps.records.services import actor_label, actor_user
from tenants import jobs

from . import engine
from . import fields as f
from .models import ACTIVE, ImportJob, ImportProblem, MappingMemory, MatchOn, Mode, Status
from .reading import FileProblem, estimate_rows, open_table

logger = logging.getLogger("kestrel.imports")

# A lost database connection, as Django reports it and, on the COPY an import writes through
# the driver itself, as psycopg does.
CONNECTION_LOST = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)

# A run whose worker has not reported for this long is presumed dead and started again.
STALE_SECONDS = 120


def _check(actor: Any, entity: str) -> None:
    spec_model = f.spec_model(entity)
    # A key acts with its own role, as in every other write; the person who made it owns
    # the import and what it creates.
    if actor_user(actor) is None or not visibility.can_create(actor, spec_model):
        raise PermissionDenied("Read-only access cannot import records.")


def signature(headers: list[str]) -> str:
    joined = "\n".join(sorted(h.strip().casefold() for h in headers))
    return hashlib.sha256(joined.encode()).hexdigest()


def remembered_mapping(entity: str, headers: list[str]) -> dict[str, str] | None:
    memory = MappingMemory.objects.filter(entity=entity, signature=signature(headers)).first()
    if memory is None:
        return None
    return {h: memory.mapping.get(h, "") for h in headers}


def _local_path(job: ImportJob) -> tuple[Path, bool]:
    """A path the reader can open: the stored file itself, or a temporary copy when the
    storage is not a local disk."""
    try:
        return Path(job.file.path), False
    except NotImplementedError:  # pragma: no cover - object storage
        # The copy outlives this function (the caller deletes it), hence no `with`.
        handle = tempfile.NamedTemporaryFile(delete=False, suffix=Path(job.file_name).suffix)  # noqa: SIM115
        with job.file.open("rb") as source:
            for chunk in source.chunks():
                handle.write(chunk)
        handle.close()
        return Path(handle.name), True


def _short_name(file_name: str) -> str:
    """`file_name` cut to fit a file system's 255 bytes per name, with the date before it and
    `-errors` after it (a name of 300 characters, or of 200 accented ones, was a 500)."""
    path = Path(file_name)
    suffix = path.suffix if len(path.suffix.encode()) <= 16 else ""
    stem = path.name.removesuffix(suffix).encode()[:150].decode(errors="ignore")
    return f"{stem or 'import'}{suffix}"


@transaction.atomic
def import_create(
    *,
    actor: Any,
    entity: str,
    upload: Any,
    mode: str = Mode.UPSERT,
    match_on: str | None = None,
    locale: str | None = None,
    mapping: dict[str, str] | None = None,
) -> ImportJob:
    """Store the file, read its header and suggest a mapping (the one remembered for these
    headers, else by matching names). FileProblem (as ValidationError) if it cannot be read."""
    _check(actor, entity)
    if mode not in Mode.values:
        raise ValidationError(
            {"mode": f"Unknown mode {mode!r}; use one of {', '.join(Mode.values)}."}
        )
    user = actor_user(actor)
    size = getattr(upload, "size", 0) or 0
    job = ImportJob(
        entity=entity,
        mode=mode,
        locale=locale or getattr(user, "locale", "en") or "en",
        file_name=Path(str(upload.name)).name[:255] or "import.csv",
        file_size=size,
        created_by=user,
    )
    job.file.save(
        f"{timezone.now():%Y%m%d%H%M%S}-{_short_name(job.file_name)}", File(upload), save=False
    )
    path, temporary = _local_path(job)
    try:
        table = open_table(path, name=job.file_name)
    except FileProblem as exc:
        job.file.delete(save=False)
        # The code goes on the field's error: a dict ValidationError drops its own code.
        raise ValidationError({"file": ValidationError(exc.message, code=exc.code)}) from None
    finally:
        if temporary:  # pragma: no cover - object storage
            path.unlink(missing_ok=True)
    spec = f.spec_for(entity, locale=job.locale)
    job.file_format, job.encoding, job.delimiter = table.format, table.encoding, table.delimiter
    job.headers = table.headers
    job.rows_total = estimate_rows(table)
    job.mapping = remembered_mapping(entity, table.headers) or f.suggest_mapping(
        spec, table.headers
    )
    if mapping is not None:
        job.mapping = {h: mapping.get(h, "") for h in table.headers}
    job.match_on = match_on or _default_match(spec, job.mapping)
    job.save()
    audit_record(
        action="import.uploaded",
        actor=user,
        actor_label=actor_label(actor),
        target=job,
        detail={"entity": entity, "file": job.file_name, "size": size},
    )
    return job


def _default_match(spec: f.Spec, mapping: dict[str, str]) -> str:
    mapped = set(mapping.values())
    for match_on in ("id", "external_id", "email", "domain"):
        if match_on in spec.match and spec.match[match_on] in mapped:
            return match_on
    return MatchOn.NONE


@transaction.atomic
def import_configure(
    *,
    actor: Any,
    job: ImportJob,
    mapping: dict[str, str] | None = None,
    mode: str | None = None,
    match_on: str | None = None,
    locale: str | None = None,
) -> ImportJob:
    """Change the mapping or options of an import that has not started; checks them
    against the file (ValidationError naming the problem) and remembers the mapping."""
    _check(actor, job.entity)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (Status.MAPPING, Status.PREVIEWED, Status.FAILED):
        raise ValidationError(
            "This import has already started; upload the file again to change it."
        )
    if mapping is not None:
        unknown = [h for h in mapping if h not in job.headers]
        if unknown:
            raise ValidationError({"mapping": f"The file has no column named {unknown[0]!r}."})
        job.mapping = {h: mapping.get(h, "") or "" for h in job.headers}
    if mode is not None:
        if mode not in Mode.values:
            raise ValidationError(
                {"mode": f"Unknown mode {mode!r}; use one of {', '.join(Mode.values)}."}
            )
        job.mode = mode
    if match_on is not None:
        job.match_on = match_on
    if locale:
        job.locale = locale[:16]
    spec = f.spec_for(job.entity, locale=job.locale)
    try:
        engine.check_mapping(spec, job.headers, job.mapping, job.mode, job.match_on)
    except engine.MappingProblem as exc:
        raise ValidationError({"mapping": str(exc)}) from None
    job.status = Status.MAPPING
    job.previewed = False
    job.save()
    MappingMemory.objects.update_or_create(
        entity=job.entity, signature=signature(job.headers), defaults={"mapping": job.mapping}
    )
    return job


def _queue(actor: Any, job: ImportJob, *, dry_run: bool) -> ImportJob:
    """Check the import can run as configured, mark it queued and send its task once this
    transaction commits."""
    from .tasks import WATCH_KIND, run_import

    _check(actor, job.entity)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (Status.MAPPING, Status.PREVIEWED, Status.FAILED):
        raise ValidationError("This import is already running or finished.")
    spec = f.spec_for(job.entity, locale=job.locale)
    try:
        engine.check_mapping(spec, job.headers, job.mapping, job.mode, job.match_on)
    except engine.MappingProblem as exc:
        raise ValidationError({"mapping": str(exc)}) from None
    job.status = Status.PREVIEW_QUEUED if dry_run else Status.QUEUED
    job.message = ""
    job.heartbeat_at = timezone.now()  # a worker has STALE_SECONDS to pick it up
    job.save(update_fields=["status", "message", "heartbeat_at"])
    # robust: a broker that cannot be reached (Redis restarting) must not turn the committed
    # import into an error, which a client would retry and so import the file twice. The
    # watch below sends the run again.
    transaction.on_commit(lambda: run_import.delay(job.pk, dry_run), robust=True)
    # Kept in PostgreSQL with the job itself: whatever happens to the message or the worker,
    # the run is looked at again (tasks.watch) until it ends.
    jobs.schedule(
        kind=WATCH_KIND,
        object_id=job.pk,
        due_at=timezone.now() + dt.timedelta(seconds=STALE_SECONDS + 5),
    )
    return job


@transaction.atomic
def import_preview(*, actor: Any, job: ImportJob) -> ImportJob:
    """Queue a dry run: counts and every problem, nothing written."""
    return _queue(actor, job, dry_run=True)


@transaction.atomic
def import_start(*, actor: Any, job: ImportJob) -> ImportJob:
    """Queue the real run (after a preview, or straight away through the API)."""
    job = _queue(actor, job, dry_run=False)
    audit_record(
        action="import.started",
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        target=job,
        detail={"entity": job.entity, "mode": job.mode, "match_on": job.match_on},
    )
    return job


def import_cancel(*, actor: Any, job: ImportJob) -> ImportJob:
    """Ask a queued or running import to stop; the run rolls back everything it wrote."""
    _check(actor, job.entity)
    moved = ImportJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(status=Status.CANCELLING)
    job.refresh_from_db()
    if not moved:
        raise ValidationError("Only a queued or running import can be cancelled.")
    audit_record(
        action="import.cancelled",
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        target=job,
        detail={"entity": job.entity},
    )
    return job


# --- the run (called by the task) --------------------------------------------------------


def progress_key(job_id: int) -> str:
    return f"imports:progress:{job_id}"


def progress(job: ImportJob) -> dict[str, Any]:
    """Rows done, rate and time left, as the progress bar shows them."""
    live = cache.get(progress_key(job.pk)) or {}
    complete = job.is_finished or job.status == Status.PREVIEWED
    done = live.get("done", job.rows_done if complete else 0)
    total = job.rows_total or live.get("total") or 0
    started = live.get("started")
    rate = 0.0
    if started and done:
        elapsed = max(timezone.now().timestamp() - started, 0.001)
        rate = done / elapsed
    left = (total - done) / rate if rate and total > done else 0
    percent = 100 if complete else min(99, int(done * 100 / total)) if total else 0
    return {
        "done": done,
        "total": total,
        "percent": percent,
        "rate": round(rate),
        "seconds_left": round(left),
        "stale": bool(
            live.get("beat") and timezone.now().timestamp() - live["beat"] > STALE_SECONDS
        ),
    }


def resume_if_stale(job: ImportJob) -> bool:
    """A run whose worker vanished (no progress for STALE_SECONDS, message lost) is queued
    again; the run holds a lock, so a live one is never doubled."""
    if job.status not in ACTIVE:
        return False
    live = cache.get(progress_key(job.pk)) or {}
    beat = live.get("beat") or (job.heartbeat_at or job.created_at).timestamp()
    if timezone.now().timestamp() - beat < STALE_SECONDS:
        return False
    if job.status == Status.CANCELLING:
        # Nobody is running it (a run checks for a cancel every few thousand rows).
        _finish(job, status=Status.CANCELLED, message="Cancelled; nothing was changed.")
        return False
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    cache.set(progress_key(job.pk), {**live, "beat": timezone.now().timestamp()}, 3600)
    from .tasks import run_import

    run_import.delay(job.pk, job.status in (Status.PREVIEW_QUEUED, Status.PREVIEWING))
    return True


def run(job: ImportJob, *, dry_run: bool) -> engine.Summary | None:
    """Run the import (or its dry run) and record the outcome on the job."""
    running = Status.PREVIEWING if dry_run else Status.RUNNING
    started = timezone.now()
    if not ImportJob.objects.filter(
        pk=job.pk, status__in=[Status.PREVIEW_QUEUED, Status.QUEUED, running]
    ).update(status=running, started_at=started, heartbeat_at=started):
        job.refresh_from_db()
        if job.status == Status.CANCELLING:
            _finish(job, status=Status.CANCELLED, message="Cancelled before it started.")
        return None
    job.refresh_from_db()
    state = {
        "done": 0,
        "total": job.rows_total,
        "started": started.timestamp(),
        "beat": started.timestamp(),
    }
    _set_progress(job.pk, state)

    def report(done: int) -> None:
        state.update(done=done, beat=timezone.now().timestamp())
        _set_progress(job.pk, state)

    def cancelled() -> bool:
        return ImportJob.objects.filter(
            pk=job.pk, status__in=[Status.CANCELLING, Status.CANCELLED]
        ).exists()

    rejected = io.StringIO()
    writer = csv.writer(rejected)
    writer.writerow([*job.headers, "error"])

    def reject(cells: list[str], message: str) -> None:
        writer.writerow(
            [*cells[: len(job.headers)], *[""] * (len(job.headers) - len(cells)), message]
        )

    path, temporary = _local_path(job)
    try:
        table = open_table(path, name=job.file_name)
        spec = f.spec_for(job.entity, locale=job.locale, tz=_zone(job.created_by))
        importer = engine.Importer(
            spec=spec,
            table=table,
            mapping=job.mapping,
            mode=job.mode,
            match_on=job.match_on,
            actor=job.created_by,
            dry_run=dry_run,
            progress=report,
            cancelled=cancelled,
            rejected=reject,
            reason=f"Import of {job.file_name}",
        )
        summary = importer.run()
    except engine.Cancelled:
        _finish(job, status=Status.CANCELLED, message="Cancelled; nothing was changed.")
        return None
    except (FileProblem, engine.MappingProblem) as exc:
        _finish(job, status=Status.FAILED, message=str(exc))
        return None
    except CONNECTION_LOST:
        # The database connection was lost (PostgreSQL restarting, the connection cut): the
        # run's one transaction died with it, nothing was written. The job stays running and
        # the task runs it again (run_import retries); its retries spent, the import's watch
        # sends it again once it is stale.
        raise
    except Exception as exc:
        _finish(
            job,
            status=Status.FAILED,
            message=f"The import failed and nothing was changed: {exc}"[:2000],
        )
        raise
    finally:
        if temporary:  # pragma: no cover - object storage
            path.unlink(missing_ok=True)
    _record(job, summary, rejected.getvalue(), dry_run=dry_run)
    return summary


def _zone(user: Any) -> dt.tzinfo:
    """Times without a zone in the file are read in the importing person's time zone."""
    try:
        return zoneinfo.ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _finish(job: ImportJob, *, status: str, message: str) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, message=message, finished_at=timezone.now()
    )
    _drop_progress(job.pk)


def _set_progress(job_id: int, state: dict[str, Any]) -> None:
    """The progress a run shows lives in the cache. A cache that cannot be reached (Redis
    restarting) must not fail the import: the bar stands still meanwhile."""
    try:
        cache.set(progress_key(job_id), state, 24 * 3600)
    except Exception:
        logger.warning("import progress not recorded: cache unreachable", exc_info=True)


def _drop_progress(job_id: int) -> None:
    try:
        cache.delete(progress_key(job_id))
    except Exception:
        logger.warning("import progress not removed: cache unreachable", exc_info=True)


@transaction.atomic
def _record(job: ImportJob, summary: engine.Summary, rejected: str, *, dry_run: bool) -> None:
    job.problems.all().delete()
    ImportProblem.objects.bulk_create(
        [
            ImportProblem(
                job=job, row=p.row, column=p.column[:255], code=p.code, message=p.message[:500]
            )
            for p in summary.problems
        ]
    )
    if job.error_file:
        job.error_file.delete(save=False)
    if summary.errors:
        job.error_file.save(
            f"{Path(_short_name(job.file_name)).stem}-errors.csv",
            ContentFile(rejected.encode("utf-8-sig")),
            save=False,
        )
    for name in (
        "rows_total",
        "created",
        "updated",
        "unchanged",
        "duplicates",
        "skipped",
        "errors",
    ):
        setattr(job, name, getattr(summary, name))
    job.rows_done = summary.rows_total
    job.previewed = job.previewed or dry_run
    job.status = Status.PREVIEWED if dry_run else Status.DONE
    job.finished_at = timezone.now()
    job.message = ""
    job.save()
    _drop_progress(job.pk)
    if not dry_run:
        audit_record(
            action="import.completed",
            actor=job.created_by,
            actor_label=job.created_by.email if job.created_by else "system",
            target=job,
            detail={"entity": job.entity, **summary.as_dict()},
        )
