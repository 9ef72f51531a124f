"""Deal services: the default pipeline, stages that stay in order with won and lost last,
deleting stages and pipelines that hold deals, lost reasons, and deals moving through stages
with their history (time in stage), won/lost dates and lost reasons."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.companies.services import company_create
from apps.contacts.services import contact_create
from apps.deals import services
from apps.deals.models import Deal, DealStageChange, LostReason, Pipeline, Stage
from apps.records import search
from apps.records.services import customfield_create
from apps.records.timeline import timeline

pytestmark = pytest.mark.django_db


def _names(pipeline: Pipeline) -> list[str]:
    return [s.name for s in pipeline.stages.order_by("order")]


def test_default_pipeline_is_created_once_with_the_usual_stages(ctx: Any) -> None:
    first = services.pipeline_default()
    assert services.pipeline_default().pk == first.pk
    assert first.name == "Sales" and first.is_default
    stages = list(first.stages.order_by("order"))
    assert [(s.name, s.probability, s.kind) for s in stages] == [
        ("Qualified", 10, "open"),
        ("Contact made", 20, "open"),
        ("Demo scheduled", 40, "open"),
        ("Proposal made", 60, "open"),
        ("Negotiation", 80, "open"),
        ("Won", 100, "won"),
        ("Lost", 0, "lost"),
    ]
    assert LostReason.objects.filter(archived=False).exists()


def test_a_pipeline_without_default_flag_becomes_the_default(ctx: Any) -> None:
    pipeline = services.pipeline_default()
    Pipeline.objects.filter(pk=pipeline.pk).update(is_default=False)
    assert services.pipeline_default().pk == pipeline.pk
    assert Pipeline.objects.get(pk=pipeline.pk).is_default


def test_pipelines_and_stages_are_for_admins_and_keep_won_and_lost_last(
    ctx: Any, people: Any
) -> None:
    with pytest.raises(PermissionDenied):
        services.pipeline_create(actor=people.rep, name="Nope")
    pipeline = services.pipeline_create(
        actor=people.admin,
        name="Renewals",
        stages=["Due", {"name": "Quoted", "probability": 50, "rotting_days": 7}],
    )
    assert _names(pipeline) == ["Due", "Quoted", "Won", "Lost"]
    assert AuditEntry.objects.filter(action="pipeline.created").exists()
    added = services.stage_create(actor=people.admin, pipeline=pipeline, name="Signed", order=1)
    assert added.order == 1
    assert _names(pipeline) == ["Signed", "Due", "Quoted", "Won", "Lost"]
    services.stage_create(actor=people.admin, pipeline=pipeline, name="Last open")
    assert _names(pipeline)[-3:] == ["Last open", "Won", "Lost"]
    quoted = pipeline.stages.get(name="Quoted")
    services.stage_update(actor=people.admin, stage=quoted, order=1, probability=70, name="Quote")
    assert _names(pipeline)[:2] == ["Quote", "Signed"]
    assert Stage.objects.get(pk=quoted.pk).probability == 70
    ids = list(pipeline.stages.filter(kind="open").values_list("pk", flat=True))
    services.stage_reorder(actor=people.admin, pipeline=pipeline, ids=list(reversed(ids)))
    assert _names(pipeline)[-2:] == ["Won", "Lost"]
    with pytest.raises(ValidationError) as bad_order:
        services.stage_reorder(actor=people.admin, pipeline=pipeline, ids=ids[:1])
    assert "ids" in bad_order.value.message_dict
    won = pipeline.stages.get(kind="won")
    with pytest.raises(ValidationError) as terminal:
        services.stage_delete(actor=people.admin, stage=won)
    assert terminal.value.message_dict["stage"]
    with pytest.raises(ValidationError):
        services.stage_update(actor=people.admin, stage=won, order=1)
    with pytest.raises(ValidationError):
        services.stage_update(actor=people.admin, stage=won, kind="open")
    with pytest.raises(ValidationError):
        services.stage_update(actor=people.admin, stage=won, colour="red")
    with pytest.raises(ValidationError) as clash:
        services.stage_create(actor=people.admin, pipeline=pipeline, name="quote")
    assert "already has" in clash.value.message_dict["name"][0]
    for bad in ({"probability": 140}, {"probability": "x"}, {"rotting_days": 0}):
        with pytest.raises(ValidationError):
            services.stage_update(actor=people.admin, stage=quoted, **bad)
    with pytest.raises(ValidationError):
        services.stage_update(actor=people.admin, stage=quoted, rotting_days="soon")
    with pytest.raises(PermissionDenied):
        services.stage_update(actor=people.rep, stage=quoted, name="x")
    with pytest.raises(ValidationError):
        services.pipeline_create(actor=people.admin, name="renewals")
    with pytest.raises(ValidationError):
        services.pipeline_create(actor=people.admin, name="Empty", stages=[])
    with pytest.raises(ValidationError):
        services.pipeline_create(actor=people.admin, name="Twice", stages=["A", "a"])
    with pytest.raises(ValidationError):
        services.pipeline_create(actor=people.admin, name="  ")
    with pytest.raises(ValidationError):
        services.pipeline_create(actor=people.admin, name="x" * 101)
    # A "won" open stage name does not clash with the pipeline's own Won stage.
    odd = services.pipeline_create(
        actor=people.admin, name="Odd", stages=["Won", "Lost", {"name": "x", "kind": "won"}]
    )
    assert _names(odd) == ["Won", "Lost", "Won (closed)", "Lost (closed)"]


def test_pipeline_update_default_archive_and_reorder(ctx: Any, people: Any) -> None:
    default = services.pipeline_default()
    other = services.pipeline_create(actor=people.admin, name="Partners")
    with pytest.raises(ValidationError):
        services.pipeline_update(actor=people.admin, pipeline=default, archived=True)
    with pytest.raises(ValidationError):
        services.pipeline_update(actor=people.admin, pipeline=default, is_default=False)
    with pytest.raises(ValidationError):
        services.pipeline_update(actor=people.admin, pipeline=other, name=default.name.upper())
    services.pipeline_update(actor=people.admin, pipeline=other, is_default=True, name="Partner")
    assert Pipeline.objects.get(is_default=True).name == "Partner"
    default.refresh_from_db()
    services.pipeline_update(actor=people.admin, pipeline=default, archived=True, order=9)
    with pytest.raises(ValidationError):
        services.pipeline_update(actor=people.admin, pipeline=default, is_default=True)
    services.pipeline_reorder(actor=people.admin, ids=[default.pk])
    assert Pipeline.objects.order_by("order").first() == default
    with pytest.raises(ValidationError):
        services.pipeline_reorder(actor=people.admin, ids=[987654])


def test_deleting_a_stage_with_deals_needs_a_target_and_records_the_moves(
    ctx: Any, people: Any
) -> None:
    pipeline = services.pipeline_create(actor=people.admin, name="Moves", stages=["A", "B", "C"])
    a, b, c = pipeline.stages.filter(kind="open").order_by("order")
    deal = services.deal_create(actor=people.rep, title="Held", stage=b)
    with pytest.raises(ValidationError) as refused:
        services.stage_delete(actor=people.admin, stage=b)
    assert "choose the stage to move them to" in refused.value.message_dict["move_to"][0]
    assert refused.value.error_dict["move_to"][0].code == "stage_holds_deals"
    with pytest.raises(ValidationError):
        services.stage_delete(actor=people.admin, stage=b, move_to=b)
    assert services.stage_delete(actor=people.admin, stage=b, move_to=c) == 1
    deal.refresh_from_db()
    assert deal.stage == c and not Stage.objects.filter(pk=b.pk).exists()
    # The history keeps the time spent in the deleted stage.
    created, moved = deal.stage_changes.order_by("changed_at", "id")
    assert created.to_stage is None and moved.from_stage is None and moved.to_stage == c
    items, _ = timeline(deal, "deal")
    assert [i.title for i in items if i.title.startswith("Moved")] == ["Moved to C"]
    assert services.stage_delete(actor=people.admin, stage=a) == 0
    with pytest.raises(ValidationError) as last:
        services.stage_delete(actor=people.admin, stage=c, move_to=c)
    assert "at least one open stage" in last.value.message_dict["stage"][0]


def test_deleting_a_pipeline_moves_its_deals_and_keeps_a_default(ctx: Any, people: Any) -> None:
    default = services.pipeline_default()
    other = services.pipeline_create(actor=people.admin, name="Gone", stages=["Qualified", "Odd"])
    kept = services.deal_create(
        actor=people.rep, title="Keep me", stage=other.stages.get(name="Odd")
    )
    same = services.deal_create(actor=people.rep, title="Same name", pipeline=other)
    won = services.deal_create(
        actor=people.rep, title="Won one", stage=other.stages.get(kind="won")
    )
    with pytest.raises(ValidationError) as refused:
        services.pipeline_delete(actor=people.admin, pipeline=other)
    assert "move_to" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.pipeline_delete(actor=people.admin, pipeline=other, move_to=other)
    services.pipeline_delete(actor=people.admin, pipeline=other, move_to=default)
    for deal in (kept, same, won):
        deal.refresh_from_db()
        assert deal.pipeline == default
    assert same.stage.name == "Qualified" and kept.stage.name == "Qualified"
    assert won.stage.kind == "won" and won.status == "won"
    # Deleting the default pipeline makes another one the default; the last one stays.
    spare = services.pipeline_create(actor=people.admin, name="Spare")
    Deal.objects.all().delete()
    services.pipeline_delete(actor=people.admin, pipeline=default)
    assert Pipeline.objects.get(is_default=True) == spare
    for extra in Pipeline.objects.exclude(pk=spare.pk):
        services.pipeline_delete(actor=people.admin, pipeline=extra)
    with pytest.raises(ValidationError) as last:
        services.pipeline_delete(actor=people.admin, pipeline=spare)
    assert last.value.error_dict["pipeline"][0].code == "last_pipeline"


def test_lost_reasons_are_an_editable_list(ctx: Any, people: Any) -> None:
    reason = services.lostreason_create(actor=people.admin, name="Too slow")
    with pytest.raises(ValidationError):
        services.lostreason_create(actor=people.admin, name="too SLOW")
    with pytest.raises(PermissionDenied):
        services.lostreason_create(actor=people.rep, name="Mine")
    services.lostreason_update(actor=people.admin, reason=reason, name="Far too slow", order=1)
    other = services.lostreason_create(actor=people.admin, name="Other", order=2)
    with pytest.raises(ValidationError):
        services.lostreason_update(actor=people.admin, reason=other, name="far too slow")
    services.lostreason_update(actor=people.admin, reason=other, archived=True)
    assert services.lostreason_delete(actor=people.admin, reason=other) is True
    lost = Stage.objects.get(pipeline=services.pipeline_default(), kind="lost")
    services.deal_create(actor=people.rep, title="Slow", stage=lost, lost_reason=reason.pk)
    assert services.lostreason_delete(actor=people.admin, reason=reason) is False
    assert LostReason.objects.get(pk=reason.pk).archived


def test_create_defaults_links_search_and_custom_fields(ctx: Any, people: Any) -> None:
    contact = contact_create(actor=people.rep, first_name="Grace", last_name="Hopper")
    company = company_create(actor=people.rep, name="Cobol Works", allow_duplicate=True)
    customfield_create(actor=people.admin, entity="deal", label="Source deal", type="text")
    deal = services.deal_create(
        actor=people.rep,
        title="  Compiler   licence ",
        value="12,500.5",
        currency="eur",
        contacts=[contact.pk],
        companies=[company],
        tags=["Hot"],
        custom_fields={"source_deal": "Referral"},
        expected_close="2030-01-31",
    )
    assert deal.title == "Compiler licence" and deal.value == Decimal("12500.50")
    assert deal.currency == "EUR" and deal.owner == people.rep
    assert deal.pipeline.is_default and deal.stage.name == "Qualified"
    assert deal.status == "open" and deal.stage_entered_at is not None
    assert deal.effective_probability == 10 and deal.weighted_value == Decimal("1250.05")
    assert [t.name for t in deal.tags.all()] == ["Hot"]
    assert deal.custom_fields == {"source_deal": "Referral"}
    assert list(deal.contacts.all()) == [contact] and list(deal.companies.all()) == [company]
    first = deal.stage_changes.get()
    assert first.from_stage is None and first.seconds_in_previous is None
    found = search.matching(Deal.objects.all(), "Cobol works")
    assert deal in found
    assert deal in search.matching(Deal.objects.all(), "compiler")
    assert deal in search.matching(Deal.objects.all(), "hopper")
    assert AuditEntry.objects.filter(action="deal.created", target_id=str(deal.pk)).exists()
    # Probability override, explicit pipeline.
    second = services.deal_create(
        actor=people.admin, title="Override", probability=35, value=100, owner=people.rep
    )
    assert second.effective_probability == 35 and second.weighted_value == Decimal("35.00")
    assert second.owner == people.rep


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": " "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"value": "lots"}, "value"),
        ({"value": -1}, "value"),
        ({"value": "1e13"}, "value"),
        ({"currency": "EURO"}, "currency"),
        ({"probability": 101}, "probability"),
        ({"expected_close": "next week"}, "expected_close"),
        ({"stage": 999999}, "stage"),
        ({"pipeline": "x"}, "pipeline"),
        ({"contacts": [999999]}, "contacts"),
        ({"contacts": ["abc"]}, "contacts"),
        ({"companies": [999999]}, "companies"),
        ({"custom_fields": {"nope": 1}}, "custom_fields.nope"),
        ({"colour": "red"}, "colour"),
        ({"lost_reason": "no such reason"}, "lost_reason"),
    ],
)
def test_bad_input_names_the_field(
    ctx: Any, people: Any, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        services.deal_create(actor=people.rep, **{"title": "Deal", **fields})
    assert field in error.value.message_dict


def test_links_must_be_visible_and_stage_must_match_pipeline(ctx: Any, people: Any) -> None:
    services.pipeline_default()
    hidden = contact_create(actor=people.owner, first_name="Secret", last_name="Person")
    with pytest.raises(ValidationError) as error:
        services.deal_create(actor=people.rep, title="Peek", contacts=[hidden])
    assert "contacts" in error.value.message_dict
    other = services.pipeline_create(actor=people.admin, name="Elsewhere")
    stage = services.pipeline_default().stages.first()
    with pytest.raises(ValidationError) as mismatch:
        services.deal_create(actor=people.rep, title="X", pipeline=other, stage=stage)
    assert "stage" in mismatch.value.message_dict
    too_many = [hidden.pk + i for i in range(services.MAX_LINKS + 1)]
    with pytest.raises(ValidationError):
        services.deal_create(actor=people.rep, title="Many", contacts=too_many)
    with pytest.raises(PermissionDenied):
        services.deal_create(actor=people.readonly, title="Read only")


def test_moving_records_history_time_in_stage_and_closing_dates(ctx: Any, people: Any) -> None:
    pipeline = services.pipeline_default()
    stages = {s.name: s for s in pipeline.stages.all()}
    deal = services.deal_create(actor=people.rep, title="Journey", value=1000)
    Deal.objects.filter(pk=deal.pk).update(stage_entered_at=timezone.now() - timedelta(days=3))
    deal = services.deal_move(actor=people.rep, deal=deal, stage=stages["Proposal made"].pk)
    change = deal.stage_changes.order_by("-changed_at", "-id").first()
    assert change is not None and change.from_stage == stages["Qualified"]
    assert 3 * 86400 <= (change.seconds_in_previous or 0) < 3 * 86400 + 60
    assert deal.stage == stages["Proposal made"] and deal.status == "open"
    assert deal.weighted_value == Decimal("600.00")
    entered = deal.stage_entered_at
    assert entered is not None and timezone.now() - entered < timedelta(minutes=1)
    # The timeline says where it went and how long it stayed.
    items, _ = timeline(deal, "deal")
    moved = [i for i in items if i.title == "Moved to Proposal made"]
    assert moved and moved[0].body == "From Qualified after 3 days."
    assert not any(i.title == "Changed" and any(c[0] == "Stage" for c in i.changes) for i in items)
    assert timeline(deal, "deal", kind="note")[0] == []
    # Won.
    deal = services.deal_move(actor=people.rep, deal=deal, stage=stages["Won"])
    assert deal.status == "won" and deal.won_at is not None and deal.lost_at is None
    # Lost needs a reason from the list.
    with pytest.raises(ValidationError) as needed:
        services.deal_move(actor=people.rep, deal=deal, stage=stages["Lost"])
    assert needed.value.error_dict["lost_reason"][0].code == "lost_reason_required"
    with pytest.raises(ValidationError):
        services.deal_move(actor=people.rep, deal=deal, stage=stages["Lost"], lost_reason=999999)
    reason = LostReason.objects.filter(archived=False).first()
    assert reason is not None
    deal = services.deal_move(
        actor=people.rep, deal=deal, stage=stages["Lost"], lost_reason=reason.name, lost_note="x"
    )
    assert deal.status == "lost" and deal.lost_at and deal.won_at is None
    assert deal.lost_reason == reason and deal.lost_note == "x"
    # Re-choosing the reason while staying lost, and repositioning, record no move.
    before = deal.stage_changes.count()
    deal = services.deal_move(
        actor=people.rep, deal=deal, stage=stages["Lost"], lost_reason=reason, position=5
    )
    assert deal.stage_changes.count() == before and deal.position == 5
    # Reopening clears the closing data.
    deal = services.deal_move(actor=people.rep, deal=deal, stage=stages["Negotiation"])
    assert deal.status == "open" and deal.won_at is None and deal.lost_at is None
    assert deal.lost_reason is None and deal.lost_note == ""
    with pytest.raises(ValidationError):
        services.deal_move(
            actor=people.rep, deal=deal, stage=stages["Qualified"], lost_reason=reason
        )
    with pytest.raises(ValidationError):
        services.deal_move(actor=people.rep, deal=deal, stage=stages["Qualified"], position="x")
    path = list(
        DealStageChange.objects.filter(deal=deal)
        .order_by("changed_at", "id")
        .values_list("to_stage__name", flat=True)
    )
    assert path == ["Qualified", "Proposal made", "Won", "Lost", "Negotiation"]
    assert AuditEntry.objects.filter(action="deal.stage_changed").count() >= 4


def test_moving_to_another_pipeline_moves_the_pipeline_too(ctx: Any, people: Any) -> None:
    services.pipeline_default()
    other = services.pipeline_create(actor=people.admin, name="Partners", stages=["Intro"])
    deal = services.deal_create(actor=people.rep, title="Switch")
    deal = services.deal_move(actor=people.rep, deal=deal, stage=other.stages.get(name="Intro"))
    assert deal.pipeline == other
    # Through deal_update: a pipeline alone lands on its matching (else first open) stage.
    deal = services.deal_update(actor=people.rep, deal=deal, pipeline=services.pipeline_default())
    assert deal.pipeline.is_default and deal.stage.name == "Qualified"
    with pytest.raises(ValidationError):
        services.deal_update(
            actor=people.rep, deal=deal, pipeline=other, stage=deal.pipeline.stages.first()
        )


def test_without_lost_reasons_a_deal_is_lost_without_one(ctx: Any, people: Any) -> None:
    services.pipeline_default()
    LostReason.objects.update(archived=True)
    lost = services.pipeline_default().stages.get(kind="lost")
    deal = services.deal_create(actor=people.rep, title="Plain loss", stage=lost)
    assert deal.status == "lost" and deal.lost_reason is None


def test_update_changes_fields_and_moves(ctx: Any, people: Any) -> None:
    pipeline = services.pipeline_default()
    lost = pipeline.stages.get(kind="lost")
    reason = LostReason.objects.filter(archived=False).first()
    contact = contact_create(actor=people.rep, first_name="Ada", last_name="Byron")
    company = company_create(actor=people.rep, name="Engines Ltd", allow_duplicate=True)
    customfield_create(actor=people.admin, entity="deal", label="Region", type="text")
    deal = services.deal_create(actor=people.rep, title="Change me", probability=20)
    deal = services.deal_update(
        actor=people.rep,
        deal=deal,
        title="Changed",
        value="10",
        currency="gbp",
        probability=None,
        expected_close=None,
        contacts=[contact.pk],
        companies=[company.pk],
        tags=["Warm"],
        custom_fields={"region": "EMEA"},
        owner=people.rep,
        allow_duplicate=True,
        position=3,
    )
    assert (deal.title, deal.value, deal.currency, deal.probability) == (
        "Changed",
        Decimal("10.00"),
        "GBP",
        None,
    )
    assert deal.position == 3 and deal.custom_fields == {"region": "EMEA"}
    assert deal in search.matching(Deal.objects.all(), "engines")
    with pytest.raises(ValidationError):
        services.deal_update(actor=people.rep, deal=deal, title="")
    with pytest.raises(ValidationError):
        services.deal_update(actor=people.rep, deal=deal, custom_fields={"nope": 1})
    with pytest.raises(ValidationError):
        services.deal_update(actor=people.rep, deal=deal, lost_reason=reason)
    with pytest.raises(ValidationError):
        services.deal_update(actor=people.rep, deal=deal, owner=999999)
    with pytest.raises(ValidationError):
        services.deal_update(actor=people.rep, deal=deal, shoe_size=9)
    # Moving to lost through an update needs the reason too.
    with pytest.raises(ValidationError):
        services.deal_update(actor=people.rep, deal=deal, stage=lost.pk)
    assert reason is not None
    deal = services.deal_update(
        actor=people.rep, deal=deal, stage=lost.pk, lost_reason=reason.pk, lost_note="Budget"
    )
    assert deal.status == "lost" and deal.lost_reason == reason and deal.lost_note == "Budget"
    other = LostReason.objects.filter(archived=False).exclude(pk=reason.pk).first()
    deal = services.deal_update(actor=people.rep, deal=deal, lost_reason=other, lost_note="Y")
    assert deal.lost_reason == other and deal.lost_note == "Y"
    with pytest.raises(ValidationError):
        services.deal_update(actor=people.rep, deal=deal, lost_reason=None)


def test_permissions_on_change_move_delete_and_share(ctx: Any, people: Any) -> None:
    theirs = services.deal_create(actor=people.rep2, title="Not yours")
    with pytest.raises(PermissionDenied):
        services.deal_update(actor=people.rep, deal=theirs, title="Mine now")
    with pytest.raises(PermissionDenied):
        services.deal_move(
            actor=people.rep, deal=theirs, stage=theirs.pipeline.stages.get(kind="won")
        )
    with pytest.raises(PermissionDenied):
        services.deal_move(
            actor=people.readonly, deal=theirs, stage=theirs.pipeline.stages.get(kind="won")
        )
    with pytest.raises(PermissionDenied):
        services.deal_delete(actor=people.rep, deal=theirs)
    services.deal_share(actor=people.rep2, deal=theirs, user=people.rep, level="edit")
    moved = services.deal_move(
        actor=people.rep, deal=theirs, stage=theirs.pipeline.stages.get(kind="won")
    )
    assert moved.status == "won"
    with pytest.raises(PermissionDenied):  # editing is not deleting
        services.deal_delete(actor=people.rep, deal=theirs)
    services.deal_delete(actor=people.rep2, deal=theirs)
    assert not Deal.objects.filter(pk=theirs.pk).exists()
    assert AuditEntry.objects.filter(action="deal.deleted").exists()


def test_edge_cases_of_defaults_history_and_updates(ctx: Any, people: Any) -> None:
    # Only archived pipelines: the first one comes back as the default.
    Deal.objects.all().delete()
    Pipeline.objects.all().delete()
    archived = services.pipeline_create(actor=people.admin, name="Old")
    Pipeline.objects.filter(pk=archived.pk).update(is_default=False, archived=True)
    revived = services.pipeline_default()
    assert revived.pk == archived.pk and revived.is_default and not revived.archived
    chosen = services.pipeline_create(actor=people.admin, name="Chosen", is_default=True)
    assert Pipeline.objects.get(is_default=True) == chosen
    stage = chosen.stages.first()
    assert stage is not None
    with pytest.raises(ValidationError):
        services.stage_update(actor=people.admin, stage=stage, pipeline=archived)
    assert str(chosen) == "Chosen" and str(stage) == stage.name
    lost = chosen.stages.get(kind="lost")
    LostReason.objects.get_or_create(name="Price")
    with pytest.raises(ValidationError) as needed:
        services.deal_create(actor=people.rep, title="Lost at birth", stage=lost)
    assert needed.value.error_dict["lost_reason"][0].code == "lost_reason_required"
    reason = LostReason.objects.get(name="Price")
    assert str(reason) == "Price"
    deal = services.deal_create(actor=people.rep, title="Unknown start", pipeline=chosen)
    assert str(deal) == "Unknown start"
    # A deal without a known entry time (e.g. imported) moves with an unknown duration.
    Deal.objects.filter(pk=deal.pk).update(stage_entered_at=None)
    deal = services.deal_move(actor=people.rep, deal=deal, stage=lost, lost_reason=reason)
    change = deal.stage_changes.order_by("-id").first()
    assert change is not None and change.seconds_in_previous is None
    assert str(change) == f"{deal.pk} → {lost.pk}"
    items, _ = timeline(deal, "deal")
    assert [i.body for i in items if i.title == "Moved to Lost"] == [""]
    # Same pipeline named again: no move; a note alone changes on a lost deal.
    deal = services.deal_update(actor=people.rep, deal=deal, pipeline=chosen, lost_note="Later")
    assert deal.stage == lost and deal.lost_note == "Later"


def test_durations_read_like_people_say_them() -> None:
    from apps.deals.timeline import duration

    assert duration(None) == ""
    assert duration(30) == "under a minute"
    assert duration(60) == "1 minute" and duration(7200) == "2 hours"
    assert duration(86400 * 3 + 5) == "3 days"
