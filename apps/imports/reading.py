"""Bytes to rows: CSV (any common encoding and delimiter), XLSX and JSON, streamed so a
million-row file never sits in memory. Problems with the file as a whole raise `FileProblem`
with a message that names what is wrong; problems with one row are left to the importer."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import json
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
MAX_COLUMNS = 250


def max_file_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_FILE_BYTES", 200 * 1024 * 1024))


def max_cell_chars() -> int:
    return int(getattr(settings, "IMPORT_MAX_CELL_CHARS", 10_000))


class FileProblem(Exception):
    """The file cannot be read at all; `code` is stable, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NumberCell(str):
    """A number cell of an XLSX or JSON file: its text has a decimal point whatever the
    import's locale, so widgets read it as it is instead of in the locale's way (in German,
    "1.234" written by a person is 1234; a 1.234 stored in a spreadsheet is not)."""


def _human_size(size: float) -> str:
    if size < 1024:
        return f"{int(size):,} bytes"
    if size >= 1_048_576:
        return f"{size / 1_048_576:.1f} MB".replace(".0 MB", " MB")
    return f"{size / 1024:.1f} KB".replace(".0 KB", " KB")


@dataclass
class Table:
    path: Path
    format: str  # csv, xlsx, json
    headers: list[str]
    encoding: str = ""
    delimiter: str = ""
    notes: list[str] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number as a spreadsheet shows it, cells) for every data row; the header is
        row 1. Cells are strings; a row may have more or fewer cells than there are headers."""
        if self.format == "csv":
            yield from _csv_rows(self.path, self.encoding, self.delimiter)
        elif self.format == "xlsx":
            yield from _xlsx_rows(self.path, len(self.headers))
        else:
            yield from _json_rows(self.path, self.headers)


# --- detection -----------------------------------------------------------------------------


def _detect_format(path: Path, name: str, head: bytes) -> str:
    lower = name.lower()
    if head.startswith(b"PK\x03\x04"):
        if lower.endswith((".xlsx", ".xlsm")) or _is_xlsx(path):
            return "xlsx"
        raise FileProblem(
            "unsupported_format", "This is a ZIP archive, not a CSV, XLSX or JSON file."
        )
    if lower.endswith(".xls") and head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            "unsupported_format",
            "Old Excel files (.xls) cannot be read; save the sheet as .xlsx or CSV and upload "
            "that.",
        )
    if lower.endswith(".json") or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        return "json"
    return "csv"


def _is_xlsx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without a byte-order mark), UTF-16 (mark or tell-tale zero bytes), and
    otherwise Windows-1252/Latin-1, the encodings spreadsheets and old CRMs write.

    The whole file is decoded once, so a bad byte or binary data deep in the file is found
    here (FileProblem) rather than half-way through an import: a file with a byte-order mark
    must be valid in the encoding it names, and no text may hold a NUL character (PostgreSQL
    cannot store one, and text files never have one)."""
    with path.open("rb") as handle:
        head = handle.read(4)
    marked = ""
    if head.startswith(codecs.BOM_UTF8):
        guess, plain, marked = "utf-8-sig", "utf-8", "UTF-8"
    elif head.startswith(codecs.BOM_UTF16_LE):
        guess, plain, marked = "utf-16", "utf-16-le", "UTF-16"
    elif head.startswith(codecs.BOM_UTF16_BE):
        guess, plain, marked = "utf-16", "utf-16-be", "UTF-16"
    elif len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0] != 0:
        guess = plain = "utf-16-le"
    elif len(head) >= 4 and head[0] == 0 and head[2] == 0 and head[1] != 0:
        guess = plain = "utf-16-be"
    else:
        guess = plain = "utf-8"
    # Latin-1 decodes any byte, so the last candidate always answers.
    for encoding in (guess,) if marked else (guess, "cp1252", "latin-1"):
        bad_line, nul_line = _scan(path, encoding, plain if encoding == guess else encoding)
        if nul_line is not None:
            raise FileProblem(
                "not_text",
                "This does not look like a CSV file: it contains binary data (a NUL character "
                f"on line {nul_line:,}).",
            )
        if bad_line is None:
            return encoding
    raise FileProblem(
        "bad_encoding",
        f"The file starts with a {marked} byte-order mark but line {bad_line} is not valid "
        f"{marked}; save it again as UTF-8 and upload that.",
    )


def _scan(path: Path, encoding: str, plain: str) -> tuple[int | None, int | None]:
    """The line of the first bytes `encoding` cannot decode and the line of the first NUL
    character before them (each None if there is none). `plain` is `encoding` without
    byte-order mark handling, to count the lines before a bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(1024 * 1024)
            try:
                text = decoder.decode(chunk, final=not chunk)
                bad = None
            except UnicodeDecodeError as exc:
                # The failing call's own input (a byte-order mark already taken off).
                text = exc.object[: max(exc.start, 0)].decode(plain, errors="replace")
                bad = line + text.count("\n")
            if "\x00" in text:
                return bad, line + text[: text.index("\x00")].count("\n")
            if bad is not None or not chunk:
                return bad, None
            line += text.count("\n")


def _detect_delimiter(first_line: str) -> str:
    counts = {d: _count_outside_quotes(first_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _clean_headers(raw: list[str]) -> list[str]:
    headers = [str(h or "").strip().lstrip("\ufeff").strip() for h in raw]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise FileProblem("no_header", "The first row is empty; it must name the columns.")
    if len(headers) > MAX_COLUMNS:
        raise FileProblem(
            "too_many_columns", f"The file has {len(headers)} columns; the limit is {MAX_COLUMNS}."
        )
    seen: dict[str, int] = {}
    for position, header in enumerate(headers, start=1):
        if not header:
            headers[position - 1] = header = f"(column {position})"
        key = header.casefold()
        if key in seen:
            raise FileProblem(
                "duplicate_header",
                f"The column name {header!r} appears twice (columns {seen[key]} and {position}); "
                "rename one of them and upload the file again.",
            )
        seen[key] = position
        if len(header) > 255:
            raise FileProblem(
                "header_too_long", f"The name of column {position} is over 255 characters."
            )
    return headers


def open_table(path: Path, *, name: str) -> Table:
    """Look at the file and its first row; raise FileProblem if it cannot be imported."""
    size = path.stat().st_size
    if size > max_file_bytes():
        raise FileProblem(
            "file_too_large",
            f"The file is {_human_size(size)}; the limit is {_human_size(max_file_bytes())}. "
            "Split it into smaller files.",
        )
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if not head.strip(b" \t\r\n\xef\xbb\xbf\xff\xfe\x00"):
        raise FileProblem("empty_file", "The file is empty.")
    kind = _detect_format(path, name, head)
    if kind == "xlsx":
        table = Table(path, "xlsx", _clean_headers(_xlsx_header(path)))
    elif kind == "json":
        table = Table(path, "json", _clean_headers(_json_header(path)))
    else:
        encoding = detect_encoding(path)
        with path.open(encoding=encoding, newline="") as text:
            first_line = text.readline()
        delimiter = _detect_delimiter(first_line)
        try:
            header = next(_csv_reader(path, encoding, delimiter), None)
        except csv.Error as exc:
            raise _unreadable("unreadable_header", 1, exc) from None
        table = Table(path, "csv", _clean_headers(header or []), encoding, delimiter)
    if next(table.rows(), None) is None:
        raise FileProblem("no_rows", "The file has a header row but no data rows.")
    return table


# --- rows ------------------------------------------------------------------------------


def _csv_reader(path: Path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    with path.open(encoding=encoding, newline="", errors="strict") as text:
        yield from csv.reader(text, delimiter=delimiter, strict=False)


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = _csv_reader(path, encoding, delimiter)
    number = 1
    try:
        next(reader, None)
        for number, cells in enumerate(reader, start=2):
            if cells:
                yield number, cells
    except csv.Error as exc:
        raise _unreadable("unreadable_row", number + 1, exc) from None


def _unreadable(code: str, row: int, exc: csv.Error) -> FileProblem:
    if "field larger than field limit" in str(exc):
        return FileProblem(
            code,
            f"Row {row} has a cell of more than {csv.field_size_limit():,} characters; a quote "
            '(") that is never closed usually causes this.',
        )
    return FileProblem(code, f"Row {row} cannot be read: {exc}.")


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "nan": no number, and the widgets say so
    if isinstance(value, float) and value.is_integer():
        return NumberCell(int(value))
    if isinstance(value, int | float | decimal.Decimal):
        return NumberCell(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _xlsx_sheet(path: Path) -> Any:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        return workbook, workbook.worksheets[0]
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise FileProblem("unreadable_xlsx", f"The Excel file cannot be opened ({exc}).") from None


def _xlsx_header(path: Path) -> list[str]:
    workbook, sheet = _xlsx_sheet(path)
    try:
        first = next(sheet.iter_rows(max_row=1, values_only=True), ())
        return [_cell_text(v) for v in first]
    except Exception as exc:  # the sheet is parsed as it is read: damage shows up here
        raise FileProblem("unreadable_xlsx", f"The Excel file cannot be read ({exc}).") from None
    finally:
        workbook.close()


def _xlsx_rows(path: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    workbook, sheet = _xlsx_sheet(path)
    number = 1
    try:
        for number, values in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
            cells = [_cell_text(v) for v in values]
            # A sheet is a grid: empty cells at the end of a row are empty, not missing (a row
            # whose last columns are blank is not ragged), and empty cells past the header's
            # last column are nothing at all.
            while len(cells) > width and cells[-1] == "":
                cells.pop()
            if any(cells):
                yield number, cells + [""] * (width - len(cells))
    except Exception as exc:  # the sheet is parsed as it is read: damage shows up here
        raise FileProblem(
            "unreadable_xlsx", f"The Excel file cannot be read after row {number} ({exc})."
        ) from None
    finally:
        workbook.close()


def _json_records(path: Path) -> list[Any]:
    try:
        with path.open("rb") as handle:
            data = json.loads(handle.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FileProblem("invalid_json", f"The JSON cannot be read: {exc}.") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise FileProblem("invalid_json", "The JSON must be a list of objects, one per record.")
    return data


def _json_header(path: Path) -> list[str]:
    headers: dict[str, None] = {}
    for item in _json_records(path):
        headers.update(dict.fromkeys(str(k) for k in item))
    return list(headers)


def _json_rows(path: Path, headers: list[str]) -> Iterator[tuple[int, list[str]]]:
    for number, item in enumerate(_json_records(path), start=2):
        cells = [
            ", ".join(_cell_text(v) for v in value)
            if isinstance(value, list)
            else _cell_text(value)
            for value in (item.get(h) for h in headers)
        ]
        # JSON escapes can spell what PostgreSQL cannot store: a NUL, half a surrogate pair.
        for cell in cells:
            if "\x00" in cell:
                raise FileProblem(
                    "not_text", f"Record {number - 1} holds a NUL character (binary data)."
                )
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                raise FileProblem(
                    "invalid_json",
                    f"Record {number - 1} holds text that is not valid Unicode (half of a "
                    "surrogate pair, such as \\ud800).",
                ) from None
        yield number, cells


def estimate_rows(table: Table) -> int:
    """Data rows in the file, for the progress bar before the first pass: lines for CSV (a
    cell with a line break counts twice), the sheet's dimension for XLSX, items for JSON."""
    if table.format == "json":
        return len(_json_records(table.path))
    if table.format == "xlsx":
        workbook, sheet = _xlsx_sheet(table.path)
        try:
            return max((sheet.max_row or 1) - 1, 0)
        finally:
            workbook.close()
    encoding = table.encoding.replace("-sig", "")
    if encoding == "utf-16":  # with a byte-order mark: its first two bytes say which order
        with table.path.open("rb") as handle:
            encoding = "utf-16-be" if handle.read(2) == codecs.BOM_UTF16_BE else "utf-16-le"
    newline = "\n".encode(encoding)
    lines = 0
    last = b""
    with table.path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            lines += chunk.count(newline)
            last = chunk
    if last and not last.endswith(newline):
        lines += 1
    return max(lines - 1, 0)
