"""Reads of imports. An import is seen by the person who uploaded it and by the organisation's
Owners and Admins; anyone else gets a 404, exactly as for an import that does not exist, so
web pages, the error file and any future API cannot disagree."""

from __future__ import annotations

from itertools import islice
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.roles import ADMIN_ROLES

from .models import ImportJob, ImportProblem, MappingMemory
from .reading import FileProblem, Table
from .services import _local_path, signature

# Problems that describe a row left out on purpose (already there, a repeat, nothing to
# update): worth a look, but not something to fix in the file.
NOTE_CODES = frozenset({"duplicate_in_file", "already_exists", "no_match"})


def may_see_all(user: Any) -> bool:
    # An API key has no `is_admin`: it acts with its own role.
    return bool(getattr(user, "is_admin", False)) or getattr(user, "role", None) in ADMIN_ROLES


def import_list(*, user: Any) -> QuerySet[ImportJob]:
    """The imports `user` may see, newest first: all of them for Owners and Admins, their
    own for everyone else (nobody's for an unsaved user)."""
    if user is None or getattr(user, "pk", None) is None:
        return ImportJob.objects.none()
    found = ImportJob.objects.select_related("created_by")
    if not may_see_all(user):
        found = found.filter(created_by_id=user.pk)
    return found.order_by("-created_at", "-id")


def import_get(*, user: Any, pk: Any) -> ImportJob:
    """One import `user` may see; Http404 otherwise."""
    try:
        return import_list(user=user).get(pk=int(pk))
    except (ImportJob.DoesNotExist, TypeError, ValueError):
        raise Http404("No such import.") from None


def problem_list(*, job: ImportJob, kind: str = "") -> QuerySet[ImportProblem]:
    """The job's problems in row order; `kind` "errors" keeps rows that were rejected,
    "notes" rows left out on purpose (duplicates, no match)."""
    found = job.problems.all().order_by("row", "id")
    if kind == "errors":
        found = found.exclude(code__in=NOTE_CODES)
    elif kind == "notes":
        found = found.filter(code__in=NOTE_CODES)
    return found


def mapping_remembered(job: ImportJob) -> bool:
    """Whether the job's mapping is the one remembered from an earlier import of the same
    columns: the memory predates the upload (configuring this job rewrites it) and matches."""
    memory = MappingMemory.objects.filter(
        entity=job.entity, signature=signature(job.headers)
    ).first()
    return (
        memory is not None
        and memory.updated_at < job.created_at
        and {h: memory.mapping.get(h, "") for h in job.headers} == job.mapping
    )


def sample_rows(job: ImportJob, count: int = 3) -> list[list[str]]:
    """The first `count` data rows, one cell per header (missing cells empty). Read with the
    format, encoding and delimiter found at upload, so the file is not examined again."""
    path, temporary = _local_path(job)
    table = Table(path, job.file_format, list(job.headers), job.encoding, job.delimiter)
    width = len(job.headers)
    try:
        rows = [cells for _, cells in islice(table.rows(), count)]
    except (FileProblem, OSError, UnicodeDecodeError):
        return []
    finally:
        if temporary:  # pragma: no cover - object storage
            path.unlink(missing_ok=True)
    return [[*cells[:width], *[""] * (width - len(cells))] for cells in rows]
