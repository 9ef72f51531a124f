"""The organisation's data as one zip: a CSV per record type and per table of settings, the
uploaded files under `files/`, and a README.txt and manifest.json saying what is where.

`write_archive(path)` writes it for the schema the connection is in, whoever asks: every
record, not what one person may see (only Owners and Admins ask for it, and they see
everything). It is the one entry point, for Admins' exports (apps/dataexport/services.py)
and for the export taken before an organisation is deleted.

Memory stays flat whatever the size: rows are read a chunk at a time through a server-side
cursor and written straight into the zip entry, and files are copied into the zip in
blocks. The record types' CSVs are the list exports' own files (apps/records/exporting.py:
the same columns, headers, value formats and formula neutralisation, ordered by id), so a
file from here and one from a list's "Export" open the same way. What the lists do not show
(an activity's body, a contact's other emails, ...) is in the `*-details.csv` files and the
link tables beside them."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.records import registry
from apps.records.exporting import (
    _csv_converter,  # the list export's own value formats, so both files read alike
    _Rows,
    csv_cell,
)
from tenants.db import connection

FORMAT_VERSION = 1
# Rows read per round trip for the settings tables (the record types use the list export's).
CHUNK = 1000
# Uploaded files: the folder under the organisation's media folder the archives themselves
# are kept in, never put into another archive.
ARCHIVE_FOLDER = "dataexports"
# Record types in the order their files are written and listed.
ENTITY_ORDER = ("contact", "company", "deal", "lead", "activity")
# Never in any file: secrets, and columns that only serve the search.
NEVER = {"password", "secret_hash", "search_text"}
BOM = "\ufeff"

Progress = Callable[[int, int], None]


@dataclass
class Part:
    """One CSV of the archive: its name, what it holds, and how to read it."""

    name: str
    description: str
    count: Callable[[], int]
    rows: Callable[[], Iterator[list[str]]]
    header: Callable[[], list[str]]
    written: int = 0
    columns: list[str] = field(default_factory=list)


# --- record types: the list export's files ---------------------------------------------------


def _entity_part(entity: registry.EntitySpec) -> Part:
    queryset = entity.model._default_manager.order_by("pk")
    made: list[_Rows] = []

    def table() -> _Rows:
        # Built once, when the file is written: it reads the custom field definitions.
        if not made:
            made.append(_Rows(entity, queryset, csv_text=True))
        return made[0]

    def rows() -> Iterator[list[str]]:
        found = table()
        values = found.values(
            [None if at in found.text else _csv_converter(c) for at, c in enumerate(found.columns)]
        )
        for chunk in found.chunks():
            for raw in chunk:
                yield values(raw)

    def header() -> list[str]:
        return [c.label for c in table().columns]

    plural = entity.label_plural.lower()
    return Part(
        name=f"{plural}.csv",
        description=(
            f"Every {entity.label.lower()}, with the columns of the {plural} list's CSV export "
            "(custom fields and tags included)."
        ),
        count=queryset.count,
        rows=rows,
        header=header,
    )


# --- any table: its own columns ---------------------------------------------------------------


def _text(value: Any) -> str:
    """A value of a plain table as its CSV field, neutralised and quoted like the lists'."""
    if value is None:
        return ""
    if isinstance(value, bool | int) or value.__class__.__name__ == "Decimal":
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return csv_cell(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))
    return csv_cell(value)


def _fields(model: type[models.Model], *, skip: Iterable[str] = ()) -> list[models.Field[Any, Any]]:
    left_out = NEVER | set(skip)
    return [
        f
        for f in model._meta.concrete_fields
        if f.name not in left_out and f.attname not in left_out
    ]


def _table_part(
    name: str,
    description: str,
    queryset: Any,
    *,
    skip: Iterable[str] = (),
    only: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Part:
    """Every row of `queryset` with the model's own columns (a foreign key as the linked
    row's id, under its `_id` name), those in `skip` left out, and `extra` annotations."""
    model = queryset.model
    fields = _fields(model, skip=skip)
    if only is not None:
        fields = [f for f in fields if f.name in only]
    names = [f.attname for f in fields] + list(extra or {})
    rows_query = queryset.annotate(**(extra or {})) if extra else queryset

    def rows() -> Iterator[list[str]]:
        for row in rows_query.order_by("pk").values_list(*names).iterator(chunk_size=CHUNK):
            yield [_text(v) for v in row]

    return Part(
        name=name,
        description=description,
        count=queryset.count,
        rows=rows,
        header=lambda: names,
    )


def _details_part(entity: registry.EntitySpec) -> Part | None:
    """What the list export of a record type leaves out: its other own columns."""
    shown = {"id", "custom_fields", "merged_into", "merged_at"}
    for spec in entity.fields:
        shown.add(spec.name)
        shown.add(spec.path)
    model = entity.model
    extra = [
        f.name
        for f in _fields(model)
        if f.name not in shown and f.attname not in shown and not f.primary_key
    ]
    if not extra:
        return None
    plural = entity.label_plural.lower()
    return _table_part(
        f"{plural}-details.csv",
        f"The {plural}' other columns (those the list does not show), by id.",
        model._default_manager.all(),
        only=["id", *extra],
    )


def _parts() -> list[Part]:
    from django.contrib.postgres.aggregates import StringAgg

    from apps.accounts.models import Team, User
    from apps.activities.models import Reminder
    from apps.apikeys.models import ApiKey
    from apps.audit.models import AuditEntry
    from apps.contacts.models import ContactCompany, ContactEmail, ContactPhone
    from apps.deals.models import DealStageChange, LostReason, Pipeline, Stage
    from apps.imports.models import ImportJob
    from apps.leads.models import LeadSource, WebForm
    from apps.records.models import CustomField, Tag

    parts: list[Part] = []
    entities = {e.key: e for e in registry.all_entities()}
    for key in ENTITY_ORDER:
        if key in entities:
            parts.append(_entity_part(entities[key]))
            details = _details_part(entities[key])
            if details is not None:
                parts.append(details)
    parts += [
        _table_part(
            "contact-emails.csv",
            "Every email address of every contact (contact_id: the contact's ID).",
            ContactEmail.objects.filter(contact__merged_into__isnull=True),
        ),
        _table_part(
            "contact-phones.csv",
            "Every phone number of every contact.",
            ContactPhone.objects.filter(contact__merged_into__isnull=True),
        ),
        _table_part(
            "contact-companies.csv",
            "Which contact works at which company, with their role there.",
            ContactCompany.objects.filter(
                contact__merged_into__isnull=True, company__merged_into__isnull=True
            ),
        ),
        _table_part("pipelines.csv", "The deal pipelines.", Pipeline.objects.all()),
        _table_part(
            "stages.csv", "The stages of every pipeline (pipeline_id).", Stage.objects.all()
        ),
        _table_part(
            "deal-stage-changes.csv",
            "Every move of a deal between stages.",
            DealStageChange.objects.all(),
        ),
        _table_part("lost-reasons.csv", "Reasons deals are lost.", LostReason.objects.all()),
        _table_part("lead-sources.csv", "Where leads come from.", LeadSource.objects.all()),
        _table_part("web-forms.csv", "Lead capture web forms.", WebForm.objects.all()),
        _table_part(
            "reminders.csv", "Reminders of activities (activity_id).", Reminder.objects.all()
        ),
        _table_part("tags.csv", "Tags and their colours.", Tag.objects.all()),
        _table_part(
            "custom-fields.csv",
            "Custom field definitions; their values are the cf_ columns of the record files.",
            CustomField.objects.all(),
        ),
        _table_part(
            "users.csv",
            "The organisation's users and their roles (no passwords).",
            User.objects.all(),
            skip=("is_superuser",),
            extra={"roles": StringAgg("groups__name", ", ", default=models.Value(""))},
        ),
        _table_part(
            "teams.csv",
            "Teams and their managers (manager_id: a user's id).",
            Team.objects.all(),
            skip=("group",),
        ),
        _table_part(
            "team-members.csv",
            "Who belongs to which team.",
            Team.members.through.objects.all(),
        ),
        _table_part(
            "api-keys.csv",
            "API keys: name, visible prefix, role and scopes (never the secret or its hash).",
            ApiKey.objects.all(),
        ),
        _table_part(
            "imports.csv",
            "Files imported and what became of them; the files are under files/imports/.",
            ImportJob.objects.all(),
        ),
        _table_part(
            "audit-log.csv", "The audit log: who did what, when.", AuditEntry.objects.all()
        ),
    ]
    return parts


# --- files --------------------------------------------------------------------------------


def media_folder() -> Path:
    """The current organisation's own folder of uploaded files (MEDIA_ROOT/<schema>)."""
    from django.core.files.storage import default_storage

    return Path(default_storage.path(""))


def _files() -> list[tuple[Path, str]]:
    root = media_folder()
    if not root.is_dir():
        return []
    found: list[tuple[Path, str]] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts and relative.parts[0] == ARCHIVE_FOLDER:
            continue
        if path.is_file() and not path.is_symlink():
            found.append((path, relative.as_posix()))
    return found


# --- the archive ------------------------------------------------------------------------------


def _write_csv(archive: zipfile.ZipFile, part: Part, tick: Callable[[int], None]) -> None:
    header = part.header()
    part.columns = header
    with archive.open(part.name, "w", force_zip64=True) as entry:
        # Headers are cells too (a custom field's label is anyone's text): neutralised.
        entry.write((BOM + ",".join(csv_cell(h) for h in header) + "\r\n").encode())
        lines: list[str] = []
        for row in part.rows():
            lines.append(",".join(row))
            if len(lines) >= 250:
                entry.write(("\r\n".join(lines) + "\r\n").encode())
                part.written += len(lines)
                tick(len(lines))
                lines = []
        if lines:
            entry.write(("\r\n".join(lines) + "\r\n").encode())
            part.written += len(lines)
            tick(len(lines))


def _readme(organisation: dict[str, str], manifest: dict[str, Any]) -> str:
    lines = [
        f"Data export of {organisation['name']} ({organisation['slug']})",
        f"Made {manifest['generated_at']} (UTC).",
        "",
        "Every CSV is UTF-8 with a byte order mark (spreadsheets open it as UTF-8), comma",
        "separated, with a header row. Dates and times are ISO 8601 with their UTC offset.",
        "A cell that would start like a spreadsheet formula (= + - @) starts with an",
        "apostrophe, so opening the file never runs anything. IDs link the files together",
        "(owner and *_id columns name the id in the file of that kind).",
        "",
        "Files:",
    ]
    for item in manifest["files"]:
        lines.append(f"  {item['name']:<28} {item['rows']:>9} rows  {item['description']}")
    files = manifest["uploaded_files"]
    lines += [
        f"  {'files/':<28} {files['count']:>9} files Uploaded files (imports and their",
        "                                          rejected rows), as they were uploaded.",
        "  manifest.json                The same list for programs.",
        "",
    ]
    return "\n".join(lines)


def _organisation() -> dict[str, str]:
    from tenants.models import Tenant

    schema = connection.schema_name
    tenant = Tenant.objects.filter(schema_name=schema).first()
    if tenant is None:
        return {"slug": schema, "name": schema, "schema": schema}
    return {"slug": tenant.slug, "name": tenant.name, "schema": schema}


def write_archive(path: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Write the current organisation's data to a zip at `path` and return its manifest
    (files with their row counts, uploaded files, the organisation). `progress(done,
    total)` is called as rows are written (total: rows of every CSV). Each record type's
    file is read in one transaction, so it shows one moment, as a list export does."""
    schema = connection.schema_name
    if schema == settings.PUBLIC_SCHEMA_NAME:
        raise RuntimeError("write_archive runs in an organisation's schema, not the public one.")
    organisation = _organisation()
    generated = timezone.now()
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = _parts()
    total = sum(part.count() for part in parts)
    done = 0

    def tick(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    files = _files()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for part in parts:
            _write_csv(zf, part, tick)
        size = 0
        for source, relative in files:
            zf.write(source, f"files/{relative}")
            size += source.stat().st_size
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "organisation": organisation,
            "generated_at": generated.isoformat(),
            "files": [
                {
                    "name": p.name,
                    "description": p.description,
                    "rows": p.written,
                    "columns": p.columns,
                }
                for p in parts
            ],
            "uploaded_files": {
                "count": len(files),
                "bytes": size,
                "names": [f"files/{relative}" for _, relative in files],
            },
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        zf.writestr("README.txt", _readme(organisation, manifest))
    return manifest


def counts(manifest: dict[str, Any]) -> dict[str, int]:
    """Rows per file of a manifest, and the uploaded files' count: what the page shows."""
    found = {item["name"]: int(item["rows"]) for item in manifest.get("files", [])}
    found["files/"] = int(manifest.get("uploaded_files", {}).get("count", 0))
    return found
