"""What the imports API reads and shows: the upload, the options of an import, the job with its
counts and progress, its problems, and the fields a column can be mapped to."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from apps.records.models import Entity

from .. import selectors, services
from ..models import ImportJob, ImportProblem, MatchOn, Mode, Status
from ..selectors import NOTE_CODES

MAX_MAPPING_COLUMNS = 250  # reading.MAX_COLUMNS: a file never has more


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": (
            "Column header -> field name (see /api/v1/imports/fields/); an empty name leaves "
            "the column out. In a multipart upload, send it as a JSON string."
        ),
        "example": {"E-mail": "email", "Surname": "last_name", "Notes": ""},
    }
)
class MappingField(serializers.Field):
    """A JSON object of header -> field name, or the same object as a JSON string (multipart
    form fields are strings)."""

    default_error_messages = {
        "invalid_json": "The mapping is not valid JSON: {error}.",
        "not_object": "The mapping must be a JSON object of column header -> field name, "
        'e.g. {{"E-mail": "email"}}.',
        "not_name": "The mapping of {header!r} must be a field name (a string), or empty to "
        "leave it out.",
        "too_many": "The mapping names {count} columns; a file has at most {limit}.",
    }

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except ValueError as exc:
                self.fail("invalid_json", error=exc)
        if not isinstance(data, dict):
            self.fail("not_object")
        if len(data) > MAX_MAPPING_COLUMNS:
            self.fail("too_many", count=len(data), limit=MAX_MAPPING_COLUMNS)
        mapping: dict[str, str] = {}
        for header, name in data.items():
            if name is not None and not isinstance(name, str):
                self.fail("not_name", header=header)
            mapping[str(header)] = (name or "").strip()
        return mapping

    def to_representation(self, value: Any) -> dict[str, str]:
        return dict(value or {})


@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    """The uploaded file (described as bytes in the schema, not as the URL a stored file
    would be shown as)."""


class ImportCreateSerializer(serializers.Serializer[dict[str, Any]]):
    file = UploadField(
        allow_empty_file=True,  # the reader names an empty file (empty_file)
        help_text="CSV (any common encoding and delimiter), XLSX or JSON (an array of objects); "
        "the first row names the columns.",
    )
    entity = serializers.ChoiceField(choices=Entity.choices, help_text="What each row becomes.")
    mode = serializers.ChoiceField(choices=Mode.choices, default=Mode.UPSERT)
    match_on = serializers.ChoiceField(
        choices=MatchOn.choices,
        required=False,
        help_text="How a row finds the record it updates. Default: the id, external id, email "
        "or domain column, whichever is mapped first in that order; else none.",
    )
    mapping = MappingField(
        required=False,
        help_text="Column header -> field name, as a JSON string (names from "
        "/api/v1/imports/fields/; an empty name leaves the column out). Default: the mapping "
        "last used for a file with these headers, else each header matched to the field it "
        "names.",
    )
    locale = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text='How dates and numbers are written: "en" reads 03/04/2026 as March 4th and '
        '1,234.5; "en-GB", "de", "fr"... read the day first. Default: your own locale.',
    )
    dry_run = serializers.BooleanField(
        default=False,
        help_text="Check every row and count what would happen, writing nothing; start the "
        "import afterwards with POST /api/v1/imports/{id}/start/.",
    )


class ImportChangeSerializer(serializers.Serializer[dict[str, Any]]):
    mapping = MappingField(
        required=False, help_text="The whole mapping: a column it leaves out is not imported."
    )
    mode = serializers.ChoiceField(choices=Mode.choices, required=False)
    match_on = serializers.ChoiceField(choices=MatchOn.choices, required=False)
    locale = serializers.CharField(max_length=16, required=False, allow_blank=True)


COUNTS = (
    ("rows_total", "Data rows read (the header not counted)."),
    ("created", ""),
    ("updated", ""),
    ("unchanged", "Matched records that already held the values."),
    (
        "duplicates",
        "Rows skipped as repeats within the file, or (create mode) as existing records.",
    ),
    ("skipped", "Rows that matched nothing in update mode."),
    ("errors", "Rows left out because of an error."),
)
# Built by name: a declared `errors` field would hide Serializer.errors from type checkers.
CountsSerializer = inline_serializer(
    "ImportCounts", {name: serializers.IntegerField(help_text=text) for name, text in COUNTS}
)
PROGRESS = ("done", "total", "percent", "rate", "seconds_left")


class ProgressSerializer(serializers.Serializer[dict[str, Any]]):
    done = serializers.IntegerField(help_text="Rows done so far.")
    total = serializers.IntegerField(help_text="Rows in the file, once known (else 0).")
    percent = serializers.IntegerField()
    rate = serializers.IntegerField(help_text="Rows per second.")
    seconds_left = serializers.IntegerField()


class LinksSerializer(serializers.Serializer[dict[str, Any]]):
    self = serializers.URLField()
    problems = serializers.URLField()
    error_file = serializers.URLField(
        allow_null=True, help_text="The rejected rows as CSV, when there are any."
    )


class ProblemSerializer(serializers.ModelSerializer[ImportProblem]):
    kind = serializers.SerializerMethodField()

    class Meta:
        model = ImportProblem
        fields = ["row", "column", "code", "message", "kind"]
        read_only_fields = fields
        extra_kwargs = {
            "row": {"help_text": "The row as a spreadsheet numbers it (the header is row 1)."},
            "column": {"help_text": "The column's header; empty when about the whole row."},
        }

    def get_kind(self, problem: ImportProblem) -> str:
        return "note" if problem.code in NOTE_CODES else "error"


# The API's status names: the fixed interface says `succeeded` where the model (and the web
# pages) say `done`; every other status reads the same.
API_STATUS = {Status.DONE.value: "succeeded"}
API_STATUS_CHOICES = [(API_STATUS.get(value, value), label) for value, label in Status.choices]
ERRORS_SHOWN = 100
COUNTED = (
    "{} by the import; after a dry run (and until the import itself finishes), the number "
    "the dry run found."
)


def api_status(value: str) -> str:
    """The API's name for a model status (`done` -> `succeeded`)."""
    return API_STATUS.get(value, value)


class StatusField(serializers.ChoiceField):
    """The job's status under its API name (the schema's ImportStatusEnum)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=API_STATUS_CHOICES, **kwargs)

    def to_representation(self, value: Any) -> str:
        return api_status(str(value))


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    status = StatusField(
        read_only=True,
        help_text="queued, running, succeeded, failed or cancelled; before it is started an "
        "import is mapping, preview_queued, previewing or previewed, and cancelling while a "
        "cancel takes effect.",
    )
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    rows_done = serializers.SerializerMethodField()
    mapping = MappingField(read_only=True)
    headers = serializers.ListField(child=serializers.CharField(), read_only=True)
    counts = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "status",
            "status_label",
            "entity",
            "mode",
            "match_on",
            "locale",
            "file_name",
            "file_size",
            "file_format",
            "headers",
            "mapping",
            "previewed",
            "rows_total",
            "rows_done",
            "created",
            "updated",
            "skipped",
            "errors",
            "counts",
            "progress",
            "message",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "links",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "previewed": {"help_text": "A dry run has checked the file with these options."},
            "message": {"help_text": "Why the import failed or stopped, if it did."},
            "rows_total": {
                "help_text": "Data rows in the file (the header not counted); estimated from "
                "the file's size until a run or dry run has read it through."
            },
            "created": {"help_text": COUNTED.format("Records created")},
            "updated": {"help_text": COUNTED.format("Records changed")},
            "skipped": {"help_text": COUNTED.format("Rows that matched nothing in update mode")},
        }

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # Added here, not declared: a declared `errors` would hide Serializer.errors from type
        # checkers. The model's `errors` count stays under `counts`.
        fields["errors"] = serializers.SerializerMethodField(
            method_name="first_problems",
            help_text=f"The import's problems in row order, the first {ERRORS_SHOWN} of them "
            "(each with row, column, code, message and kind: error or note); the `problems` "
            "link has them all.",
        )
        return fields

    def _live(self, job: ImportJob) -> dict[str, Any]:
        # One cache read per job for both `rows_done` and `progress`.
        known: dict[int, dict[str, Any]] = self.__dict__.setdefault("_progress_of", {})
        if job.pk not in known:
            known[job.pk] = services.progress(job)
        return known[job.pk]

    @extend_schema_field(
        serializers.IntegerField(
            help_text="Rows done so far (as `progress.done`): the live count while the "
            "import or its dry run runs, all of them once it has finished."
        )
    )
    def get_rows_done(self, job: ImportJob) -> int:
        return int(self._live(job)["done"])

    @extend_schema_field(ProblemSerializer(many=True))
    def first_problems(self, job: ImportJob) -> list[dict[str, Any]]:
        found = getattr(job, "problems_shown", None)  # prefetched by the list
        if found is None:
            found = selectors.problem_list(job=job)[:ERRORS_SHOWN]
        return list(ProblemSerializer(found[:ERRORS_SHOWN], many=True).data)

    @extend_schema_field(CountsSerializer)
    def get_counts(self, job: ImportJob) -> dict[str, int]:
        return {name: getattr(job, name) for name, _ in COUNTS}

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job: ImportJob) -> dict[str, Any]:
        live = self._live(job)
        return {name: live[name] for name in PROGRESS}

    @extend_schema_field(LinksSerializer)
    def get_links(self, job: ImportJob) -> dict[str, Any]:
        request = self.context["request"]

        def url(name: str) -> str:
            return request.build_absolute_uri(reverse(name, args=[job.pk]))

        return {
            "self": url("import-detail"),
            "problems": url("import-problems"),
            "error_file": url("import-error-file") if job.error_file else None,
        }


ImportableFieldsSerializer = inline_serializer(
    "ImportableFields",
    {
        "entity": serializers.ChoiceField(choices=Entity.choices),
        "match_on": serializers.ListField(
            child=serializers.CharField(), help_text="What rows can be matched on."
        ),
        "needs_one_of": serializers.ListField(
            child=serializers.CharField(), help_text="A new record needs at least one of these."
        ),
        "fields": inline_serializer(
            "ImportableField",
            {
                "name": serializers.CharField(help_text="What a mapping names."),
                "label": serializers.CharField(),
                "kind": serializers.ChoiceField(
                    choices=["column", "custom", "tags", "link", "key"],
                    help_text="custom: a custom field; tags: names separated by commas or "
                    "semicolons; link: another record, by name, domain or email; key: an id "
                    "to match records on.",
                ),
            },
            many=True,
        ),
    },
)
