"""An import writes every accepted row or nothing, and importing the same file again changes
nothing.

"Nothing" is checked on the whole organisation: a digest of every row of every table in its
schema (records, emails, phones, tags and their links, companies, search words, history rows,
notifications, ...) is the same before and after, besides the named counts a person would
notice. Each failure is made to happen after rows were already written (the test sees them
inside the run), so the rollback is what removes them."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, models

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.activities.models import Activity
from apps.companies.models import Company
from apps.contacts.models import Contact, ContactCompany, ContactEmail
from apps.deals.models import Deal
from apps.deals.services import pipeline_create
from apps.imports import engine, services
from apps.imports.models import ImportJob, Status
from apps.leads.models import Lead, LeadSource
from apps.leads.services import leadsource_create
from apps.notifications.models import Notification
from apps.records.models import SearchWord, Tag
from apps.records.services import customfield_create
from tenants.db import connection
from tests.members import member

from .conftest import run_file, write

REP = "rita.rep@alpha.test"


def database_state(*, leave_out: tuple[str, ...] = ()) -> dict[str, str]:
    """Every table of the organisation's schema -> its row count and a digest of its rows."""
    state = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        tables = sorted(t for (t,) in cursor.fetchall() if not t.startswith(leave_out))
        for table in tables:
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f'FROM "{table}" AS t'
            )
            count, digest = cursor.fetchone()
            state[table] = f"{count} rows, {digest}"
    return state


def counts() -> dict[str, int]:
    """What a person would notice."""
    return {
        "contacts": Contact.all_objects.count(),
        "contact emails": ContactEmail.objects.count(),
        "tags": Tag.objects.count(),
        "tags on contacts": Contact.tags.through.objects.count(),
        "contact-company links": ContactCompany.objects.count(),
        "companies": Company.all_objects.count(),
        "search words": SearchWord.objects.count(),
        "contact history": Contact.history.count(),
        "notifications": Notification.objects.count(),
    }


@pytest.fixture
def rep(owner_a: User) -> User:
    return member(REP, Role.REP, full_name="Rita Rep")


@pytest.fixture
def world(owner_a: User, rep: User, tmp_path: Path) -> None:
    """What the files below link to: a pipeline with named stages, a lead source, one custom
    field per record type, and a contact with a company."""
    pipeline_create(actor=owner_a, name="Partners", stages=[{"name": "Intro"}, {"name": "Pilot"}])
    leadsource_create(actor=owner_a, name="Trade fair")
    for entity, label, kind, options in (
        ("contact", "Score", "number", None),
        ("company", "Segment", "select", ["Enterprise", "SMB"]),
        ("deal", "Renewal", "date", None),
        ("lead", "Budget", "currency", None),
        ("activity", "Agenda", "text", None),
    ):
        customfield_create(actor=owner_a, entity=entity, label=label, type=kind, options=options)
    seed = "First name,Last name,Email,Company\nAda,Lovelace,ada@example.com,engines.example\n"
    run_file(write(tmp_path, seed, "seed.csv"), actor=owner_a)


# --- (a) a failure during the write leaves the database as it was --------------------------

PEOPLE = (
    "First name,Last name,Email,Phone,Company,Tags,Owner,Score\n"
    "Ada,Lovelace,ada@example.com,+44 20 7946 0000,engines.example,vip; pioneer,"
    "rita.rep@alpha.test,10\n"
    "Alan,Turing,alan@example.com,+44 20 7946 0001,bletchley.example,codebreaker,"
    "rita.rep@alpha.test,20\n"
    "Grace,Hopper,grace@example.com,,Navy Computing Lab,compilers,,30\n"
    "Edsger,Dijkstra,edsger@example.com,,Mathematisch Centrum,,,40\n"
    "Barbara,Liskov,barbara@example.com,,mit.example,substitution,rita.rep@alpha.test,5000\n"
    "Donald,Knuth,donald@example.com,,stanford.example,tex,,60\n"
    "Zyzzyva,Quux,zyzzyva@example.com,,,,,70\n"
)


def _raise_in_progress(after: int, seen: dict[int, int]) -> Callable[[int], None]:
    def progress(done: int) -> None:
        seen[done] = Contact.all_objects.count()
        if done >= after:
            raise RuntimeError("the worker's disk is full")

    return progress


def _refuse(table: str, check: str) -> None:
    """A constraint the importer's validation knows nothing of, so the database refuses a
    value the widgets accepted (dropped with the test's transaction)."""
    with connection.cursor() as cursor:
        # Foreign keys checked at commit would otherwise forbid changing a table the test's
        # transaction has written to.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT import_test_refusal CHECK ({check})')


@pytest.mark.parametrize(
    "failure",
    ["progress raises after the second chunk", "database refuses a custom field value",
     "database refuses the last write (search words)"],
)  # fmt: skip
def test_a_failure_during_the_write_leaves_everything_as_it_was(
    tmp_path: Path, owner_a: User, world: None, failure: str
) -> None:
    path = write(tmp_path, PEOPLE)
    seen: dict[int, int] = {}
    options: dict[str, Any] = {"chunk": 2}
    # COPY goes through psycopg's own cursor, so its refusals are psycopg's errors.
    expected: tuple[type[Exception], ...] = (IntegrityError, psycopg.IntegrityError)
    if failure.startswith("progress"):
        options["progress"] = _raise_in_progress(4, seen)
        expected = (RuntimeError,)
    elif failure.startswith("database refuses a custom"):
        # Row 6 (the third chunk) has a score of 5000, which the number field accepts.
        _refuse("contacts_contact", "(custom_fields->>'score') IS NULL OR "
                "(custom_fields->>'score')::numeric < 1000")  # fmt: skip
        options["progress"] = lambda done: seen.__setitem__(done, Contact.all_objects.count())
    else:
        _refuse("records_searchword", "word <> 'zyzzyva'")
        options["progress"] = lambda done: seen.__setitem__(done, Contact.all_objects.count())
    before, named = database_state(), counts()
    ada = Contact.objects.get(email="ada@example.com")

    with pytest.raises(expected):
        run_file(path, actor=owner_a, **options)

    # Rows were written before the failure (the run saw them) ...
    assert seen[4] == named["contacts"] + 3  # Alan, Grace, Edsger; Ada was updated
    if failure.endswith("(search words)"):
        assert seen[7] == named["contacts"] + 6  # the whole file, then the last write failed
    # ... and are gone, with everything else the run wrote.
    assert counts() == named
    assert database_state() == before
    ada.refresh_from_db()
    assert (ada.phone, ada.owner, ada.custom_fields) == ("", owner_a, {})
    assert not Notification.objects.filter(recipient__email=REP).exists()


def test_the_same_file_goes_in_whole_once_nothing_fails(
    tmp_path: Path, owner_a: User, world: None
) -> None:
    """The control for the test above: the file itself is fine."""
    named = counts()
    summary = run_file(write(tmp_path, PEOPLE), actor=owner_a, chunk=2)
    assert (summary.created, summary.updated, summary.errors) == (6, 1, 0)
    after = counts()
    assert after["contacts"] == named["contacts"] + 6
    assert after["companies"] == named["companies"] + 5  # engines.example existed
    assert after["search words"] > named["search words"]
    assert Contact.objects.get(email="barbara@example.com").custom_fields == {"score": 5000}
    assert Notification.objects.get(recipient__email=REP).title == "An import gave you 3 contacts"


# --- (b) a cancel after the first chunk writes nothing ----------------------------------


def test_a_cancel_after_the_first_chunk_writes_nothing(
    settings: Any, tmp_path: Path, owner_a: User, world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    upload = SimpleUploadedFile("people.csv", PEOPLE.encode(), "text/csv")
    job = services.import_create(actor=owner_a, entity="contact", upload=upload)
    assert (job.mode, job.match_on) == ("upsert", "email")
    job = services.import_start(actor=owner_a, job=job)
    assert job.status == Status.QUEUED
    before, named = database_state(leave_out=("imports_",)), counts()
    written: list[int] = []

    class CancelledAfterTheFirstChunk(engine.Importer):
        """The real importer in chunks of two rows; the person presses Cancel (through the
        cancel service) as soon as the first chunk is written."""

        def __init__(self, **options: Any) -> None:
            report = options["progress"]

            def progress(done: int) -> None:
                report(done)
                if done == 2:
                    written.append(Contact.all_objects.count() - named["contacts"])
                    services.import_cancel(actor=owner_a, job=ImportJob.objects.get(pk=job.pk))

            super().__init__(**{**options, "progress": progress, "chunk": 2})

    monkeypatch.setattr(engine, "Importer", CancelledAfterTheFirstChunk)
    assert services.run(job, dry_run=False) is None

    assert written == [1]  # Alan was in the database (Ada, the first row, was updated)
    job.refresh_from_db()
    assert (job.status, job.message) == (Status.CANCELLED, "Cancelled; nothing was changed.")
    assert job.get_status_display() == "Cancelled, nothing was changed"
    assert (job.created, job.error_file.name) == (0, "")
    assert cache.get(services.progress_key(job.pk)) is None
    assert counts() == named
    assert database_state(leave_out=("imports_",)) == before


# --- (c) and (d): every record type, with its links; a rerun changes nothing --------------

FILES: dict[str, tuple[str, str]] = {
    "contact": (
        "email",
        (
            "First name,Last name,Email,Phone,Company,Tags,Owner,Score,Lifecycle stage,City\n"
            "Alan,Turing,alan@example.com,+44 20 7946 0001,bletchley.example,codebreaker; vip,"
            'rita.rep@alpha.test,"1,234.5",customer,Wilmslow\n'
            "Ada,Lovelace,ADA@example.com,,engines.example,vip,,7,sql,London\n"
        ),
    ),
    "company": (
        "domain",
        (
            "Name,Domain,Industry,Size,Tags,Owner,Segment,City\n"
            "Bletchley Park,https://www.bletchley.example/,Cryptography,51-200,secret; vip,"
            "rita.rep@alpha.test,enterprise,Milton Keynes\n"
            "Analytical Engines,engines.example,Computing,1-10,,,SMB,London\n"
        ),
    ),
    "deal": (
        "external_id",
        (
            "External id,Title,Value,Currency,Pipeline,Stage,Expected close date,Probability,"
            "Contact email,Company,Owner,Tags,Renewal\n"
            'D-1,Engine licence,"12,500.50",gbp,Partners,Pilot,03/04/2026,60,ada@example.com,'
            "engines.example,rita.rep@alpha.test,big; q2,2027-01-31\n"
            "D-2,Service plan,900,EUR,Partners,Won,,,,,,,\n"
        ),
    ),
    "lead": (
        "external_id",
        (
            "External id,First name,Last name,Email,Company,Source,Status,Owner,Tags,Budget\n"
            "L-1,Charles,Babbage,charles@example.com,Difference Ltd,trade fair,contacted,"
            'rita.rep@alpha.test,fair,"12,500"\n'
            "L-2,Mary,Somerville,,Royal Society,,,,,\n"
        ),
    ),
    "activity": (
        "external_id",
        (
            "External id,Type,Subject,Due,Done,Contact email,Owner,Tags,Agenda,Location\n"
            "A-1,Meeting,Engine review,03/04/2026 09:30,no,ada@example.com,rita.rep@alpha.test,"
            "review,Gears and cards,London\n"
            "A-2,call,Follow-up,2026-03-05,yes,,,,,\n"
        ),
    ),
}

MODELS: dict[str, type[models.Model]] = {
    "contact": Contact, "company": Company, "deal": Deal, "lead": Lead, "activity": Activity,
}  # fmt: skip


def _import(entity: str, owner: User, tmp_path: Path, *, mode: str) -> engine.Summary:
    match_on, text = FILES[entity]
    path = write(tmp_path, text, f"{entity}.csv")
    return run_file(path, actor=owner, entity=entity, mode=mode, match_on=match_on)


def _tags(record: Any) -> list[str]:
    return sorted(t.name for t in record.tags.all())


def test_contacts_with_their_links_owner_tags_and_custom_field(
    tmp_path: Path, owner_a: User, world: None
) -> None:
    summary = _import("contact", owner_a, tmp_path, mode="upsert")
    assert (summary.created, summary.updated, summary.errors) == (1, 1, 0)
    alan = Contact.objects.get(email="alan@example.com")
    assert (alan.first_name, alan.last_name, alan.phone, alan.city) == (
        "Alan", "Turing", "+442079460001", "Wilmslow",
    )  # fmt: skip
    assert alan.owner.email == REP
    assert alan.lifecycle_stage == "customer"
    assert alan.custom_fields == {"score": 1234.5}
    assert _tags(alan) == ["codebreaker", "vip"]
    assert [c.domain for c in alan.companies.all()] == ["bletchley.example"]
    assert list(alan.emails.values_list("email", "is_primary")) == [("alan@example.com", True)]
    assert "turing" in alan.search_text
    ada = Contact.objects.get(email="ada@example.com")  # matched whatever the case
    assert (ada.lifecycle_stage, ada.city, ada.custom_fields) == ("sql", "London", {"score": 7})
    assert [c.domain for c in ada.companies.all()] == ["engines.example"]


def test_companies_with_owner_tags_and_custom_field(
    tmp_path: Path, owner_a: User, world: None
) -> None:
    summary = _import("company", owner_a, tmp_path, mode="upsert")
    assert (summary.created, summary.updated, summary.errors) == (1, 1, 0)
    park = Company.objects.get(domain="bletchley.example")  # the web address became a domain
    assert (park.name, park.industry, park.size, park.city) == (
        "Bletchley Park", "Cryptography", "51-200", "Milton Keynes",
    )  # fmt: skip
    assert park.owner.email == REP
    assert park.custom_fields == {"segment": "Enterprise"}
    assert _tags(park) == ["secret", "vip"]
    engines = Company.objects.get(domain="engines.example")
    assert (engines.name, engines.size, engines.custom_fields) == (
        "Analytical Engines", "1-10", {"segment": "SMB"},
    )  # fmt: skip


def test_deals_with_pipeline_and_stage_names_contact_company_owner_tags_and_custom_field(
    tmp_path: Path, owner_a: User, world: None
) -> None:
    summary = _import("deal", owner_a, tmp_path, mode="upsert")
    assert (summary.created, summary.errors) == (2, 0)
    licence = Deal.objects.get(external_id="D-1")
    assert (licence.title, licence.value, licence.currency) == (
        "Engine licence", decimal.Decimal("12500.50"), "GBP",
    )  # fmt: skip
    assert (licence.pipeline.name, licence.stage.name, licence.status) == (
        "Partners",
        "Pilot",
        "open",
    )
    assert (licence.expected_close, licence.probability) == (dt.date(2026, 3, 4), 60)
    assert [c.email for c in licence.contacts.all()] == ["ada@example.com"]
    assert [c.domain for c in licence.companies.all()] == ["engines.example"]
    assert licence.owner.email == REP
    assert _tags(licence) == ["big", "q2"]
    assert licence.custom_fields == {"renewal": "2027-01-31"}
    plan = Deal.objects.get(external_id="D-2")
    assert (plan.stage.name, plan.status, plan.owner) == ("Won", "won", owner_a)
    assert plan.won_at is not None


def test_leads_with_source_status_owner_tags_and_custom_field(
    tmp_path: Path, owner_a: User, world: None
) -> None:
    summary = _import("lead", owner_a, tmp_path, mode="upsert")
    assert (summary.created, summary.errors) == (2, 0)
    charles = Lead.objects.get(external_id="L-1")
    assert (charles.first_name, charles.email, charles.company_name) == (
        "Charles", "charles@example.com", "Difference Ltd",
    )  # fmt: skip
    assert charles.source == LeadSource.objects.get(name="Trade fair")
    assert (charles.status, charles.owner.email) == ("contacted", REP)
    assert _tags(charles) == ["fair"]
    assert charles.custom_fields == {"budget": "12500.00"}
    mary = Lead.objects.get(external_id="L-2")
    assert (mary.source, mary.status, mary.owner) == (None, "new", owner_a)


def test_activities_with_due_date_contact_owner_tags_and_custom_field(
    tmp_path: Path, owner_a: User, world: None
) -> None:
    summary = _import("activity", owner_a, tmp_path, mode="upsert")
    assert (summary.created, summary.errors) == (2, 0)
    review = Activity.objects.get(external_id="A-1")
    due = dt.datetime(2026, 3, 4, 9, 30, tzinfo=dt.UTC)
    assert (review.type, review.subject, review.due_at, review.scheduled_at) == (
        "meeting", "Engine review", due, due,
    )  # fmt: skip
    assert (review.done, review.done_at, review.location) == (False, None, "London")
    assert [c.email for c in review.contacts.all()] == ["ada@example.com"]
    assert review.owner.email == REP
    assert _tags(review) == ["review"]
    assert review.custom_fields == {"agenda": "Gears and cards"}
    follow = Activity.objects.get(external_id="A-2")
    assert (follow.type, follow.done, follow.owner) == ("call", True, owner_a)
    assert follow.due_at == dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
    assert follow.done_at == follow.due_at


@pytest.mark.parametrize("entity", list(FILES))
def test_importing_the_same_file_again_in_update_mode_changes_nothing(
    tmp_path: Path, owner_a: User, world: None, entity: str
) -> None:
    first = _import(entity, owner_a, tmp_path, mode="upsert")
    assert first.errors == 0 and first.created >= 1
    model = MODELS[entity]
    stamps = dict(model._default_manager.values_list("pk", "updated_at"))
    history = model.history.count()  # type: ignore[attr-defined]
    before = database_state()

    again = _import(entity, owner_a, tmp_path, mode="update")

    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 2, 0)
    assert dict(model._default_manager.values_list("pk", "updated_at")) == stamps
    assert model.history.count() == history  # type: ignore[attr-defined]
    assert database_state() == before
