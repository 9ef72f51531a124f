"""What each mode does with a matched or unmatched row, matching on Kestrel ids (including
forged ones and another organisation's), required custom fields, and the errors of deal and
activity links. Each asserts what a person sees in the preview or the result."""

from __future__ import annotations

from pathlib import Path

from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities.models import Activity
from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.deals.models import Deal
from apps.deals.services import pipeline_create
from apps.records.services import customfield_create
from tenants.models import Tenant
from tests.conftest import BETA

from .conftest import run_file, write


def _problems(summary: object) -> list[tuple[int, str, str]]:
    return [(p.row, p.code, p.message) for p in summary.problems]  # type: ignore[attr-defined]


def test_create_mode_skips_existing_records_and_update_mode_skips_new_ones(
    tmp_path: Path, owner_a: User
) -> None:
    contact_create(actor=owner_a, first_name="Ada", email="ada@example.com")
    path = write(tmp_path, "First name,Email\nAugusta,ada@example.com\nAlan,alan@example.com\n")

    created = run_file(path, actor=owner_a, mode="create", match_on="email")
    assert (created.created, created.duplicates, created.errors) == (1, 1, 0)
    (row, code, message) = _problems(created)[0]
    assert (row, code) == (2, "already_exists")
    assert message.startswith("A contact with this email already exists (id ")
    assert Contact.objects.get(email="ada@example.com").first_name == "Ada"  # untouched

    updated = run_file(
        write(
            tmp_path, "First name,Email\nAugusta,ada@example.com\nEdsger,ed@example.com\n", "u.csv"
        ),
        actor=owner_a,
        mode="update",
        match_on="email",
    )
    assert (updated.updated, updated.skipped, updated.created) == (1, 1, 0)
    assert _problems(updated)[0][:2] == (3, "no_match")
    assert not Contact.objects.filter(email="ed@example.com").exists()
    assert Contact.objects.get(email="ada@example.com").first_name == "Augusta"


def test_matching_on_kestrel_ids_refuses_forged_and_foreign_ids(
    tmp_path: Path, owner_a: User, tenant_b: Tenant
) -> None:
    mine = contact_create(actor=owner_a, first_name="Grace", email="grace@example.com")
    taken = set(Contact.objects.values_list("pk", flat=True))
    with schema_context(tenant_b.schema_name):
        beta_owner = User.objects.get(email=BETA.owner_email)
        # An id of theirs that is not also one of ours (ids are per organisation).
        theirs = contact_create(actor=beta_owner, first_name="Secret", email="s@beta.example")
        while theirs.pk in taken or theirs.pk + 100000 in taken:
            theirs = contact_create(
                actor=beta_owner,
                first_name="Secret",
                last_name=str(theirs.pk),
                allow_duplicate=True,
            )
    text = (
        "Kestrel id,First name\n"
        f"{mine.pk},Grace B.\n"
        f"{theirs.pk + 100000},Forged\n"
        f"{theirs.pk},Hijack\n"
        "-5,Negative\n"
    )
    summary = run_file(write(tmp_path, text), actor=owner_a, mode="upsert", match_on="id")
    assert (summary.updated, summary.created, summary.errors) == (1, 0, 3)
    messages = {row: (code, message) for row, code, message in _problems(summary)}
    assert messages[3] == ("unknown_id", f"There is no contact with id {theirs.pk + 100000}.")
    assert messages[5][0] == "out_of_range"
    mine.refresh_from_db()
    assert mine.first_name == "Grace B."
    with schema_context(tenant_b.schema_name):
        assert Contact.objects.get(pk=theirs.pk).first_name == "Secret"
    # A contact of this organisation with the other's id, if any, was not touched either.
    assert not Contact.objects.filter(first_name__in=["Hijack", "Forged"]).exists()


def test_a_required_custom_field_must_be_in_a_new_row(tmp_path: Path, owner_a: User) -> None:
    customfield_create(
        actor=owner_a, entity="contact", key="region_code", label="Region code", type="text",
        required=True,
    )  # fmt: skip
    path = write(tmp_path, "First name,Region code\nAda,EU\nAlan,\n")
    summary = run_file(path, actor=owner_a, mode="create", match_on="none")
    assert (summary.created, summary.errors) == (1, 1)
    assert _problems(summary) == [(3, "missing_value", "Region code is required.")]
    assert Contact.objects.get(first_name="Ada").custom_fields == {"region_code": "EU"}


def test_deal_and_activity_links_that_do_not_exist_are_named(tmp_path: Path, owner_a: User) -> None:
    pipeline_create(actor=owner_a, name="Partners", stages=[{"name": "Intro"}, {"name": "Pilot"}])
    contact_create(actor=owner_a, first_name="Linus", email="linus@example.com")
    deals = (
        "Title,Pipeline,Stage,Contact email,Value\n"
        "Kernel support,Partners,Pilot,linus@example.com,1200.50\n"
        "Typo stage,Partners,Pilott,linus@example.com,10\n"
        "Nobody,Partners,Intro,nobody@example.com,10\n"
    )
    summary = run_file(write(tmp_path, deals, "deals.csv"), actor=owner_a, entity="deal",
                       match_on="none", mode="create")  # fmt: skip
    assert (summary.created, summary.errors) == (1, 2)
    assert _problems(summary) == [
        (3, "unknown_option", "'Pilott' is not a stage of Partners (Intro, Pilot, Won, Lost)."),
        (4, "unknown_contact", "No contact has the email 'nobody@example.com'."),
    ]
    deal = Deal.objects.get(title="Kernel support")
    assert (deal.stage.name, str(deal.value), deal.pipeline.name) == (
        "Pilot",
        "1200.50",
        "Partners",
    )
    assert [c.email for c in deal.contacts.all()] == ["linus@example.com"]

    activities = (
        "Subject,Contact email\nCall Linus,linus@example.com\nCall ghost,ghost@example.com\n"
    )
    summary = run_file(write(tmp_path, activities, "a.csv"), actor=owner_a, entity="activity",
                       match_on="none", mode="create")  # fmt: skip
    assert (summary.created, summary.errors) == (1, 1)
    assert _problems(summary)[0][:2] == (3, "unknown_contact")
    assert Activity.objects.get(subject="Call Linus").contacts.get().email == "linus@example.com"


def test_a_dry_run_counts_new_tags_and_companies_and_writes_nothing(
    tmp_path: Path, owner_a: User
) -> None:
    path = write(tmp_path, "First name,Email,Company,Tags\nAda,ada@x.example,Engines Ltd,new-tag\n")
    preview = run_file(path, actor=owner_a, dry_run=True)
    assert (preview.created, preview.new_tags, preview.new_companies) == (1, 1, 1)
    assert not Contact.objects.filter(email="ada@x.example").exists()


def test_a_member_custom_field_is_read_by_email_without_the_database(
    tmp_path: Path, owner_a: User
) -> None:
    """Cells are cleaned in a reader thread that may not query the database; a member
    field is checked against the active members read before the import started."""
    customfield_create(actor=owner_a, entity="contact", key="sdr", label="SDR", type="user")
    text = f"First name,SDR\nAda,{owner_a.email.upper()}\nAlan,nobody@example.com\n"
    summary = run_file(write(tmp_path, text), actor=owner_a, mode="create", match_on="none")
    assert (summary.created, summary.errors) == (1, 1)
    assert Contact.objects.get(first_name="Ada").custom_fields == {"sdr": owner_a.pk}
    (row, code, _message) = _problems(summary)[0]
    assert (row, code) == (3, "unknown_owner")


def test_imported_deals_keep_their_stage_history(tmp_path: Path, owner_a: User) -> None:
    """As deal_create and deal_move_stage record it: the funnel reports read it."""
    from apps.deals.models import DealStageChange

    pipeline_create(actor=owner_a, name="Partners", stages=[{"name": "Intro"}, {"name": "Pilot"}])
    first = "External id,Title,Pipeline,Stage\nD-1,Kernel support,Partners,Intro\n"
    run_file(write(tmp_path, first, "d1.csv"), actor=owner_a, entity="deal", match_on="external_id")
    deal = Deal.objects.get(external_id="D-1")
    names = [(c.from_stage, getattr(c.to_stage, "name", None)) for c in deal.stage_changes.all()]
    assert names == [(None, "Intro")]

    won = "External id,Stage\nD-1,Won\n"
    path = write(tmp_path, won, "d2.csv")
    summary = run_file(path, actor=owner_a, entity="deal", match_on="external_id", mode="update")
    assert summary.updated == 1
    deal.refresh_from_db()
    assert (deal.stage.name, deal.status) == ("Won", "won") and deal.won_at is not None
    move = deal.stage_changes.last()
    assert move is not None
    assert (getattr(move.from_stage, "name", None), getattr(move.to_stage, "name", None)) == (
        "Intro",
        "Won",
    )
    assert move.seconds_in_previous is not None and move.changed_by == owner_a
    again = run_file(path, actor=owner_a, entity="deal", match_on="external_id", mode="update")
    assert again.unchanged == 1
    assert DealStageChange.objects.filter(deal=deal).count() == 2
