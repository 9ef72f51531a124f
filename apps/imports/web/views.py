"""The import pages: history, upload, and one page per import that shows the step it is at
(map the columns, watch the check or the run, read what would happen or what happened).
Thin: reads go through the selectors (the uploader, Owners and Admins only), writes through
the services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from apps.core import visibility
from apps.records import registry
from apps.records.models import Entity

from .. import fields as f
from .. import selectors, services
from ..models import ACTIVE, ImportJob, Status
from ..reading import max_file_bytes
from .forms import MappingForm, UploadForm, megabytes
from .uploads import SizeLimit

PAGE_SIZE = 25
PROBLEMS_PAGE_SIZE = 50
SAMPLE_ROWS = 3
# htmx stops polling when an answer has this status.
STOP_POLLING = 286


def _importable(user: Any) -> list[tuple[str, str]]:
    """The record types `user` may import (create records of)."""
    return [
        (key, label)
        for key, label in Entity.choices
        if visibility.can_create(user, f.spec_model(key))
    ]


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "companies/refused.html", {"message": message}, status=403)


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for messages_ in exc.message_dict.values() for m in messages_]
    return list(exc.messages)


@login_required
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.import_list(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "imports/list.html",
        {
            "page": page,
            "can_import": bool(_importable(request.user)),
            "sees_all": selectors.may_see_all(request.user),
        },
    )


@csrf_exempt
def import_new(request: HttpRequest) -> HttpResponseBase:
    # The size limit must be in place before anything reads the body, and the CSRF check
    # reads it; so the check runs inside, once the handler is installed.
    limit = SizeLimit(request, max_file_bytes())
    if request.method == "POST":
        request.upload_handlers.insert(0, limit)
    return _import_new(request, limit)


@csrf_protect
@login_required
def _import_new(request: HttpRequest, limit: SizeLimit) -> HttpResponseBase:
    choices = _importable(request.user)
    if not choices:
        return _refused(request, "Read-only access cannot import records.")
    wanted = request.GET.get("entity", "")
    initial = {"entity": wanted if wanted in dict(choices) else choices[0][0]}
    form = UploadForm(
        data=request.POST if request.method == "POST" else None,
        files=request.FILES if request.method == "POST" else None,
        initial=initial,
        entities=choices,
    )
    if request.method == "POST":
        if limit.too_large:
            form.add_error(
                None,
                f"{limit.too_large} is larger than {megabytes(limit.limit)}, the most one "
                "import can take. Split it into smaller files.",
            )
        elif form.is_valid():
            try:
                job = services.import_create(
                    actor=request.user,
                    entity=form.cleaned_data["entity"],
                    upload=form.cleaned_data["file"],
                    mode=form.cleaned_data["mode"],
                )
            except PermissionDenied as exc:
                return _refused(request, str(exc))
            except ValidationError as exc:
                fields = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                for field, errors in fields.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return redirect("imports:detail", pk=job.pk)
    return render(
        request,
        "imports/new.html",
        {"form": form, "limit": megabytes(max_file_bytes())},
        status=400 if form.errors else 200,
    )


def _steps(job: ImportJob) -> list[dict[str, Any]]:
    at = {
        Status.MAPPING: 1,
        Status.PREVIEW_QUEUED: 2,
        Status.PREVIEWING: 2,
        Status.PREVIEWED: 2,
        Status.FAILED: 2,
        Status.QUEUED: 3,
        Status.RUNNING: 3,
        Status.CANCELLING: 3,
        Status.CANCELLED: 3,
        Status.DONE: 4,
    }.get(Status(job.status), 1)
    names = ["Upload", "Map columns", "Check", "Import", "Done"]
    return [
        {"number": n + 1, "name": name, "current": n == at, "done": n < at}
        for n, name in enumerate(names)
    ]


def duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if minutes < 10 and rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _progress_context(job: ImportJob) -> dict[str, Any]:
    progress = services.progress(job)
    return {
        "job": job,
        "progress": progress,
        "time_left": duration(progress["seconds_left"]) if progress["seconds_left"] else "",
        "polling": job.status in ACTIVE,
        "dry_run": job.status in (Status.PREVIEW_QUEUED, Status.PREVIEWING),
    }


def _mapping_context(job: ImportJob, form: MappingForm) -> dict[str, Any]:
    samples = selectors.sample_rows(job, SAMPLE_ROWS)
    return {
        "form": form,
        "columns": [
            {"field": bound, "header": header, "samples": [row[index] for row in samples]}
            for index, (header, bound) in enumerate(
                zip(job.headers, form.column_fields(), strict=True)
            )
        ],
        "remembered": selectors.mapping_remembered(job),
    }


def _result_context(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    kind = request.GET.get("problems", "")
    if kind not in ("errors", "notes"):
        kind = ""
    page = Paginator(selectors.problem_list(job=job, kind=kind), PROBLEMS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return {
        "problems": page,
        "problem_kind": kind,
        "error_count": selectors.problem_list(job=job, kind="errors").count(),
        "note_count": selectors.problem_list(job=job, kind="notes").count(),
        "note_codes": selectors.NOTE_CODES,
        "to_write": job.created + job.updated,
        "done": job.status == Status.DONE,
    }


def _job_page(
    request: HttpRequest, job: ImportJob, *, form: MappingForm | None = None, status: int = 200
) -> HttpResponse:
    entity = registry.get(job.entity)
    context: dict[str, Any] = {
        "job": job,
        "entity": entity,
        "steps": _steps(job),
        "can_act": visibility.can_create(request.user, entity.model),
        "records_url": reverse(f"{entity.url_namespace}:list"),
        "again_url": f"{reverse('imports:new')}?entity={job.entity}",
    }
    if job.status == Status.MAPPING:
        spec = f.spec_for(job.entity, locale=job.locale)
        context.update(_mapping_context(job, form or MappingForm(job=job, spec=spec)))
    elif job.status in ACTIVE:
        context.update(_progress_context(job))
    elif job.status in (Status.PREVIEWED, Status.DONE):
        context.update(_result_context(request, job))
    return render(request, "imports/job.html", context, status=status)


@login_required
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_get(user=request.user, pk=pk)
    if job.status in ACTIVE:
        # A run whose worker vanished is queued again, a cancel nobody picked up ends.
        services.resume_if_stale(job)
        job.refresh_from_db()
    return _job_page(request, job)


@login_required
@require_POST
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the mapping and options, then queue the check (a dry run)."""
    job = selectors.import_get(user=request.user, pk=pk)
    if job.status != Status.MAPPING:
        messages.error(request, "This import is past the mapping step.")
        return redirect("imports:detail", pk=job.pk)
    spec = f.spec_for(job.entity, locale=job.locale)
    form = MappingForm(request.POST, job=job, spec=spec)
    if form.is_valid():
        try:
            job = services.import_configure(
                actor=request.user,
                job=job,
                mapping=form.mapping(),
                mode=form.cleaned_data["mode"],
                match_on=form.cleaned_data["match_on"],
                locale=form.cleaned_data["locale"],
            )
            job = services.import_preview(actor=request.user, job=job)
        except PermissionDenied as exc:
            return _refused(request, str(exc))
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            return redirect("imports:detail", pk=job.pk)
    return _job_page(request, job, form=form, status=400)


@login_required
@require_POST
def import_remap(request: HttpRequest, pk: int) -> HttpResponse:
    """Back to the mapping step (from the preview, or after a failure)."""
    job = selectors.import_get(user=request.user, pk=pk)
    try:
        services.import_configure(actor=request.user, job=job)
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    return redirect("imports:detail", pk=job.pk)


@login_required
@require_POST
def import_start(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_get(user=request.user, pk=pk)
    try:
        services.import_start(actor=request.user, job=job)
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    return redirect("imports:detail", pk=job.pk)


@login_required
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_get(user=request.user, pk=pk)
    try:
        job = services.import_cancel(actor=request.user, job=job)
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        messages.success(request, "Cancelling the import; nothing it did will be kept.")
    return redirect("imports:detail", pk=job.pk)


@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar, polled every second while the import is queued or running. Once it
    has finished, the answer stops the polling and reloads the page, which then shows the
    result."""
    if not request.user.is_authenticated:
        return HttpResponse(status=STOP_POLLING)
    job = selectors.import_get(user=request.user, pk=pk)
    if job.status in ACTIVE:
        services.resume_if_stale(job)
        job.refresh_from_db()
    response = render(request, "imports/_progress.html", _progress_context(job))
    response["Cache-Control"] = "no-store"
    if job.status not in ACTIVE:
        response.status_code = STOP_POLLING
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_GET
def import_errors(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The rejected rows as CSV, each with an `error` column saying what to fix."""
    job = selectors.import_get(user=request.user, pk=pk)
    if not job.error_file:
        raise Http404("This import has no rejected rows.")
    try:
        handle = job.error_file.open("rb")
    except FileNotFoundError:
        raise Http404("The error file is gone.") from None
    stem = job.file_name.rsplit(".", 1)[0] or "import"
    response = FileResponse(
        handle, as_attachment=True, filename=f"{stem}-errors.csv", content_type="text/csv"
    )
    response["Cache-Control"] = "private, no-store"
    return response
