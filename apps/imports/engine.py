"""The importer: read every row, clean each mapped cell with its widget, match rows to
existing records, then write in bulk.

What callers may rely on:

- A dry run writes nothing and reports exactly what a real run would do (created, updated,
  unchanged, duplicates, skipped, and every error with its row, column and message).
- A real run writes inside ONE transaction: every accepted row, or (on any failure, a cancel,
  or a worker dying) nothing at all. Rows with errors are left out and handed to `rejected`.
- Updates write only records whose values differ, so importing the same file twice in update
  mode changes nothing the second time (no `updated_at` bump, no new tags or links).
- New records go in with PostgreSQL COPY (ids drawn from the table's sequence first), links
  and tags with set-based INSERT ... SELECT unnest(...), updates with one UPDATE ... FROM
  jsonb_to_recordset per chunk: django-import-export's widgets do the cleaning, never its
  row-by-row save.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db import connections as db_connections
from django.db.models.functions import Lower
from django.utils import timezone

from apps.records import registry, search
from apps.records.models import Tag
from apps.records.services import default_owner
from apps.reports.cache import reports_changed
from tenants.db import connection

from . import fields as f
from .reading import Table, max_cell_chars
from .widgets import DOMAIN, CellError, shorten

CHUNK = 5000
MAX_PROBLEMS = 2000
SEARCH_PART = 2000
# Distinct cells remembered per column (cleaned value or error): most columns of an export
# repeat a few values (owners, options, dates, cities, tags), and a column whose cells are
# all different (emails) stops filling its cache here, so memory stays bounded.
CACHE_CELLS = 4096
# Values whose search words are already in the dictionary set; emptied when it gets this big.
REMEMBERED_VALUES = 100_000
_MISSING = object()
# Marks the end of the file in the reader thread's hand-over queue.
_END = object()
# A contact's first company link is its primary one.
FIRST_COMPANY = "NOT EXISTS (SELECT 1 FROM contacts_contactcompany x WHERE x.contact_id = c)"


class MappingProblem(ValueError):
    """The mapping or the mode cannot work with this file; nothing was read."""


class Cancelled(Exception):
    """The user cancelled; the transaction rolls back."""


@dataclass
class Problem:
    row: int
    column: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message}


@dataclass
class Summary:
    dry_run: bool
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: int = 0
    errors: int = 0
    new_tags: int = 0
    new_companies: int = 0
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows_total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "errors": self.errors,
            "new_tags": self.new_tags,
            "new_companies": self.new_companies,
        }


@dataclass
class Row:
    number: int
    cells: list[str]
    values: dict[str, Any]  # field name -> cleaned value (absent when the cell was empty)
    target: int | None = None  # the matched record's id


def check_mapping(
    spec: f.Spec, headers: list[str], mapping: dict[str, str], mode: str, match_on: str
) -> list[tuple[int, str, f.ImportField]]:
    """(column index, header, field) for every mapped column, or MappingProblem."""
    columns: list[tuple[int, str, f.ImportField]] = []
    used: dict[str, str] = {}
    known = {h: i for i, h in enumerate(headers)}
    for header, name in mapping.items():
        if not name:
            continue
        if header not in known:
            raise MappingProblem(f"The file has no column named {header!r}.")
        target = spec.get(name)
        if target is None:
            raise MappingProblem(f"{header!r} is mapped to {name!r}, which is not a field here.")
        if name in used:
            raise MappingProblem(
                f"Both {used[name]!r} and {header!r} are mapped to {target.label}; map only one."
            )
        used[name] = header
        columns.append((known[header], header, target))
    if not columns:
        raise MappingProblem("Map at least one column to a field.")
    if match_on not in ("none", *spec.match):
        choices = ", ".join(spec.match)
        raise MappingProblem(
            f"{spec.entity.title()}s can be matched on {choices}, not {match_on!r}."
        )
    if mode != "create" and match_on == "none":
        raise MappingProblem("Updating needs a column to match records on (match_on).")
    if match_on != "none" and spec.match[match_on] not in used:
        needed = spec.get(spec.match[match_on])
        label = needed.label if needed else spec.match[match_on]
        raise MappingProblem(f"Matching on {match_on} needs a column mapped to {label}.")
    columns.sort()
    return columns


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _same(old: Any, new: Any) -> bool:
    if old == new:
        return True
    if old is None or new is None:
        return False
    return str(old) == str(new)


def _no_queries(*args: Any) -> Any:
    raise RuntimeError("Import cells are cleaned without the database (reader thread).")


def _chunks(
    rows: Iterator[tuple[int, list[str]]], size: int
) -> Iterator[list[tuple[int, list[str]]]]:
    while batch := list(islice(rows, size)):
        yield batch


class Importer:
    def __init__(
        self,
        *,
        spec: f.Spec,
        table: Table,
        mapping: dict[str, str],
        mode: str,
        match_on: str,
        actor: Any,
        dry_run: bool,
        progress: Callable[[int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        rejected: Callable[[list[str], str], None] | None = None,
        chunk: int = CHUNK,
        reason: str = "Import",
    ) -> None:
        self.spec = spec
        self.reason = reason[:100]
        # Owners given records by this import (not the importing person): one summary
        # notification each at the end, as a bulk handover sends.
        self.assigned: dict[int, int] = {}
        self.table = table
        self.mode = mode
        self.match_on = match_on
        self.actor = actor
        self.dry_run = dry_run
        self.progress = progress
        self.cancelled = cancelled
        self.rejected = rejected
        self.chunk = chunk
        self.columns = check_mapping(spec, table.headers, mapping, mode, match_on)
        self.width = len(table.headers)
        self.model = spec.model
        self.db_table = self.model._meta.db_table
        self.match_field = spec.match.get(match_on, "")
        self.summary = Summary(dry_run=dry_run)
        self.seen: dict[Any, int] = {}
        self.words: set[str] = set()
        self.now = timezone.now()
        self.owner_id = default_owner(actor).pk
        self.actor_id = getattr(getattr(actor, "user", actor), "pk", None)
        self.tags = {name.casefold(): pk for pk, name in Tag.objects.values_list("pk", "name")}
        self.planned_tags: set[str] = set()
        self.planned_companies: set[str] = set()
        self.defaults = self._defaults()
        self.custom_defaults, self.custom_required = self._custom_rules()
        self.mapped = {item.name for _, _, item in self.columns}
        # Widgets clean the same text the same way (they read nothing but the cell), so each
        # column keeps its distinct cells' results: a dict lookup instead of a clean().
        self.cleaners: list[tuple[int, str, str, Callable[[str], Any], dict[str, Any]]] = [
            (index, header, item.name, item.widget.clean, {})
            for index, header, item in self.columns
        ]
        self.remembered: set[str] = set()
        self.custom_names = [(n, n[3:]) for _, _, n, _, _ in self.cleaners if n.startswith("cf_")]
        self.search_fields = [item for item in spec.fields if item.search]
        self.writer = _WRITERS.get(spec.entity, EntityWriter)(self)

    # --- set-up ----------------------------------------------------------------------

    def _defaults(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for column in self.model._meta.concrete_fields:
            if column.primary_key:
                continue
            name = str(column.column)
            if getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False):
                values[name] = self.now
            elif isinstance(column, models.JSONField):
                values[name] = json.dumps(column.get_default())
            else:
                values[name] = column.get_default()
        return values

    def _custom_rules(self) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        defaults: dict[str, Any] = {}
        required: list[tuple[str, str]] = []
        for item in self.spec.fields:
            if item.kind != f.CUSTOM:
                continue
            definition = item.widget.field
            if definition.default not in (None, ""):
                with contextlib.suppress(CellError):  # a stale default is simply not applied
                    defaults[definition.key] = item.widget.clean(str(definition.default))
            if definition.required:
                required.append((definition.key, definition.label))
        return defaults, required

    # --- the run ---------------------------------------------------------------------

    def run(self) -> Summary:
        if self.dry_run:
            self._run()
        else:
            with transaction.atomic():
                # One import per organisation and record type at a time, so two imports never
                # race to create the same matched record.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))",
                        [f"import:{connection.schema_name}:{self.spec.entity}"],
                    )
                self._run()
                # COPY and bulk statements send no signals: cached reports go stale here.
                reports_changed()
                self.writer.finish()
        return self.summary

    def _run(self) -> None:
        done = 0
        with contextlib.closing(self._parsed_ahead()) as parsed:
            for count, rows, events in parsed:
                if self.cancelled and self.cancelled():
                    raise Cancelled
                self._replay(events)
                self._plan(rows)
                done += count
                self.summary.rows_total = done
                if self.progress:
                    self.progress(done)
        if self.cancelled and self.cancelled():
            raise Cancelled
        self.summary.new_tags = len(self.planned_tags)
        self.summary.new_companies = len(self.planned_companies)

    def _parse_batch(self, batch: list[tuple[int, list[str]]]) -> tuple[int, list[Row], list[Any]]:
        events: list[Any] = []
        rows = [row for row in (self._parse(n, cells, events) for n, cells in batch) if row]
        return len(batch), rows, events

    def _parsed_ahead(self) -> Generator[tuple[int, list[Row], list[Any]], None, None]:
        """The file's chunks, read and cleaned in a thread one or two chunks ahead of the
        writing: while this thread waits for PostgreSQL (the GIL is free then), the next
        chunk is being parsed. Cleaning touches no database and no shared state; what it
        reports (problems, rejected rows) comes back as events, replayed here in row order."""
        ready: queue.Queue[Any] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def hand_over(item: Any) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def read() -> None:
            try:
                # This thread's own connection would be in the public schema: refuse loudly.
                with db_connections[DEFAULT_DB_ALIAS].execute_wrapper(_no_queries):
                    for batch in _chunks(self.table.rows(), self.chunk):
                        if not hand_over(self._parse_batch(batch)):
                            return
                hand_over(_END)
            except BaseException as exc:  # handed to the writing thread, raised there
                hand_over(exc)

        reader = threading.Thread(target=read, name="import-reader", daemon=True)
        reader.start()
        try:
            while (item := ready.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            reader.join()

    def _replay(self, events: list[Any]) -> None:
        for name, args, kwargs in events:
            if name == "rejected":
                if self.rejected:
                    self.rejected(*args)
            else:
                getattr(self, name)(*args, **kwargs)

    def problem(
        self, row: Row | int, column: str, code: str, message: str, *, error: bool = True
    ) -> None:
        number = row.number if isinstance(row, Row) else row
        if len(self.summary.problems) < MAX_PROBLEMS:
            self.summary.problems.append(Problem(number, column, code, message))
        if error:
            self.summary.errors += 1

    def reject(
        self, row: Row | tuple[int, list[str]], column: str, code: str, message: str
    ) -> None:
        number, cells = (row.number, row.cells) if isinstance(row, Row) else row
        self.problem(number, column, code, message)
        if self.rejected:
            self.rejected(cells, f"{column}: {message}" if column else message)

    def _parse(self, number: int, cells: list[str], events: list[Any]) -> Row | None:
        """The row's cleaned values, or None; problems go to `events` (this runs in the
        reader thread)."""
        if len(cells) != self.width and not (
            len(cells) > self.width and not any(c.strip() for c in cells[self.width :])
        ):
            message = (
                f"This row has {len(cells)} cells but the header names {self.width} columns; "
                "check for an unquoted delimiter or line break in a cell."
            )
            events.append(("reject", ((number, cells), "", "ragged_row", message), {}))
            return None
        values: dict[str, Any] = {}
        limit = max_cell_chars()
        failures: list[tuple[str, str, str]] = []
        for index, header, name, clean, cache in self.cleaners:
            cell = cells[index]
            if not cell:
                continue
            if len(cell) > limit:
                failures.append(
                    (
                        header,
                        "cell_too_long",
                        f"This cell has {len(cell):,} characters; the limit is {limit:,}.",
                    )
                )
                continue
            value = cache.get(cell, _MISSING)
            if value is _MISSING:
                try:
                    value = clean(cell)
                except CellError as exc:
                    value = exc
                if len(cache) < CACHE_CELLS:
                    cache[cell] = value
            if isinstance(value, CellError):
                failures.append((header, value.code, str(value)))
                continue
            if isinstance(value, list):  # rows never share a list (tags, multi-selects)
                value = list(value)
            if value is not None and value != "" and value != []:
                values[name] = value
        if failures:
            # Every problem of the row is listed; the error file gets them in one cell.
            for header, code, message in failures[:-1]:
                events.append(("problem", (number, header, code, message), {"error": False}))
            header, code, message = failures[-1]
            events.append(("problem", (number, header, code, message), {}))
            summary = "; ".join(f"{h}: {m}" for h, _, m in failures)
            events.append(("rejected", (cells, summary), {}))
            return None
        return Row(number, cells, values)

    def _plan(self, rows: list[Row]) -> None:
        creates: list[Row] = []
        updates: list[Row] = []
        # Each row's key once, by position: `row in keyed` compared dataclasses field by field,
        # quadratic in the chunk (90 of the 112 s a 100,000-row import took).
        match = self.match_field
        keys = [self._key(r.values[match]) if match and match in r.values else None for r in rows]
        found = self.writer.lookup([key for key in keys if key is not None])
        header = self._header_of(self.match_field)
        for row, key in zip(rows, keys, strict=True):
            if key is not None:
                first = self.seen.get(key)
                if first is not None:
                    self.summary.duplicates += 1
                    self.problem(
                        row,
                        header,
                        "duplicate_in_file",
                        f"The same {self.match_on.replace('_', ' ')} as row {first}; skipped.",
                        error=False,
                    )
                    continue
                self.seen[key] = row.number
                row.target = found.get(key)
            if row.target is not None:
                if self.mode == "create":
                    self.summary.duplicates += 1
                    self.problem(
                        row,
                        header,
                        "already_exists",
                        f"A {self.spec.entity} with this {self.match_on.replace('_', ' ')} "
                        f"already exists (id {row.target}); skipped.",
                        error=False,
                    )
                    continue
                updates.append(row)
                continue
            if self.match_on == "id" and key is not None:
                self.reject(
                    row, header, "unknown_id", f"There is no {self.spec.entity} with id {key}."
                )
                continue
            if self.mode == "update":
                self.summary.skipped += 1
                self.problem(
                    row,
                    header,
                    "no_match",
                    f"No {self.spec.entity} matches this row; skipped (update mode).",
                    error=False,
                )
                continue
            if not any(name in row.values for name in self.spec.needs_one_of):
                self.reject(row, "", "missing_value", self.spec.needs_message)
                continue
            custom = dict(self.custom_defaults)
            custom.update(self._custom(row))
            missing = [label for key_, label in self.custom_required if key_ not in custom]
            if missing:
                self.reject(row, "", "missing_value", f"{missing[0]} is required.")
                continue
            creates.append(row)
        kept = self.writer.prepare(creates + updates)
        creates = [row for row in kept if row.target is None]
        updates = [row for row in kept if row.target is not None]
        self.summary.created += len(creates)
        if self.dry_run:
            self.planned_tags.update(
                n.casefold()
                for r in creates
                for n in r.values.get("tags", [])
                if n.casefold() not in self.tags
            )
        changed = self.writer.update(updates)
        self.summary.updated += changed
        self.summary.unchanged += len(updates) - changed
        if not self.dry_run:
            self.writer.create(creates)

    def _key(self, value: Any) -> Any:
        if self.match_on == "id":
            return int(value)
        return str(value).casefold() if self.match_on in ("email", "domain") else str(value)

    def _header_of(self, name: str) -> str:
        return next((h for _, h, item in self.columns if item.name == name), "")

    def _custom(self, row: Row) -> dict[str, Any]:
        values = row.values
        return {key: values[name] for name, key in self.custom_names if name in values}

    def tag_ids(self, names: list[str]) -> list[int]:
        ids = []
        for name in names:
            pk = self.tags.get(name.casefold())
            if pk is None:
                self.planned_tags.add(name.casefold())
                if self.dry_run:
                    continue
                tag, _ = Tag.objects.get_or_create(name__iexact=name, defaults={"name": name})
                pk = self.tags[name.casefold()] = tag.pk
            ids.append(pk)
        return ids

    def remember(self, *parts: Any) -> None:
        # A value's words are the same every time it comes back (a first name, a city, a job
        # title): only values not seen yet are split into words.
        fresh = [part for part in parts if part and str(part) not in self.remembered]
        if not fresh:
            return
        if len(self.remembered) > REMEMBERED_VALUES:
            self.remembered.clear()
        self.remembered.update(str(part) for part in fresh)
        self.words.update(w for w in search.WORD.findall(search.document(*fresh)) if len(w) >= 3)


def write_history(
    model: type[models.Model], ids: list[int], kind: str, *, reason: str, user_id: int | None
) -> None:
    """One history row per record written, as a save through the services would leave: the
    timeline shows who created or changed it, and what changed. Set-based, in SQL."""
    history = getattr(model, "history", None)
    if not ids or history is None:
        return
    own = {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"}
    columns = [c.column for c in history.model._meta.concrete_fields if c.column not in own]
    names = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{history.model._meta.db_table}" ({names}, history_date, '
            "history_change_reason, history_type, history_user_id) "
            f'SELECT {names}, now(), %s, %s, %s FROM "{model._meta.db_table}" WHERE id = ANY(%s)',
            [reason, kind, user_id, ids],
        )


class EntityWriter:
    """Writes one record type. Subclasses add the links a record type has."""

    def __init__(self, importer: Importer) -> None:
        self.imp = importer
        self.model = importer.model
        self.table = importer.db_table
        self.fields = {item.name: item for item in importer.spec.fields}
        self.column_fields = [
            item
            for _, _, item in importer.columns
            if item.kind in (f.COLUMN, f.KEY) and item.name != "id"
        ]
        self.dictionary_fields = [item for item in importer.spec.fields if item.dictionary]
        self.contacts: dict[str, int] = {}
        self.tags_through = self.model._meta.get_field("tags").remote_field.through  # type: ignore[union-attr]
        self.tags_fk = self.tags_through._meta.get_field(self.model._meta.model_name).column

    # Overridden per record type ---------------------------------------------------------

    def lookup(self, keys: list[Any]) -> dict[Any, int]:
        """Matched key -> record id, among the records the importing person may see."""
        if not keys:
            return {}
        name = self.imp.match_field
        column = "pk" if name == "id" else self.fields[name].column
        records = self._visible()
        if self.imp.match_on in ("email", "domain"):
            records = records.annotate(_key=Lower(column)).filter(_key__in=keys)
            pairs = records.values_list("_key", "pk")
        else:
            pairs = records.filter(**{f"{column}__in": keys}).values_list(column, "pk")
        found: dict[Any, int] = {}
        for key, pk in pairs.order_by("pk"):
            found.setdefault(self.imp._key(key), pk)
        return found

    def _visible(self) -> Any:
        selector = registry.get(self.imp.spec.entity).selector
        user = getattr(self.imp.actor, "user", self.imp.actor)
        return (
            selector(user) if selector and user is not None else self.model._default_manager.all()
        )

    # Columns a writer derives from other fields (compared and written on update too).
    derived: tuple[str, ...] = ()

    def prepare(self, rows: list[Row]) -> list[Row]:
        """Resolve links (rows without a target are new); rows whose links fail are
        rejected and left out."""
        return rows

    def _contact_known(self, row: Row) -> bool:
        """A row linking a contact by email must name one that exists (else rejected)."""
        email = row.values.get("contact")
        if not email or email in self.contacts:
            return True
        self.imp.reject(
            row,
            self.imp._header_of("contact"),
            "unknown_contact",
            f"No contact has the email {shorten(email)}.",
        )
        return False

    def search_parts(self, values: dict[str, Any], row: Row | None) -> list[Any]:
        return [
            str(values.get(item.column) or "")[:SEARCH_PART]
            for item in self.imp.search_fields
            if item.kind == f.COLUMN
        ]

    def after_create(self, rows: list[Row], ids: list[int]) -> None:
        pass

    def after_update(self, rows: list[Row]) -> set[int]:
        """Links added to matched records; returns the records that gained one."""
        return set()

    def finish(self) -> None:
        from apps.accounts.models import User
        from apps.notifications.services import notify

        meta = self.model._meta
        for user in User.objects.filter(pk__in=list(self.imp.assigned), is_active=True):
            count = self.imp.assigned[user.pk]
            noun = meta.verbose_name if count == 1 else meta.verbose_name_plural
            notify(
                recipient=user,
                kind="assignment",
                title=f"An import gave you {count} {noun}",
                body=self.imp.reason,
                actor=self.imp.actor,
            )
        if self.imp.words:
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO records_searchword (word) SELECT unnest(%s::varchar[]) "
                    "ON CONFLICT DO NOTHING",
                    [sorted(self.imp.words)],
                )

    # Shared -------------------------------------------------------------------------------

    def columns_of(self, row: Row) -> dict[str, Any]:
        values = {
            item.column: row.values[item.name]
            for item in self.column_fields
            if item.name in row.values
        }
        return values

    def dictionary(self, values: dict[str, Any]) -> None:
        self.imp.remember(*(values.get(item.column) for item in self.dictionary_fields))

    def create(self, rows: list[Row]) -> None:
        if not rows:
            return
        imp = self.imp
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [self.table, len(rows)],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
            names = ["id", *imp.defaults]
            quoted = ", ".join(f'"{n}"' for n in names)
            statement = f'COPY "{self.table}" ({quoted}) FROM STDIN'
            with cursor.cursor.copy(statement) as copy:
                for pk, row in zip(ids, rows, strict=True):
                    values = dict(imp.defaults)
                    values.update(self.columns_of(row))
                    values.update(self.extra_columns(row))
                    if values.get("owner_id") is None and "owner_id" in values:
                        values["owner_id"] = imp.owner_id
                    custom = dict(imp.custom_defaults)
                    custom.update(imp._custom(row))
                    values["custom_fields"] = json.dumps(
                        {k: _jsonable(v) for k, v in custom.items()}
                    )
                    values["search_text"] = search.document(*self.search_parts(values, row))
                    self.dictionary(values)
                    copy.write_row([pk] + [values[n] for n in names[1:]])
                    if "owner_id" in values:
                        self._assigned(values["owner_id"])
        self._history(ids, "+")
        self._tags(rows, ids)
        self.after_create(rows, ids)

    def _assigned(self, owner_id: int) -> None:
        if owner_id != self.imp.actor_id:
            self.imp.assigned[owner_id] = self.imp.assigned.get(owner_id, 0) + 1

    def _history(self, ids: list[int], kind: str) -> None:
        write_history(self.model, ids, kind, reason=self.imp.reason, user_id=self.imp.actor_id)

    def extra_columns(self, row: Row) -> dict[str, Any]:
        return {}

    def _tags(self, rows: list[Row], ids: list[int]) -> int:
        left: list[int] = []
        right: list[int] = []
        for pk, row in zip(ids, rows, strict=True):
            for tag in self.imp.tag_ids(row.values.get("tags", [])):
                left.append(pk)
                right.append(tag)
        if not left or self.imp.dry_run:
            return len(set(left))
        table = self.tags_through._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f'INSERT INTO "{table}" ("{self.tags_fk}", tag_id) '
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) "
                "ON CONFLICT DO NOTHING RETURNING " + f'"{self.tags_fk}"',
                [left, right],
            )
            return len({pk for (pk,) in cursor.fetchall()})

    def _new_tags(self, rows: list[Row]) -> tuple[list[int], list[int]]:
        """(record id, tag id) pairs the matched records do not have yet."""
        wanted = [(row.target, name) for row in rows for name in row.values.get("tags", [])]
        if not wanted:
            return [], []
        existing = set(
            self.tags_through.objects.filter(
                **{f"{self.model._meta.model_name}_id__in": {r.target for r in rows}}
            ).values_list(f"{self.model._meta.model_name}_id", "tag_id")
        )
        left, right = [], []
        for target, name in wanted:
            pk = self.imp.tags.get(name.casefold())
            if pk is None or (target, pk) not in existing:
                left.append(target)
                right.append(pk if pk is not None else 0)
        return left, right  # type: ignore[return-value]

    def update(self, rows: list[Row]) -> int:
        """Write the matched rows whose values differ; returns how many records changed."""
        if not rows:
            return 0
        imp = self.imp
        columns = sorted(
            {item.column for item in self.column_fields}
            | {item.column for item in imp.search_fields if item.kind == f.COLUMN}
            | set(self.derived)
        )
        current = {
            values["id"]: values
            for values in self.model._base_manager.filter(pk__in=[r.target for r in rows]).values(
                "id", "custom_fields", "search_text", *columns
            )
        }
        changed_rows: list[dict[str, Any]] = []
        touched: set[int] = set()
        for row in rows:
            old = current[row.target]
            new = self.columns_of(row)
            differs = {c: v for c, v in new.items() if not _same(old.get(c), v)}
            custom = dict(old["custom_fields"] or {})
            custom.update({k: _jsonable(v) for k, v in imp._custom(row).items()})
            if differs or custom != (old["custom_fields"] or {}):
                merged = {**old, **new}
                merged["custom_fields"] = custom
                merged["search_text"] = search.document(*self.search_parts(merged, row))
                if differs:
                    self.dictionary(merged)
                changed_rows.append(merged)
                touched.add(row.target)  # type: ignore[arg-type]
        left, _ = self._new_tags(rows)
        touched.update(left)
        touched.update(self.after_update(rows))
        if imp.dry_run:
            for name in {n.casefold() for r in rows for n in r.values.get("tags", [])}:
                if name not in imp.tags:
                    imp.planned_tags.add(name)
            return len(touched)
        if changed_rows:
            self._write_updates(changed_rows, columns)
            self._history([r["id"] for r in changed_rows], "~")
            for r in changed_rows:
                if "owner_id" in r and not _same(current[r["id"]].get("owner_id"), r["owner_id"]):
                    self._assigned(int(r["owner_id"]))
        if left:
            ids = [r.target for r in rows if r.values.get("tags")]
            by_target = {r.target: r for r in rows}
            pairs_left, pairs_right = [], []
            for target in dict.fromkeys(ids):
                for tag in imp.tag_ids(by_target[target].values["tags"]):
                    pairs_left.append(target)
                    pairs_right.append(tag)
            table = self.tags_through._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute(
                    f'INSERT INTO "{table}" ("{self.tags_fk}", tag_id) '
                    "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
                    [pairs_left, pairs_right],
                )
        return len(touched)

    def _write_updates(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        types = {c.column: c.db_type(connection) for c in self.model._meta.concrete_fields}
        names = [c for c in columns if c != "id"]
        record = ", ".join(
            f'"{c}" {types[c]}' for c in ["id", *names, "custom_fields", "search_text"]
        )
        assignments = ", ".join(
            f'"{c}" = s."{c}"' for c in [*names, "custom_fields", "search_text"]
        )
        payload = json.dumps(
            [
                {c: _jsonable(r[c]) for c in ["id", *names, "custom_fields", "search_text"]}
                for r in rows
            ]
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{self.table}" AS t SET {assignments}, "updated_at" = now() '
                f"FROM jsonb_to_recordset(%s::jsonb) AS s({record}) WHERE t.id = s.id",
                [payload],
            )


class ContactWriter(EntityWriter):
    def lookup(self, keys: list[Any]) -> dict[Any, int]:
        if self.imp.match_on != "email" or not keys:
            return super().lookup(keys)
        from apps.contacts.models import ContactEmail

        # Array parameters instead of IN lists of a chunk's worth of placeholders (slow in the
        # driver), and two index lookups instead of one join: joined, the planner scanned every
        # contact of the organisation for each chunk, which grows with the import itself.
        by_email = ['"contacts_contactemail"."email" = ANY(%s)']
        pairs = list(
            ContactEmail.objects.extra(where=by_email, params=[keys])  # noqa: S610 - constant SQL
            .order_by("contact_id")
            .values_list("email", "contact_id")
        )
        if not pairs:
            return {}
        ids = sorted({pk for _, pk in pairs})
        visible = set(
            self._visible()
            .extra(where=['"contacts_contact"."id" = ANY(%s)'], params=[ids])
            .values_list("pk", flat=True)
        )
        found: dict[Any, int] = {}
        for email, pk in pairs:
            if pk in visible:
                found.setdefault(email, pk)
        return found

    def prepare(self, rows: list[Row]) -> list[Row]:
        self.companies = resolve_companies(self.imp, rows, "company")
        return rows

    def search_parts(self, values: dict[str, Any], row: Row | None) -> list[Any]:
        company = row.values.get("company", "") if row else ""
        return [
            values.get("first_name"),
            values.get("last_name"),
            values.get("email"),
            values.get("phone"),
            values.get("title"),
            company,
            values.get("city"),
        ]

    def after_create(self, rows: list[Row], ids: list[int]) -> None:
        self._secondary(rows, ids, new=True)

    def after_update(self, rows: list[Row]) -> set[int]:
        from apps.contacts.models import ContactCompany

        touched: set[int] = set()
        wanted = {
            r.target: self.companies.get(r.values["company"].casefold())
            for r in rows
            if r.values.get("company")
        }
        if wanted:
            linked = set(
                ContactCompany.objects.filter(contact_id__in=list(wanted)).values_list(
                    "contact_id", "company_id"
                )
            )
            touched |= {
                c
                for c, company in wanted.items()
                if c is not None and (company is None or (c, company) not in linked)
            }
        if not self.imp.dry_run and rows:
            self._secondary(rows, [r.target for r in rows])  # type: ignore[misc]
        return touched

    def _secondary(self, rows: list[Row], ids: list[int], *, new: bool = False) -> None:
        emails: tuple[list[int], list[str]] = ([], [])
        phones: tuple[list[int], list[str]] = ([], [])
        links: tuple[list[int], list[int]] = ([], [])
        for pk, row in zip(ids, rows, strict=True):
            if "email" in row.values:
                emails[0].append(pk)
                emails[1].append(row.values["email"])
            if "phone" in row.values:
                phones[0].append(pk)
                phones[1].append(row.values["phone"])
            company = self.companies.get(str(row.values.get("company", "")).casefold())
            if company:
                links[0].append(pk)
                links[1].append(company)
        with connection.cursor() as cursor:
            for table, column, pairs in (
                ("contacts_contactemail", "email", emails),
                ("contacts_contactphone", "number", phones),
            ):
                if not pairs[0]:
                    continue
                # A contact's new primary address goes first; its other addresses are kept
                # (a contact created by this chunk has none yet).
                if not new:
                    cursor.execute(
                        f"UPDATE {table} SET is_primary = false WHERE is_primary AND contact_id "
                        f"= ANY(%s) AND ({column}, contact_id) NOT IN (SELECT * FROM "
                        "unnest(%s::varchar[], %s::bigint[]))",
                        [pairs[0], pairs[1], pairs[0]],
                    )
                cursor.execute(
                    f"INSERT INTO {table} (contact_id, {column}, label, is_primary) "
                    "SELECT c, v, '', true FROM unnest(%s::bigint[], %s::varchar[]) AS u(c, v) "
                    f"ON CONFLICT (contact_id, {column}) DO UPDATE SET is_primary = true "
                    f"WHERE NOT {table}.is_primary",
                    [pairs[0], pairs[1]],
                )
            if links[0]:
                # A contact created by this chunk has no company yet: its link is its primary.
                primary = "true" if new else FIRST_COMPANY
                cursor.execute(
                    "INSERT INTO contacts_contactcompany "
                    "(contact_id, company_id, role, is_primary, created_at) "
                    f"SELECT c, k, '', {primary}, now() "
                    "FROM unnest(%s::bigint[], "
                    "%s::bigint[]) AS u(c, k) ON CONFLICT (contact_id, company_id) DO NOTHING",
                    [links[0], links[1]],
                )


def contacts_by_email(rows: list[Row]) -> dict[str, int]:
    """Contact cell (an email) -> the first contact made with that email (the dict keeps
    the last pair of the descending order)."""
    from apps.contacts.models import ContactEmail

    emails = {r.values["contact"] for r in rows if r.values.get("contact")}
    if not emails:
        return {}
    return dict(
        ContactEmail.objects.filter(email__in=emails)
        .order_by("-contact_id")
        .values_list("email", "contact_id")
    )


def resolve_companies(imp: Importer, rows: list[Row], name: str) -> dict[str, int]:
    """Company cell (a domain or a name) -> company id; companies not found are created
    (in a dry run, counted)."""
    from apps.companies.models import Company

    wanted = {str(r.values[name]).strip() for r in rows if r.values.get(name)}
    if not wanted:
        return {}
    domains = {w.casefold() for w in wanted if DOMAIN.match(w.casefold())}
    names = {w.casefold() for w in wanted} - domains
    found: dict[str, int] = {}
    if domains:
        for domain, pk in (
            Company.objects.filter(domain__in=domains).order_by("pk").values_list("domain", "pk")
        ):
            found.setdefault(domain.casefold(), pk)
    if names:
        for lname, pk in (
            Company.objects.annotate(l=Lower("name"))
            .filter(l__in=names)
            .order_by("pk")
            .values_list("l", "pk")
        ):
            found.setdefault(lname, pk)
    missing = [w for w in wanted if w.casefold() not in found]
    # A new company belongs to the owner of the first row that names it.
    owners: dict[str, int] = {}
    for row in rows:
        if row.values.get(name):
            owners.setdefault(
                str(row.values[name]).strip(), row.values.get("owner") or imp.owner_id
            )
    if missing:
        imp.planned_companies.update(m.casefold() for m in missing)
        if not imp.dry_run:
            new = []
            for value in missing:
                is_domain = value.casefold() in domains
                label = value.casefold().split(".")[0].title() if is_domain else value
                new.append(
                    Company(
                        name=label[:200],
                        domain=value.casefold() if is_domain else "",
                        owner_id=owners.get(value, imp.owner_id),
                        search_text=search.document(label, value if is_domain else ""),
                    )
                )
            created = Company.objects.bulk_create(new)
            for company, value in zip(created, missing, strict=True):
                found[value.casefold()] = company.pk
                imp.remember(company.name)
            write_history(
                Company, [c.pk for c in created], "+", reason=imp.reason, user_id=imp.actor_id
            )
    return found


class CompanyWriter(EntityWriter):
    pass


class LeadWriter(EntityWriter):
    pass


class DealWriter(EntityWriter):
    derived = ("pipeline_id", "stage_id", "status")

    def __init__(self, importer: Importer) -> None:
        super().__init__(importer)
        from apps.deals.models import Pipeline, Stage

        self.pipelines = {p.name.casefold(): p for p in Pipeline.objects.filter(archived=False)}
        default = next((p for p in self.pipelines.values() if p.is_default), None)
        self.default_pipeline = default or next(iter(self.pipelines.values()), None)
        self.stages: dict[int, list[Stage]] = {}
        for stage in Stage.objects.order_by("pipeline_id", "order", "id"):
            self.stages.setdefault(stage.pipeline_id, []).append(stage)

    def prepare(self, rows: list[Row]) -> list[Row]:

        kept: list[Row] = []
        self.contacts = contacts_by_email(rows)
        self.companies = resolve_companies(self.imp, rows, "company")
        for row in rows:
            if not self._contact_known(row):
                continue
            if row.target is None or "pipeline" in row.values or "stage" in row.values:
                pipeline = (
                    self.pipelines.get(row.values["pipeline"].casefold())
                    if "pipeline" in row.values
                    else self.default_pipeline
                )
                if pipeline is None:
                    self.imp.reject(
                        row, "", "no_pipeline", "There is no pipeline to put the deal in."
                    )
                    continue
                stages = self.stages.get(pipeline.pk, [])
                wanted = str(row.values.get("stage", "")).casefold()
                stage = (
                    next((s for s in stages if s.name.casefold() == wanted), None)
                    if wanted
                    else (stages[0] if stages else None)
                )
                if stage is None:
                    names = ", ".join(s.name for s in stages)
                    self.imp.reject(
                        row,
                        self.imp._header_of("stage"),
                        "unknown_option",
                        f"{shorten(row.values.get('stage', ''))} is not a stage of "
                        f"{pipeline.name} ({names}).",
                    )
                    continue
                row.values["_pipeline"] = pipeline.pk
                row.values["_stage"] = stage
            kept.append(row)
        return kept

    def columns_of(self, row: Row) -> dict[str, Any]:
        values = super().columns_of(row)
        if "_stage" in row.values:
            stage = row.values["_stage"]
            values["pipeline_id"] = row.values["_pipeline"]
            values["stage_id"] = stage.pk
            values["status"] = stage.kind
        return values

    def extra_columns(self, row: Row) -> dict[str, Any]:
        stage = row.values.get("_stage")
        now = self.imp.now
        return {
            "stage_entered_at": now,
            "won_at": now if stage is not None and stage.kind == "won" else None,
            "lost_at": now if stage is not None and stage.kind == "lost" else None,
        }

    def search_parts(self, values: dict[str, Any], row: Row | None) -> list[Any]:
        company = row.values.get("company", "") if row else ""
        return [values.get("title"), company]

    def after_create(self, rows: list[Row], ids: list[int]) -> None:
        self._links(rows, ids)
        # Every deal's stage history starts with its creation, as deal_create records it
        # (the funnel and time-in-stage reports read it).
        stages = [row.values["_stage"].pk for row in rows]
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO deals_dealstagechange (deal_id, to_stage_id, changed_at, "
                "changed_by_id) SELECT d, s, %s, %s FROM unnest(%s::bigint[], %s::bigint[]) "
                "AS u(d, s)",
                [self.imp.now, self.imp.actor_id, ids, stages],
            )

    def _write_updates(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        """A matched deal that changes stage moves as deal_move_stage moves it: a stage
        change row with the time spent in the old stage, and its entry, won or lost date."""
        ids = [r["id"] for r in rows]
        before = {
            pk: (stage, entered)
            for pk, stage, entered in self.model._base_manager.filter(pk__in=ids).values_list(
                "pk", "stage_id", "stage_entered_at"
            )
        }
        super()._write_updates(rows, columns)
        moved = [r for r in rows if "stage_id" in r and int(r["stage_id"]) != before[r["id"]][0]]
        if not moved:
            return
        now = self.imp.now
        seconds = [
            int((now - entered).total_seconds()) if entered else None
            for _, entered in (before[r["id"]] for r in moved)
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO deals_dealstagechange (deal_id, from_stage_id, to_stage_id, "
                "changed_at, changed_by_id, seconds_in_previous) SELECT d, f, t, %s, %s, n "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
                "AS u(d, f, t, n)",
                [
                    now,
                    self.imp.actor_id,
                    [r["id"] for r in moved],
                    [before[r["id"]][0] for r in moved],
                    [int(r["stage_id"]) for r in moved],
                    [max(0, n) if n is not None else None for n in seconds],
                ],
            )
            cursor.execute(
                'UPDATE "deals_deal" SET stage_entered_at = %s, '
                "won_at = CASE WHEN status = 'won' THEN %s END, "
                "lost_at = CASE WHEN status = 'lost' THEN %s END, "
                "lost_reason_id = CASE WHEN status = 'lost' THEN lost_reason_id END "
                "WHERE id = ANY(%s)",
                [now, now, now, [r["id"] for r in moved]],
            )

    def after_update(self, rows: list[Row]) -> set[int]:
        from apps.deals.models import Deal

        touched: set[int] = set()
        contacts = set(
            Deal.contacts.through.objects.filter(deal_id__in=[r.target for r in rows]).values_list(
                "deal_id", "contact_id"
            )
        )
        companies = set(
            Deal.companies.through.objects.filter(deal_id__in=[r.target for r in rows]).values_list(
                "deal_id", "company_id"
            )
        )
        for row in rows:
            contact = self.contacts.get(row.values.get("contact", ""))
            company = self.companies.get(str(row.values.get("company", "")).casefold())
            if (contact and (row.target, contact) not in contacts) or (
                row.values.get("company")
                and (company is None or (row.target, company) not in companies)
            ):
                touched.add(row.target)  # type: ignore[arg-type]
        if not self.imp.dry_run:
            self._links(rows, [r.target for r in rows])  # type: ignore[misc]
        return touched

    def _links(self, rows: list[Row], ids: list[int]) -> None:
        contacts: tuple[list[int], list[int]] = ([], [])
        companies: tuple[list[int], list[int]] = ([], [])
        for pk, row in zip(ids, rows, strict=True):
            if row.values.get("contact"):
                contacts[0].append(pk)
                contacts[1].append(self.contacts[row.values["contact"]])
            company = self.companies.get(str(row.values.get("company", "")).casefold())
            if company:
                companies[0].append(pk)
                companies[1].append(company)
        with connection.cursor() as cursor:
            for table, column, pairs in (
                ("deals_deal_contacts", "contact_id", contacts),
                ("deals_deal_companies", "company_id", companies),
            ):
                if pairs[0]:
                    cursor.execute(
                        f"INSERT INTO {table} (deal_id, {column}) SELECT * FROM "
                        "unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
                        [pairs[0], pairs[1]],
                    )


class ActivityWriter(EntityWriter):
    derived = ("scheduled_at",)

    def prepare(self, rows: list[Row]) -> list[Row]:

        self.contacts = contacts_by_email(rows)
        return [row for row in rows if self._contact_known(row)]

    def columns_of(self, row: Row) -> dict[str, Any]:
        values = super().columns_of(row)
        if "due_at" in row.values:
            values["scheduled_at"] = row.values["due_at"]
        return values

    def extra_columns(self, row: Row) -> dict[str, Any]:
        user = getattr(self.imp.actor, "user", self.imp.actor)
        values: dict[str, Any] = {"created_by_id": getattr(user, "pk", None)}
        if "due_at" not in row.values:
            values["scheduled_at"] = self.imp.now
        if row.values.get("done") is True:
            values["done_at"] = row.values.get("due_at") or self.imp.now
        return values

    def search_parts(self, values: dict[str, Any], row: Row | None) -> list[Any]:
        return [
            values.get("subject"),
            values.get("location"),
            str(values.get("body") or "")[:SEARCH_PART],
        ]

    def _write_updates(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        super()._write_updates(rows, columns)
        # Done since: when it was due (or now); not done any more: no done date. Both leave a
        # record that is already right alone, so a second import changes nothing.
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{self.table}" SET done_at = CASE WHEN done THEN COALESCE(due_at, now()) '
                "END WHERE id = ANY(%s) AND (done = (done_at IS NULL))",
                [[r["id"] for r in rows]],
            )

    def after_update(self, rows: list[Row]) -> set[int]:
        from apps.activities.models import Activity

        wanted = {
            (r.target, self.contacts[r.values["contact"]]) for r in rows if r.values.get("contact")
        }
        if not wanted:
            return set()
        linked = set(
            Activity.contacts.through.objects.filter(
                activity_id__in={a for a, _ in wanted}
            ).values_list("activity_id", "contact_id")
        )
        missing = wanted - linked
        if missing and not self.imp.dry_run:
            self._link_contacts([a for a, _ in missing if a is not None], [c for _, c in missing])
        return {a for a, _ in missing if a is not None}

    def after_create(self, rows: list[Row], ids: list[int]) -> None:
        left, right = [], []
        for pk, row in zip(ids, rows, strict=True):
            if row.values.get("contact"):
                left.append(pk)
                right.append(self.contacts[row.values["contact"]])
        self._link_contacts(left, right)

    def _link_contacts(self, left: list[int], right: list[int]) -> None:
        if left:
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO activities_activity_contacts (activity_id, contact_id) "
                    "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
                    [left, right],
                )


_WRITERS: dict[str, type[EntityWriter]] = {
    "contact": ContactWriter,
    "company": CompanyWriter,
    "deal": DealWriter,
    "lead": LeadWriter,
    "activity": ActivityWriter,
}
