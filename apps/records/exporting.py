"""Export of any list as CSV, Excel (XLSX) or JSON: the same selector, filters and ordering
as the list, every row (not one page), streamed or written through a temporary file so that
memory stays flat whatever the size, spreadsheet formulas neutralised, and each export
audit-logged with its format.

Why it is built the way it is (bench/exports.py measures it): the list's queryset is read
as plain tuples through a server-side cursor, in one transaction; linked records come as
arrays of ids in the row and what they show (owner's email, tag and company names) is read
per chunk and cached; CSV text columns are neutralised and quoted by the database, and CSV
records are joined rather than written by the csv module. Model instances with their
prefetch caches, then Django's per-value converters, then the csv module each cost more
than everything else put together."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.db.models import F, Func, OuterRef, Value
from django.http import HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from django_tenants.utils import schema_context
from psycopg.types.datetime import TimestamptzLoader

from apps.audit.services import audit_record
from tenants.db import connection

from . import customfields, registry, xlsx
from .models import CustomField, FieldType
from .services import actor_label, actor_user

# Rows read per round trip. Small enough that a chunk's rows never set off the garbage
# collector (its full passes over the whole process took a fifth of the time with 2,000).
CHUNK = 250
# What a spreadsheet shows as an error value when typed into a cell.
XLSX_ERROR_VALUES = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Format -> content type of the file.
FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": XLSX_TYPE,
    "json": "application/json",
}


class UnknownFormat(ValueError):
    """A format other than those in FORMATS; the message names the ones there are."""

    def __init__(self, raw: str) -> None:
        super().__init__(f"Choose a format among {', '.join(FORMATS)} (not {raw[:20]!r}).")


def export_format(raw: str | None) -> str:
    """The format a request asks for (`csv` when it names none), or UnknownFormat."""
    name = (raw or "").strip().lower() or "csv"
    if name not in FORMATS:
        raise UnknownFormat(raw or "")
    return name


def neutralise(value: Any) -> str:
    """A cell a spreadsheet will never run as a formula (OWASP CSV injection advice)."""
    if value.__class__ is str:  # most cells: the quick way
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


# Columns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str  # "id", a field name, "tags", "cf_<key>": the JSON export's keys
    label: str  # the CSV and XLSX headers
    kind: str  # id, text, number, decimal, date, datetime, boolean, list, ids, custom
    null: bool = True  # whether the value may be missing


def columns(entity: registry.EntitySpec) -> tuple[list[Column], dict[str, CustomField]]:
    """Every column the entity's list can show, in the list's order, and the custom field
    definitions behind the `cf_` columns."""
    model = entity.model
    result = [Column("id", "ID", "id", null=False)]
    for spec in entity.fields:
        if spec.name == "company_id" or spec.filter_only:
            # The contact's companies are in "company" already.
            continue
        result.append(Column(spec.name, spec.label, *_kind(model, spec)))
    result.append(Column("tags", "Tags", "list", null=False))
    definitions = {f.key: f for f in customfields.definitions(entity.key)}
    result += [Column(f"cf_{f.key}", f.label, "custom") for f in definitions.values()]
    return result, definitions


def _kind(model: type[models.Model], spec: registry.FieldSpec) -> tuple[str, bool]:
    try:
        field = model._meta.get_field(spec.name)
    except FieldDoesNotExist:
        if "__" not in spec.path:
            return "text", True
        # Linked records: their ids ("contacts__id") or a text of theirs ("companies__name").
        return ("ids" if spec.path.endswith("__id") else "list"), False
    if isinstance(field, models.DecimalField):
        kind = "decimal"
    elif isinstance(field, models.DateTimeField):
        kind = "datetime"
    elif isinstance(field, models.DateField):
        kind = "date"
    elif isinstance(field, models.BooleanField):
        kind = "boolean"
    elif isinstance(field, models.IntegerField | models.FloatField):
        kind = "number"
    else:
        kind = "text"
    return kind, field.null


# Reading rows ----------------------------------------------------------------------------


# Values read for a chunk are kept for the next ones (the same owners, stages, tags and
# companies recur); past this many the cache starts afresh, so memory stays bounded.
CACHE_LIMIT = 50_000


class _Related:
    """A foreign key shown as text: the owner's email, a stage's or a source's name, read
    for the ids a chunk has not met yet."""

    def __init__(self, field: Any, *, csv_text: bool) -> None:
        self.model: Any = field.related_model
        self.owner = field.name == "owner"
        # For CSV the text is kept as its field, once per person or stage rather than per row.
        self.show: Callable[[Any], Any] = csv_cell if csv_text else (lambda text: text)
        self.values: dict[Any, Any] = {}

    def load(self, ids: set[Any]) -> None:
        if len(self.values) > CACHE_LIMIT:
            self.values.clear()
        missing = ids - self.values.keys()
        if missing:
            found = self.model._base_manager.in_bulk(missing - {None})
            for pk in missing:
                obj = found.get(pk)
                text = None if obj is None else obj.email if self.owner else str(obj)
                self.values[pk] = self.show(text)


class _Linked:
    """A many-to-many column (tag names, company names, linked ids) in the order the detail
    page shows them, merged-away records left out. The row carries the linked ids (an array
    subquery: one index probe per row inside the database); what they show is read here
    per chunk and cached, since joining and sorting names per row cost the database twice
    as much."""

    def __init__(self, model: type[models.Model], m2m: str, target: str, by_name: bool) -> None:
        field: Any = model._meta.get_field(m2m)
        through = field.remote_field.through
        source, dest = field.m2m_field_name(), field.m2m_reverse_field_name()
        ordering = list(through._meta.ordering) or ["pk"]
        self.expression = ArraySubquery(
            through._base_manager.filter(**{source: OuterRef("pk")})
            .order_by(*ordering)
            .values(f"{dest}_id")
        )
        self.model: Any = field.related_model
        self.target = "pk" if target == "id" else target
        self.live = any(f.name == "merged_into" for f in self.model._meta.get_fields())
        self.values: dict[Any, Any] = {}
        # Tags are shown in name order: their rank in the database's own collation, read
        # with the first chunk (all of them: an organisation has hundreds, not millions).
        self.by_name = by_name
        self.rank: dict[Any, int] = {}

    def _read(self, records: Any) -> list[tuple[Any, Any]]:
        if self.live:
            records = records.filter(merged_into__isnull=True)
        return list(records.values_list("pk", self.target))

    def load(self, links: list[list[Any]]) -> None:
        if self.by_name:
            if not self.rank:
                ordered = self._read(self.model._base_manager.order_by(self.target, "pk"))
                self.values.update(ordered)
                self.rank.update((pk, at) for at, (pk, _) in enumerate(ordered))
            return
        if len(self.values) > CACHE_LIMIT:
            self.values.clear()
        missing = {pk for ids in links for pk in ids} - self.values.keys()
        if missing:
            found = dict(self._read(self.model._base_manager.filter(pk__in=missing)))
            for pk in missing:
                self.values[pk] = found.get(pk)  # None: merged away

    def show(self, ids: list[Any]) -> list[Any]:
        if not ids:
            return []
        if self.by_name and len(ids) > 1:
            rank = self.rank
            ids = sorted(ids, key=lambda pk: rank.get(pk, -1))
        values = self.values
        return [value for pk in ids if (value := values.get(pk)) is not None]


class _CsvText(Func):
    """A text column as its CSV field, computed by the database: "" for none, an apostrophe
    before a value that starts like a formula (the rule of `neutralise`), then quoted as
    `csv_field` quotes. Written out rather than composed of Django's functions, whose SQL
    (a COALESCE around every operand) cost the database twice as much."""

    output_field = models.TextField()

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.source_expressions[0])
        if params:  # pragma: no cover - given columns only, which have no parameters
            raise ValueError("_CsvText takes a column.")
        text = f"COALESCE({column}, '')"
        formula = ", ".join(str(ord(c)) for c in FORMULA_STARTS)
        shown = f"CASE WHEN ascii({text}) IN ({formula}) THEN '''' || {text} ELSE {text} END"
        special = " OR ".join(
            f"strpos({text}, {c}) > 0" for c in ("','", "'\"'", r"E'\n'", r"E'\r'")
        )
        quoted = f"""'"' || replace({shown}, '"', '""') || '"'"""
        return f"CASE WHEN {special} THEN {quoted} ELSE {shown} END", ()


class _Rows:
    """The export's rows: typed values in the columns' order (ints, strings, decimals, aware
    datetimes, dates, booleans, lists, custom field values as stored). With `csv_text`,
    text columns (those in `text`) come as their CSV fields."""

    def __init__(
        self, entity: registry.EntitySpec, queryset: Any, *, csv_text: bool = False
    ) -> None:
        self.columns, self.definitions = columns(entity)
        model = entity.model
        # The database row holds the columns up to the custom fields, in order, then the
        # custom_fields object, from which the cf_ columns are taken.
        selected: dict[str, Any] = {}
        self.related: list[tuple[int, _Related]] = []
        self.linked: list[tuple[int, _Linked]] = []
        self.text: list[int] = []  # columns that come as their CSV fields (csv_text)
        for at, column in enumerate(self.columns):
            if column.kind == "custom":
                continue
            alias = f"export_{at}"
            selected[alias] = self._expression(model, entity, column, at, csv_text)
        self.custom_keys = [c.key[3:] for c in self.columns if c.kind == "custom"]
        selected["export_cf"] = F("custom_fields")
        self.width = len(selected)
        # Set when the query selects more than asked: Django adds the ORDER BY expressions
        # of a DISTINCT query (a tag filter sorted by a custom field) after the columns.
        self.extra = False
        # The list's prefetching is for model instances; the rows here are plain tuples.
        self.queryset = queryset.prefetch_related(None).annotate(**selected).values_list(*selected)

    def _expression(
        self,
        model: type[models.Model],
        entity: registry.EntitySpec,
        column: Column,
        at: int,
        csv_text: bool,
    ) -> Any:
        name = column.key
        if name == "id":
            return F("pk")
        if name == "tags":
            return self._linked(at, _Linked(model, "tags", "name", by_name=True))
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            spec = entity.field(name)
            if spec is not None and "__" in spec.path:
                m2m, _, target = spec.path.partition("__")
                return self._linked(at, _Linked(model, m2m, target, by_name=False))
            return Value("", output_field=models.TextField())
        if isinstance(field, models.ForeignKey):
            self.related.append((at, _Related(field, csv_text=csv_text)))
            if csv_text:
                self.text.append(at)
            return F(field.attname)
        if csv_text and isinstance(field, models.CharField | models.TextField):
            self.text.append(at)
            return _CsvText(F(field.name))
        return F(name)

    def _linked(self, at: int, linked: _Linked) -> ArraySubquery:
        self.linked.append((at, linked))
        return linked.expression

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """The database rows, CHUNK at a time, with what they show of other tables read for
        them (turn each into its values with `values`). Read in one transaction: one
        snapshot, so a record saved meanwhile is in the file entirely or not at all."""
        with transaction.atomic():
            with connection.cursor() as cursor:
                # JIT compilation of this plain scan (PostgreSQL's estimate grows with the
                # rows) cost 0.2-0.5 s per export and gained nothing back.
                cursor.execute("SET LOCAL jit = off")
            yield from self._read()

    def _read(self) -> Iterator[list[tuple[Any, ...]]]:
        # The compiled query is read through a server-side cursor of its own: Django's row
        # iterator adds a Python converter per value (timestamps, JSON) that cost as much
        # as everything else here. Timestamps come from psycopg's own loader (aware, in the
        # connection's UTC), the custom_fields object as JSON text.
        sql, params = self.queryset.query.sql_with_params()
        cursor = connection.chunked_cursor()
        try:
            cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
            cursor.execute(sql, params)
            self.extra = len(cursor.description) > self.width
            while batch := cursor.fetchmany(CHUNK):
                for at, lookup in self.related:
                    lookup.load({row[at] for row in batch})
                for at, linked in self.linked:
                    linked.load([row[at] for row in batch])
                yield batch
        finally:
            cursor.close()

    def values(
        self, convert: list[Callable[[Any], Any] | None] | None = None
    ) -> Callable[[tuple[Any, ...]], list[Any]]:
        """row -> the row's values in the columns' order, each passed through its
        `convert[at]` where there is one. Each row is made and dropped in turn (and read
        250 at a time): lists of a whole chunk kept alive set off the garbage collector's
        full passes, a fifth of the export's time."""
        convert = convert or [None] * len(self.columns)
        plain_count = len(self.columns) - len(self.custom_keys)
        special = {at for at, _ in self.related} | {at for at, _ in self.linked}
        related = [(at, lookup.values, convert[at]) for at, lookup in self.related]
        linked = [(at, linked.show, convert[at]) for at, linked in self.linked]
        plain = [
            (at, change)
            for at, change in enumerate(convert[:plain_count])
            if change is not None and at not in special
        ]
        custom = list(zip(self.custom_keys, convert[plain_count:], strict=True))
        keys = self.custom_keys
        every = convert[plain_count] if custom else None
        if any(change is not every for _, change in custom):
            every = None
        loads = json.loads
        width = self.width

        def values(row: tuple[Any, ...]) -> list[Any]:
            result = list(row)
            if self.extra:
                del result[width:]
            for at, known, change in related:
                value = known[result[at]]
                result[at] = change(value) if change else value
            for at, show, change in linked:
                value = show(result[at])
                result[at] = change(value) if change else value
            for at, change in plain:
                result[at] = change(result[at])
            data = result.pop()
            data = loads(data) if data else {}
            if every is not None:
                result += [every(data.get(key)) for key in keys]
            else:
                result += [
                    change(data.get(key)) if change else data.get(key) for key, change in custom
                ]
            return result

        return values


# Formats ---------------------------------------------------------------------------------


def _audit(actor: Any, entity_key: str, query: str, fmt: str) -> None:
    audit_record(
        action=f"{entity_key}.exported",
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        detail={"filters": query[:500], "format": fmt},
    )


def _filename(entity: registry.EntitySpec, fmt: str) -> str:
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return f"{entity.label_plural.lower()}-{stamp}.{fmt}"


def _attach(response: HttpResponseBase, entity: registry.EntitySpec, fmt: str) -> None:
    response["Content-Disposition"] = f'attachment; filename="{_filename(entity, fmt)}"'


def _in_this_schema(produce: Callable[[], Iterator[bytes]]) -> Iterator[bytes]:
    # The rows are read while the response streams, after the request's tenant middleware
    # has switched the connection back to the public schema: read them in this schema.
    schema = connection.schema_name

    def stream() -> Iterator[bytes]:
        with schema_context(schema):
            yield from produce()

    return stream()


def csv_field(text: str) -> str:
    """`text` as a field of a CSV record, quoted exactly where `csv.writer` quotes (a comma,
    a double quote or a line break in it). The export builds its records itself: the csv
    module looked at every character of every field and took a third of the export's time,
    while most fields need no more than these four checks or none at all (ids, dates)."""
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def csv_cell(value: Any) -> str:
    """Any value as its CSV field: neutralised, then quoted where needed."""
    return csv_field(neutralise(value))


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else ""


def _joined_text(value: list[str]) -> str:
    if not value:
        return ""
    text = ", ".join(value)
    return csv_field("'" + text if text.startswith(FORMULA_STARTS) else text)


def _joined_ids(value: list[int]) -> str:
    text = ", ".join(map(str, value))
    return '"' + text + '"' if len(value) > 1 else text


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _csv_converter(column: Column) -> Callable[[Any], str]:
    """How a typed value becomes its CSV field."""
    kind = column.kind
    if kind in ("id", "boolean"):
        return _plain  # whole positive ids, True and False: nothing to neutralise or quote
    if kind == "number":
        return neutralise  # digits, a point or a minus sign: nothing to quote
    if kind == "datetime":
        return _iso if column.null else dt.datetime.isoformat
    if kind == "date":
        return _iso if column.null else dt.date.isoformat
    if kind == "ids":
        return _joined_ids
    if kind == "list":
        return _joined_text
    return csv_cell


def export_csv(*, actor: Any, entity_key: str, queryset: Any, query: str) -> StreamingHttpResponse:
    """The list as CSV (UTF-8 with a BOM, which spreadsheets need to read it as UTF-8)."""
    entity = registry.get(entity_key)
    rows = _Rows(entity, queryset, csv_text=True)
    _audit(actor, entity_key, query, "csv")
    # Every value becomes its CSV field: dates in ISO 8601 (with their UTC offset), a cell
    # that starts like a formula with a leading apostrophe, whatever its column (a negative
    # number included), quotes where csv.writer puts them. Text columns come so from the
    # database.
    values = rows.values(
        [None if at in rows.text else _csv_converter(c) for at, c in enumerate(rows.columns)]
    )

    def produce() -> Iterator[bytes]:
        # Headers are cells too: a custom field's label is anyone's text.
        header = ",".join([csv_field(neutralise(c.label)) for c in rows.columns])
        yield ("\ufeff" + header + "\r\n").encode()
        for chunk in rows.chunks():
            lines = [",".join(values(raw)) for raw in chunk]
            lines.append("")
            yield "\r\n".join(lines).encode()

    response = StreamingHttpResponse(_in_this_schema(produce), content_type=FORMATS["csv"])
    _attach(response, entity, "csv")
    return response


def export_json(*, actor: Any, entity_key: str, queryset: Any, query: str) -> StreamingHttpResponse:
    """The list as one JSON array of objects keyed by the column keys (`cf_<key>` for custom
    fields), with typed values: numbers as numbers, lists as lists, dates in ISO 8601."""
    entity = registry.get(entity_key)
    rows = _Rows(entity, queryset)
    _audit(actor, entity_key, query, "json")
    keys = [c.key for c in rows.columns]

    # No formula neutralisation here: JSON is read by programs, not opened by a spreadsheet,
    # and an apostrophe would corrupt the values they read.
    def value(v: Any) -> Any:
        if v is None:
            return None
        # Money has at most 14 significant digits: a float's shortest form keeps them exact.
        return float(v) if isinstance(v, decimal.Decimal) else v.isoformat()

    values = rows.values(
        [value if c.kind in ("date", "datetime", "decimal") else None for c in rows.columns]
    )
    encode = json.JSONEncoder(ensure_ascii=False).encode

    def produce() -> Iterator[bytes]:
        yield b"["
        separator = "\n"
        for chunk in rows.chunks():
            objects = [encode(dict(zip(keys, values(raw), strict=True))) for raw in chunk]
            yield (separator + ",\n".join(objects)).encode()
            separator = ",\n"
        yield b"\n]\n"

    response = StreamingHttpResponse(_in_this_schema(produce), content_type=FORMATS["json"])
    _attach(response, entity, "json")
    return response


def export_xlsx(*, actor: Any, entity_key: str, queryset: Any, query: str) -> StreamingHttpResponse:
    """The list as an Excel workbook: one sheet, a header row, real numbers, dates and
    datetimes (in UTC, which the headers say: Excel has no time zones), text that can never
    run as a formula. Streamed as it is written (apps/records/xlsx.py): memory stays flat and
    the download starts at once, however long the list."""
    entity = registry.get(entity_key)
    rows = _Rows(entity, queryset)
    _audit(actor, entity_key, query, "xlsx")

    def text(value: str) -> Any:
        if value.startswith(FORMULA_STARTS) or value in XLSX_ERROR_VALUES:
            # Stored as text with Excel's own "quote prefix", so that it stays text even when
            # someone edits the cell; the value itself stays exact, unlike CSV's apostrophe.
            return xlsx.Quoted(value)
        return value

    convert: list[Callable[[Any], Any] | None] = [
        _xlsx_converter(c, rows.definitions, text) for c in rows.columns
    ]
    utc = {c.key for c in rows.columns if _xlsx_kind(c, rows.definitions) == "datetime"}
    header = [f"{c.label} (UTC)" if c.key in utc else c.label for c in rows.columns]
    values = rows.values(convert)

    def produce() -> Iterator[bytes]:
        chunks = ([values(raw) for raw in chunk] for chunk in rows.chunks())
        yield from xlsx.stream_workbook(entity.label_plural, header, chunks)

    response = StreamingHttpResponse(_in_this_schema(produce), content_type=XLSX_TYPE)
    _attach(response, entity, "xlsx")
    return response


def _xlsx_kind(column: Column, definitions: dict[str, CustomField]) -> str:
    if column.kind == "custom" and definitions[column.key[3:]].type == FieldType.DATETIME:
        return "datetime"
    return column.kind


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _xlsx_converter(
    column: Column, definitions: dict[str, CustomField], text: Callable[[str], Any]
) -> Callable[[Any], Any]:
    def joined(value: Any) -> Any:
        return text(", ".join(str(v) for v in value)) if value else None

    def plain(value: Any) -> Any:
        return text(value) if isinstance(value, str) else value

    if column.kind == "datetime":
        return lambda v: _naive_utc(v) if v is not None else None
    if column.kind in ("list", "ids"):
        return joined
    if column.kind != "custom":
        return plain
    kind = definitions[column.key[3:]].type

    def custom(value: Any) -> Any:
        if value is None or value == "":
            return None
        try:
            if kind == FieldType.DATE:
                return dt.date.fromisoformat(value)
            if kind == FieldType.DATETIME:
                return _naive_utc(dt.datetime.fromisoformat(value))
            if kind in (FieldType.DECIMAL, FieldType.CURRENCY):
                return decimal.Decimal(value)
        except (TypeError, ValueError, decimal.InvalidOperation):
            pass  # a value stored before a type change: shown as it is
        if isinstance(value, list):
            return joined(value)
        return plain(value)

    return custom


EXPORTERS: dict[str, Callable[..., HttpResponseBase]] = {
    "csv": export_csv,
    "xlsx": export_xlsx,
    "json": export_json,
}


def export_list(
    *, actor: Any, entity_key: str, queryset: Any, query: str, fmt: str = "csv"
) -> HttpResponseBase:
    """The list `queryset` (already narrowed to what `actor` may see, filtered and ordered)
    as a file download in format `fmt` (one of FORMATS), audit-logged with its filters and
    format."""
    return EXPORTERS[fmt](actor=actor, entity_key=entity_key, queryset=queryset, query=query)
