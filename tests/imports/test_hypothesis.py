"""Malformed files, generated: whatever bytes arrive, the reader and a real (not dry) import
either refuse the file with a FileProblem or MappingProblem (the messages people see) and
write nothing, or write exactly the rows they report as created, with every row of the
file accounted for once (created, updated, unchanged, duplicate, skipped or rejected).

The files mix valid contact rows with random text, random bytes, random quoting (good,
doubled and never closed), random delimiters, encodings and line endings (\\r alone too),
rows with too many or too few cells, NUL characters and cells around and far over the
length limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from apps.accounts.models import User
from apps.companies.models import Company
from apps.contacts.models import Contact, ContactEmail
from apps.imports import engine
from apps.imports import fields as f
from apps.imports.reading import FileProblem, open_table
from apps.records.models import Tag
from apps.records.services import customfield_create

HEADERS = [
    "First name", "Last name", "Email", "Phone", "Company", "Tags", "Notes",
    "Lifecycle stage", "Owner", "City", "Score", "Budget", "Tier",
]  # fmt: skip
CELL_LIMIT = 400
# Hypothesis favours "\x00" in text; a NUL makes the whole file binary, so NULs come from
# their own, rarer cases below.
CHARACTERS = st.characters(exclude_characters="\x00")


def words(max_size: int) -> st.SearchStrategy[str]:
    return st.text(CHARACTERS, max_size=max_size)


VALUES: dict[str, st.SearchStrategy[str]] = {
    "First name": st.sampled_from(["Ada", "Zoë", "Jürgen", "O'Brien", "李小龍", "", "Ærø"]),
    "Last name": st.sampled_from(["Lovelace", "Müller", "Saldaña", "", "d'Arc"]),
    "Email": st.builds("user{}@example.com".format, st.integers(0, 40))
    | st.sampled_from(["ADA@example.com", "not-an-email", ""]),
    "Phone": st.sampled_from(["+44 20 7946 0000", "555-0100", "call me", ""]),
    "Company": st.sampled_from(["Engines Ltd", "engines.example", "Ünïcode GmbH", ""]),
    "Tags": st.sampled_from(["vip", "vip; new", "a, b, c", "x" * 60, ""]),
    "Notes": words(40),
    "Lifecycle stage": st.sampled_from(["lead", "Customer", "whale", ""]),
    "Owner": st.sampled_from(["owner@alpha.test", "nobody@alpha.test", ""]),
    "City": words(15),
    # Past a float's range (the number field) and past a decimal's 28 digits (the decimal).
    "Score": st.sampled_from(["12", "1.234,5", "1,234.5", "12,5", "1" + "0" * 320 + ".5", ""]),
    "Budget": st.sampled_from(["12.50", "1.234,50", "9" * 40, "-0", ""]),
    "Tier": st.sampled_from(["Gold", "silver", "Bronze", ""]),
}
JUNK_CELLS = st.one_of(
    words(30),
    st.text(alphabet='"\r\n,;|\t ab', max_size=12),
    st.sampled_from([CELL_LIMIT - 1, CELL_LIMIT, CELL_LIMIT + 1, 2_000, 2_000, 140_000]).map(
        lambda n: "y" * n
    ),
)
# A first name and an email (so rows can be created and matched) and other known columns,
# in any order; or any names at all, repeated ones too.
NAMED_HEADERS = st.permutations(["First name", "Email"]).flatmap(
    lambda first: st.lists(st.sampled_from(HEADERS[2:]), max_size=6, unique=True).map(
        lambda rest: [*first, *rest]
    )
)
ANY_HEADERS = st.lists(st.sampled_from(HEADERS) | words(12), min_size=1, max_size=6)
# Most choices below put the benign case first: Hypothesis draws it most often, and
# shrinks a failure towards it.
ENCODINGS = ["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"]


def _quote(cell: str, how: str) -> str:
    if how == "doubled":
        return '"' + cell.replace('"', '""') + '"'
    if how == "never closed":
        return '"' + cell
    return cell


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    headers = draw(NAMED_HEADERS | ANY_HEADERS)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", ":"]))
    endings = st.sampled_from(["\n", "\r\n", "\r"])
    # Unclosed quotes swallow the rest of a file: in one file of four.
    quoting = st.sampled_from(
        ["plain", "plain", "doubled"] + (["never closed"] if draw(st.integers(0, 3)) == 3 else [])
    )
    lines = [delimiter.join(headers) + draw(endings)]
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.integers(0, 3)) < 3:  # a row as a person would write it
            cells = [draw(VALUES.get(h, words(10))) for h in headers]
        else:
            cells = draw(st.lists(JUNK_CELLS, max_size=len(headers) + 3))
        lines.append(delimiter.join(_quote(c, draw(quoting)) for c in cells) + draw(endings))
    text = "".join(lines)
    if draw(st.integers(0, 9)) == 9:  # a NUL character somewhere, one file in ten
        at = draw(st.integers(0, len(text)))
        text = text[:at] + "\x00" + text[at:]
    data = bytearray(text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace"))
    # Random bytes dropped in anywhere, in one file of three (most hold no NUL, which would
    # make the whole file binary).
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 3]))):
        junk = draw(st.binary(min_size=1, max_size=8))
        if draw(st.integers(0, 3)) < 3:
            junk = junk.replace(b"\x00", b"")
        at = draw(st.integers(0, len(data)))
        data[at:at] = junk
    return bytes(data)


def _written() -> dict[str, int]:
    return {
        "contacts": Contact.all_objects.count(),
        "emails": ContactEmail.objects.count(),
        "companies": Company.all_objects.count(),
        "tags": Tag.objects.count(),
    }


@pytest.fixture
def fields(owner_a: User) -> None:
    customfield_create(actor=owner_a, entity="contact", label="Score", type="number")
    customfield_create(actor=owner_a, entity="contact", label="Budget", type="decimal")
    customfield_create(
        actor=owner_a, entity="contact", label="Tier", type="select", options=["Gold", "Silver"]
    )


@examples(
    max_examples=60,
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout; a failure prints its example
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the organisation and fields, made once
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(
    data=csv_files(),
    mode=st.sampled_from(["create", "upsert"]),
    locale=st.sampled_from(["en", "de"]),
)
def test_malformed_files_are_refused_whole_or_imported_exactly(
    tmp_path: Path, owner_a: User, fields: None, settings: Any, data: bytes, mode: str, locale: str
) -> None:
    settings.IMPORT_MAX_CELL_CHARS = CELL_LIMIT
    path = tmp_path / "generated.csv"
    path.write_bytes(data)
    # Each example in a savepoint of its own, rolled back: none sees another's records.
    with transaction.atomic():
        before = _written()
        try:
            table = open_table(path, name=path.name)
            spec = f.spec_for("contact", locale=locale)
            summary = engine.Importer(
                spec=spec,
                table=table,
                mapping=f.suggest_mapping(spec, table.headers),
                mode=mode,
                match_on="email" if mode == "upsert" else "none",
                actor=owner_a,
                dry_run=False,
                chunk=3,
            ).run()
        except (FileProblem, engine.MappingProblem) as problem:
            assert str(problem)  # a sentence for the person
            event(f"refused: {getattr(problem, 'code', 'mapping')}")
            assert _written() == before
        else:
            after = _written()
            assert after["contacts"] - before["contacts"] == summary.created
            accounted = (
                summary.created + summary.updated + summary.unchanged + summary.duplicates
                + summary.skipped + summary.errors
            )  # fmt: skip
            assert accounted == summary.rows_total
            event(f"imported: {'some' if summary.created else 'no'} rows created")
            event(f"imported: {'some' if summary.errors else 'no'} rows rejected")
        transaction.set_rollback(True)
