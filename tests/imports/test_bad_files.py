"""Files as people really send them: every common encoding and delimiter is read right, and
everything that cannot be imported gets an error that names the problem (its stable code
and the sentence the person reads), for the whole file or for the one row and column, while
the other rows still go in."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.imports import engine
from apps.imports.reading import FileProblem, open_table
from apps.records.services import customfield_create

from .conftest import run_file, write

NAMES = "First name,Last name,Job title\nJürgen,Müller,Größter Fan\nZoë,Saldaña,Café owner\n"
NAMES_STORED = [("Jürgen", "Müller", "Größter Fan"), ("Zoë", "Saldaña", "Café owner")]


def create(path: Path, actor: User, **options: Any) -> engine.Summary:
    """Every row is new (no matching), as a first import from another system."""
    return run_file(path, actor=actor, mode="create", match_on="none", **options)


def stored() -> list[tuple[str, str, str]]:
    return sorted(Contact.objects.values_list("first_name", "last_name", "title"))


def problems(summary: engine.Summary) -> list[tuple[int, str, str, str]]:
    return [(p.row, p.column, p.code, p.message) for p in summary.problems]


def file_problem(path: Path) -> FileProblem:
    with pytest.raises(FileProblem) as caught:
        open_table(path, name=path.name)
    return caught.value


@pytest.fixture
def fields(owner_a: User) -> None:
    """Custom fields of contacts the tests below fill in: a date, a number, a select."""
    customfield_create(actor=owner_a, entity="contact", label="Birthday", type="date")
    customfield_create(actor=owner_a, entity="contact", label="Score", type="number")
    customfield_create(
        actor=owner_a, entity="contact", label="Tier", type="select", options=["Gold", "Silver"]
    )


def custom(first_name: str) -> dict[str, Any]:
    return Contact.objects.get(first_name=first_name).custom_fields


# --- encodings and delimiters ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbf" + NAMES.encode(), "utf-8-sig"),
        (NAMES.encode(), "utf-8"),
        (NAMES.encode("utf-16"), "utf-16"),  # with its byte-order mark, as Excel writes it
        (NAMES.encode("utf-16-le"), "utf-16-le"),  # no mark: found by its zero bytes
        (NAMES.encode("utf-16-be"), "utf-16-be"),
        (NAMES.encode("latin-1"), "cp1252"),  # Latin-1 text is Windows-1252 text
    ],
    ids=["utf8-bom", "utf8", "utf16-bom", "utf16le-no-bom", "utf16be-no-bom", "latin1"],
)
def test_each_encoding_is_read_and_names_are_stored_right(
    tmp_path: Path, owner_a: User, data: bytes, encoding: str
) -> None:
    path = write(tmp_path, data)
    assert open_table(path, name=path.name).encoding == encoding
    summary = create(path, owner_a)
    assert (summary.created, summary.errors) == (2, 0)
    assert stored() == NAMES_STORED
    # The byte-order mark is not part of the first column's name: it was mapped.
    assert Contact.objects.filter(first_name="Jürgen").exists()


def test_windows_1252_euro_sign_and_accents(tmp_path: Path, owner_a: User) -> None:
    text = "First name,Last name,Job title\nRenée,Gößling,Head of € sales\n"
    path = write(tmp_path, text, encoding="cp1252")
    assert path.read_bytes().count(b"\x80") == 1  # the euro sign is Windows-1252's 0x80
    assert open_table(path, name=path.name).encoding == "cp1252"
    assert create(path, owner_a).created == 1
    assert stored() == [("Renée", "Gößling", "Head of € sales")]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
def test_semicolon_tab_and_pipe_delimiters(tmp_path: Path, owner_a: User, delimiter: str) -> None:
    rows = [
        ["First name", "Last name", "Email", "Company"],
        ["Ada", "Lovelace", "ada@example.com", "Engines, Ltd"],  # a comma inside a cell
        ["Alan", "Turing", "alan@example.com", "Bletchley Park"],
    ]
    path = write(tmp_path, "\n".join(delimiter.join(row) for row in rows) + "\n")
    table = open_table(path, name=path.name)
    assert table.delimiter == delimiter
    assert table.headers == rows[0]
    assert create(path, owner_a).created == 2
    ada = Contact.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    assert ada.companies.get().name == "Engines, Ltd"


# --- ragged rows ------------------------------------------------------------------------


def test_rows_with_too_many_or_too_few_cells_are_rejected_by_row_number(
    tmp_path: Path, owner_a: User
) -> None:
    text = (
        "First name,Last name,Email\n"
        "Ada,Lovelace,ada@example.com\n"
        "Alan,Turing,alan@example.com,extra\n"  # row 3: one cell too many
        "Grace,Hopper\n"  # row 4: one too few
        "Edsger,Dijkstra,edsger@example.com,,\n"  # row 5: empty cells after the last column
        "Barbara,Liskov,barbara@example.com\n"
    )
    rejected: list[tuple[list[str], str]] = []
    summary = create(write(tmp_path, text), owner_a, rejected=rejected)
    assert (summary.created, summary.errors) == (3, 2)
    too_many = (
        "This row has 4 cells but the header names 3 columns; check for an unquoted "
        "delimiter or line break in a cell."
    )
    too_few = too_many.replace("has 4 cells", "has 2 cells")
    assert problems(summary) == [(3, "", "ragged_row", too_many), (4, "", "ragged_row", too_few)]
    assert rejected == [
        (["Alan", "Turing", "alan@example.com", "extra"], too_many),
        (["Grace", "Hopper"], too_few),
    ]
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == [
        "Ada",
        "Barbara",
        "Edsger",
    ]


# --- files that cannot be imported at all -------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n", b"\xef\xbb\xbf", b"  \r\n"],
    ids=["nothing", "blank-lines", "bom", "spaces"],
)
def test_an_empty_file(tmp_path: Path, data: bytes) -> None:
    problem = file_problem(write(tmp_path, data))
    assert (problem.code, problem.message) == ("empty_file", "The file is empty.")


@pytest.mark.parametrize(
    "text", ["First name,Email\n", "First name,Email", "First name,Email\n\n\n"]
)
def test_a_header_without_rows(tmp_path: Path, text: str) -> None:
    problem = file_problem(write(tmp_path, text))
    assert problem.code == "no_rows"
    assert problem.message == "The file has a header row but no data rows."


def test_a_column_name_twice_names_both_columns(tmp_path: Path) -> None:
    problem = file_problem(write(tmp_path, "Email,Name,email\na@example.com,A,b@example.com\n"))
    assert problem.code == "duplicate_header"
    assert problem.message == (
        "The column name 'email' appears twice (columns 1 and 3); rename one of them and "
        "upload the file again."
    )


def test_a_file_over_the_size_limit(tmp_path: Path, settings: Any) -> None:
    settings.IMPORT_MAX_FILE_BYTES = 1024
    path = write(tmp_path, "Email\n" + "someone@example.com\n" * 250)  # 5,006 bytes
    problem = file_problem(path)
    assert problem.code == "file_too_large"
    assert problem.message == (
        "The file is 4.9 KB; the limit is 1 KB. Split it into smaller files."
    )
    settings.IMPORT_MAX_FILE_BYTES = 300 * 1024 * 1024
    assert open_table(path, name=path.name).headers == ["Email"]


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06"
            + bytes(range(256)) * 4,
            "photo.png",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)), "people.csv"),
    ],
    ids=["png", "png-named-csv"],
)
def test_binary_junk_is_not_a_csv(tmp_path: Path, data: bytes, name: str) -> None:
    problem = file_problem(write(tmp_path, data, name))
    assert problem.code == "not_text"
    assert problem.message.startswith("This does not look like a CSV file: it contains binary data")


def test_a_nul_character_deep_in_a_text_file_is_found_before_anything_is_written(
    tmp_path: Path, owner_a: User
) -> None:
    # Past the first 64 KB the importer used to sample: PostgreSQL refused it mid-import.
    text = "First name,Email\n" + "Ada,ada@example.com\n" * 5000 + "Bad\x00,bad@example.com\n"
    problem = file_problem(write(tmp_path, text))
    assert problem.code == "not_text"
    assert problem.message == (
        "This does not look like a CSV file: it contains binary data (a NUL character on "
        "line 5,002)."
    )


def test_utf16_with_a_broken_end_names_the_line(tmp_path: Path) -> None:
    data = "First name,Email\nAda,ada@example.com\n".encode("utf-16") + b"x"  # half a character
    problem = file_problem(write(tmp_path, data))
    assert problem.code == "bad_encoding"
    assert problem.message == (
        "The file starts with a UTF-16 byte-order mark but line 3 is not valid UTF-16; "
        "save it again as UTF-8 and upload that."
    )


def test_utf8_with_a_mark_and_a_stray_byte_names_the_line(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbfFirst name\nAda\nM\xfcller\n"  # a Latin-1 u-umlaut in a UTF-8 file
    problem = file_problem(write(tmp_path, data))
    assert problem.code == "bad_encoding"
    assert "UTF-8 byte-order mark but line 3 is not valid UTF-8" in problem.message


def test_an_unclosed_quote_swallowing_the_file(tmp_path: Path, owner_a: User) -> None:
    closed = "First name,Notes\n" + "Alan,a note\n" * 12_000
    text = closed.replace("Alan,a note", 'Ada,"never closed', 1)
    problem = file_problem(write(tmp_path, text))
    assert problem.code == "unreadable_row"
    assert problem.message == (
        'Row 2 has a cell of more than 131,072 characters; a quote (") that is never closed '
        "usually causes this."
    )
    # Far down the file, it is found during the run (which then writes nothing).
    late = write(tmp_path, closed + 'Ada,"never closed\n' + "Alan,a note\n" * 12_000, "late.csv")
    with pytest.raises(FileProblem) as caught:
        create(late, owner_a)
    assert caught.value.message.startswith("Row 12002 has a cell of more than 131,072")
    assert not Contact.objects.exists()


def test_old_excel_files(tmp_path: Path) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    problem = file_problem(write(tmp_path, ole, "contacts.xls"))
    assert problem.code == "unsupported_format"
    assert problem.message == (
        "Old Excel files (.xls) cannot be read; save the sheet as .xlsx or CSV and upload that."
    )


def test_zip_archives_and_damaged_xlsx(tmp_path: Path) -> None:
    archive = tmp_path / "contacts.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("contacts.csv", "Email\na@example.com\n")
    problem = file_problem(archive)
    assert problem.code == "unsupported_format"
    assert problem.message == "This is a ZIP archive, not a CSV, XLSX or JSON file."

    damaged = write(tmp_path, b"PK\x03\x04" + b"\x00" * 100, "contacts.xlsx")
    problem = file_problem(damaged)
    assert problem.code == "unreadable_xlsx"
    assert problem.message.startswith("The Excel file cannot be opened")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"First name": "Ada"}', "The JSON must be a list of objects, one per record."),
        ('[{"First name": "Ada"}, 3]', "The JSON must be a list of objects, one per record."),
        ('[{"First name": "A\\u0000da"}]', "Record 1 holds a NUL character (binary data)."),
    ],
)
def test_json_that_cannot_be_imported(tmp_path: Path, text: str, message: str) -> None:
    problem = file_problem(write(tmp_path, text, "people.json"))
    assert problem.message == message


def test_json_cut_short(tmp_path: Path) -> None:
    problem = file_problem(write(tmp_path, '[{"First name": "Ada"', "people.json"))
    assert problem.code == "invalid_json"
    assert problem.message.startswith("The JSON cannot be read:")


# --- cells: lengths ---------------------------------------------------------------------


def test_a_cell_over_the_length_limit_and_a_value_over_its_field_limit(
    tmp_path: Path, owner_a: User, settings: Any
) -> None:
    settings.IMPORT_MAX_CELL_CHARS = 500
    text = (
        "First name,Last name,Notes\n"
        f"Ada,Lovelace,{'n' * 501}\n"
        f"{'A' * 101},Turing,short\n"
        "Grace,Hopper,fine\n"
    )
    rejected: list[tuple[list[str], str]] = []
    summary = create(write(tmp_path, text), owner_a, rejected=rejected)
    assert (summary.created, summary.errors) == (1, 2)
    assert problems(summary) == [
        (2, "Notes", "cell_too_long", "This cell has 501 characters; the limit is 500."),
        (3, "First name", "too_long", "First name is 101 characters long; the limit is 100."),
    ]
    assert [message for _, message in rejected] == [
        "Notes: This cell has 501 characters; the limit is 500.",
        "First name: First name is 101 characters long; the limit is 100.",
    ]
    assert stored() == [("Grace", "Hopper", "")]


# --- cells: dates and numbers in the person's locale ------------------------------------


@pytest.mark.parametrize(
    ("locale", "birthday"),
    [("en", "2026-03-04"), ("en-US", "2026-03-04"), ("en-GB", "2026-04-03"), ("de", "2026-04-03")],
)
def test_dates_are_read_the_way_the_locale_writes_them(
    tmp_path: Path, owner_a: User, fields: None, locale: str, birthday: str
) -> None:
    text = "First name,Birthday\nAda,03/04/2026\nAlan,2026-12-31\n"
    summary = create(write(tmp_path, text), owner_a, locale=locale)
    assert (summary.created, summary.errors) == (2, 0)
    assert custom("Ada") == {"birthday": birthday}
    assert custom("Alan") == {"birthday": "2026-12-31"}  # ISO dates read the same everywhere


def test_an_invalid_date_names_the_format_expected(
    tmp_path: Path, owner_a: User, fields: None
) -> None:
    text = "First name,Birthday\nAda,31/12/2026\nAlan,2026-02-30\nGrace,12/31/2026\n"
    summary = create(write(tmp_path, text), owner_a, locale="en")
    assert problems(summary) == [
        (2, "Birthday", "invalid_date",
         "'31/12/2026' is not a date (write it like MM/DD/YYYY or 2026-12-31)."),
        (3, "Birthday", "invalid_date",
         "'2026-02-30' is not a date (write it like MM/DD/YYYY or 2026-12-31)."),
    ]  # fmt: skip
    assert custom("Grace") == {"birthday": "2026-12-31"}

    german = create(write(tmp_path, "First name,Birthday\nHeinz,12/31/2026\n", "de.csv"), owner_a,
                    locale="de")  # fmt: skip
    assert problems(german)[0][3] == (
        "'12/31/2026' is not a date (write it like DD/MM/YYYY or 2026-12-31)."
    )


def test_numbers_are_read_the_way_the_locale_writes_them(
    tmp_path: Path, owner_a: User, fields: None
) -> None:
    german = create(
        write(tmp_path, 'First name,Score\nHeinz,"1.234,5"\nUte,"12,5"\n'), owner_a, locale="de"
    )
    assert german.errors == 0
    assert custom("Heinz") == {"score": 1234.5}
    assert custom("Ute") == {"score": 12.5}

    english = create(
        write(tmp_path, 'First name,Score\nAda,"12,5"\nAlan,"1,234.5"\n', "en.csv"),
        owner_a,
        locale="en",
    )
    assert problems(english) == [
        (2, "Score", "invalid_number", "'12,5' is not a number (write it like 1,234.56).")
    ]
    assert custom("Alan") == {"score": 1234.5}


def test_numbers_too_large_to_store_are_out_of_range(
    tmp_path: Path, owner_a: User, fields: None
) -> None:
    # Before, the first crashed the import (a float's Infinity, refused by the database).
    huge = "1" + "0" * 400 + ".5"
    summary = create(write(tmp_path, f"First name,Score\nAda,{huge}\nAlan,42\n"), owner_a)
    assert problems(summary) == [
        (2, "Score", "out_of_range",
         "Score must be between -1,000,000,000,000,000 and 1,000,000,000,000,000."),
    ]  # fmt: skip
    assert custom("Alan") == {"score": 42}


# --- cells: options, owners -------------------------------------------------------------


def test_unknown_options_name_the_allowed_ones(tmp_path: Path, owner_a: User, fields: None) -> None:
    text = (
        "First name,Tier,Lifecycle stage\n"
        "Ada,Platinum,customer\n"
        "Alan,gold,Whale\n"
        "Grace,silver,Sales qualified\n"
    )
    summary = create(write(tmp_path, text), owner_a)
    assert (summary.created, summary.errors) == (1, 2)
    [(row1, column1, code1, tier), (row2, column2, code2, stage)] = problems(summary)
    assert (row1, column1, code1) == (2, "Tier", "unknown_option")
    assert tier == "'Platinum' is not an option of Tier (Gold, Silver)."
    assert (row2, column2, code2) == (3, "Lifecycle stage", "unknown_option")
    assert stage == (
        "'Whale' is not an option of Lifecycle stage (Subscriber, Lead, Marketing qualified, "
        "Sales qualified, Opportunity, Customer, Evangelist, Other)."
    )
    grace = Contact.objects.get(first_name="Grace")
    assert (grace.custom_fields, grace.lifecycle_stage) == ({"tier": "Silver"}, "sql")


def test_an_unknown_owner_email(tmp_path: Path, owner_a: User) -> None:
    text = "First name,Owner\nAda,nobody@alpha.test\nAlan,OWNER@alpha.test\n"
    rejected: list[tuple[list[str], str]] = []
    summary = create(write(tmp_path, text), owner_a, rejected=rejected)
    message = "No active member of this organisation has the email 'nobody@alpha.test'."
    assert problems(summary) == [(2, "Owner", "unknown_owner", message)]
    assert rejected == [(["Ada", "nobody@alpha.test"], f"Owner: {message}")]
    assert Contact.objects.get(first_name="Alan").owner == owner_a


def test_rejected_rows_carry_every_problem_of_the_row_naming_each_column(
    tmp_path: Path, owner_a: User
) -> None:
    text = "First name,Email,Lifecycle stage\nAda,not-an-email,Whale\nAlan,alan@example.com,lead\n"
    rejected: list[tuple[list[str], str]] = []
    summary = create(write(tmp_path, text), owner_a, rejected=rejected)
    assert (summary.created, summary.errors) == (1, 1)  # one row, one error, two problems
    [(cells, message)] = rejected
    assert cells == ["Ada", "not-an-email", "Whale"]
    assert message.startswith(
        "Email: 'not-an-email' is not an email address.; Lifecycle stage: 'Whale' is not an "
        "option of Lifecycle stage ("
    )


# --- XLSX and JSON ------------------------------------------------------------------------


def test_xlsx_with_real_date_and_number_cells(tmp_path: Path, owner_a: User, fields: None) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["First name", "Last name", "Email", "Birthday", "Score", "Tags"])
    sheet.append(["Zoë", "Müller", "zoe@example.com", dt.date(2026, 4, 3), 1.234, "vip, xlsx"])
    sheet.append(["Jürgen", "Gößling", "juergen@example.com", "03/04/2026", 1234.5, None])
    sheet.append(["Ada", "Lovelace", "ada@example.com", dt.datetime(2026, 12, 31), "1.234,5"])
    sheet.append(["Bad", "Date", "bad@example.com", "31/31/2026", 7])
    path = tmp_path / "people.xlsx"
    book.save(path)

    summary = create(path, owner_a, locale="de")
    assert (summary.created, summary.errors) == (3, 1)
    assert problems(summary) == [
        (5, "Birthday", "invalid_date",
         "'31/31/2026' is not a date (write it like DD/MM/YYYY or 2026-12-31)."),
    ]  # fmt: skip
    # Date cells are dates and number cells numbers in any locale; text cells are read the
    # German way (day first, decimal comma).
    assert custom("Zoë") == {"birthday": "2026-04-03", "score": 1.234}
    assert custom("Jürgen") == {"birthday": "2026-04-03", "score": 1234.5}
    assert custom("Ada") == {"birthday": "2026-12-31", "score": 1234.5}
    zoe = Contact.objects.get(email="zoe@example.com")
    assert zoe.last_name == "Müller"
    assert sorted(t.name for t in zoe.tags.all()) == ["vip", "xlsx"]


def test_json_records(tmp_path: Path, owner_a: User, fields: None) -> None:
    records = [
        {"First name": "Zoë", "Email": "zoe@example.com", "Tags": ["vip", "json"], "Score": 12.5},
        {"First name": "Jürgen", "Email": "juergen@example.com", "Birthday": "2026-04-03",
         "Tier": "gold"},
        {"First name": "Bad", "Email": "bad@example.com", "Score": "lots"},
    ]  # fmt: skip
    path = write(tmp_path, json.dumps(records, ensure_ascii=False), "people.json")
    table = open_table(path, name=path.name)
    assert table.headers == ["First name", "Email", "Tags", "Score", "Birthday", "Tier"]
    summary = create(path, owner_a, locale="de")
    assert problems(summary) == [
        (4, "Score", "invalid_number", "'lots' is not a number (write it like 1.234,56).")
    ]
    zoe = Contact.objects.get(email="zoe@example.com")
    assert zoe.custom_fields == {"score": 12.5}  # a JSON number, whatever the locale
    assert sorted(t.name for t in zoe.tags.all()) == ["json", "vip"]
    assert custom("Jürgen") == {"birthday": "2026-04-03", "tier": "Gold"}
