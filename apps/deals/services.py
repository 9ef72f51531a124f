"""Writes on pipelines, stages, lost reasons and deals. Each checks the actor may do it
(PermissionDenied otherwise), runs in a transaction, records history (deal field changes),
and an audit entry. Pipelines, stages and lost reasons are changed by Admins only.

Invariants kept here:
- every pipeline has its open stages first, then exactly one won and one lost stage;
- a deal's `status` is its stage's kind, `pipeline` its stage's pipeline;
- every stage change of a deal is a `DealStageChange` row (with the seconds spent in the
  previous stage), and `stage_entered_at` is when it entered the current one;
- won deals carry `won_at`, lost deals `lost_at` and (when the organisation keeps a list of
  reasons) a lost reason; reopening clears them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.dateparse import parse_date

from apps.accounts.models import Team, User
from apps.accounts.roles import ADMIN_ROLES
from apps.audit.services import audit_record
from apps.companies.models import Company
from apps.contacts.models import Contact
from apps.core import visibility
from apps.core.ordering import next_order
from apps.notifications.services import assignment_notify
from apps.records import customfields, search
from apps.records.services import actor_label, actor_user, default_owner, record_share, tags_resolve
from apps.reports.cache import reports_changed

from .models import Deal, DealStageChange, LostReason, Pipeline, Stage, StageKind


class DealErrorCode(enum.StrEnum):
    """Stable codes of the errors below (ValidationError.code), for clients to branch on."""

    LOST_REASON_REQUIRED = "lost_reason_required"
    STAGE_HOLDS_DEALS = "stage_holds_deals"
    TERMINAL_STAGE = "terminal_stage"
    PIPELINE_HOLDS_DEALS = "pipeline_holds_deals"
    LAST_PIPELINE = "last_pipeline"


DEFAULT_PIPELINE = "Sales"
DEFAULT_STAGES: list[tuple[str, int, str]] = [
    ("Qualified", 10, StageKind.OPEN),
    ("Contact made", 20, StageKind.OPEN),
    ("Demo scheduled", 40, StageKind.OPEN),
    ("Proposal made", 60, StageKind.OPEN),
    ("Negotiation", 80, StageKind.OPEN),
    ("Won", 100, StageKind.WON),
    ("Lost", 0, StageKind.LOST),
]
DEFAULT_LOST_REASONS = ["Price", "Lost to a competitor", "No budget", "No decision", "Timing"]
# What deal_create/deal_update accept besides their named arguments.
EXTRA_FIELDS = ("lost_reason", "lost_note", "position")
# Words typo correction may suggest come from deal titles.
MAX_LINKS = 50


def _audit(actor: Any, action: str, target: Any, **detail: Any) -> None:
    audit_record(
        action=action,
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        target=target,
        detail=detail,
    )


def _coded(field: str, message: str, code: str) -> ValidationError:
    """An error on `field` that carries a stable `code` (ValidationError.code)."""
    return ValidationError({field: ValidationError(message, code=code)})


def _require_admin(actor: Any, what: str) -> None:
    if getattr(actor, "role", None) not in ADMIN_ROLES:
        raise PermissionDenied(f"Only Admins may {what}.")


def _name(value: Any, field: str, what: str) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise ValidationError({field: f"{what} needs a name."})
    if len(text) > 100:
        raise ValidationError({field: f"{what} names are limited to 100 characters."})
    return text


def _percent(value: Any, field: str = "probability") -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "A probability is a whole number from 0 to 100."}) from None
    if not 0 <= number <= 100:
        raise ValidationError({field: "A probability is a whole number from 0 to 100."})
    return number


def _rotting(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise ValidationError({"rotting_days": "Rotting days are a whole number."}) from None
    if days < 1 or days > 3650:
        raise ValidationError({"rotting_days": "Rotting days are between 1 and 3650 (or empty)."})
    return days


# Pipelines --------------------------------------------------------------------------------


def _renumber(pipeline: Pipeline) -> None:
    """Open stages keep their relative order, then the won stage, then the lost stage."""
    stages = list(pipeline.stages.all())
    ordered = (
        [s for s in stages if s.kind == StageKind.OPEN]
        + [s for s in stages if s.kind == StageKind.WON]
        + [s for s in stages if s.kind == StageKind.LOST]
    )
    changed = []
    for index, stage in enumerate(ordered, start=1):
        if stage.order != index:
            stage.order = index
            changed.append(stage)
    Stage.objects.bulk_update(changed, ["order"])


def _stage_specs(stages: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Open stages for a new pipeline: names, or dicts with name/probability/rotting_days."""
    if stages is None:
        return [
            {"name": name, "probability": p}
            for name, p, kind in DEFAULT_STAGES
            if kind == StageKind.OPEN
        ]
    specs = []
    for item in stages:
        spec = dict(item) if isinstance(item, dict) else {"name": item}
        if spec.get("kind", StageKind.OPEN) != StageKind.OPEN:
            continue  # won and lost are added by the pipeline itself
        specs.append(
            {
                "name": _name(spec.get("name"), "stages", "A stage"),
                "probability": _percent(spec.get("probability", 0), "stages"),
                "rotting_days": _rotting(spec.get("rotting_days")),
            }
        )
    if not specs:
        raise ValidationError({"stages": "A pipeline needs at least one open stage."})
    if len({str(s["name"]).lower() for s in specs}) != len(specs):
        raise ValidationError({"stages": "Stage names must differ within a pipeline."})
    return specs


def _pipeline_with_stages(name: str, specs: list[dict[str, Any]], *, default: bool) -> Pipeline:
    if Pipeline.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"There is already a pipeline {name!r}."})
    order = next_order(Pipeline.objects.all())
    pipeline = Pipeline.objects.create(name=name, order=order, is_default=default)
    names = {s["name"].lower() for s in specs}
    won = "Won" if "won" not in names else "Won (closed)"
    lost = "Lost" if "lost" not in names else "Lost (closed)"
    Stage.objects.bulk_create(
        [Stage(pipeline=pipeline, order=i, kind=StageKind.OPEN, **s) for i, s in enumerate(specs)]
        + [
            Stage(pipeline=pipeline, name=won, probability=100, kind=StageKind.WON),
            Stage(pipeline=pipeline, name=lost, probability=0, kind=StageKind.LOST),
        ]
    )
    _renumber(pipeline)
    return pipeline


def pipeline_default() -> Pipeline:
    """The organisation's default pipeline, created ("Sales" with the usual stages, and a
    starter list of lost reasons) for an organisation that has none. Without a default
    flag, the first pipeline (un-archived if need be) becomes the default. Safe to call
    concurrently: a second caller gets the first one's pipeline."""
    found = Pipeline.objects.filter(is_default=True).first()
    if found is not None:
        return found
    found = Pipeline.objects.order_by("archived", "order", "id").first()
    if found is not None:
        Pipeline.objects.filter(pk=found.pk).update(is_default=True, archived=False)
        found.is_default, found.archived = True, False
        return found
    try:
        with transaction.atomic():
            found = _pipeline_with_stages(
                DEFAULT_PIPELINE,
                [{"name": n, "probability": p} for n, p, kind in DEFAULT_STAGES if kind == "open"],
                default=True,
            )
            if not LostReason.objects.exists():
                LostReason.objects.bulk_create(
                    [LostReason(name=n, order=i) for i, n in enumerate(DEFAULT_LOST_REASONS)]
                )
    except IntegrityError:  # pragma: no cover - another request created it a moment ago
        return Pipeline.objects.get(is_default=True)
    return found


@transaction.atomic
def pipeline_create(
    *, actor: Any, name: str, stages: Iterable[Any] | None = None, is_default: bool = False
) -> Pipeline:
    """A pipeline with the given open stages (default: the usual sales stages), followed by
    its won and lost stages."""
    _require_admin(actor, "create pipelines")
    name = _name(name, "name", "A pipeline")
    specs = _stage_specs(stages)
    first = not Pipeline.objects.exists()
    if is_default:
        Pipeline.objects.filter(is_default=True).update(is_default=False)
    pipeline = _pipeline_with_stages(name, specs, default=is_default or first)
    _audit(actor, "pipeline.created", pipeline, name=name)
    return pipeline


@transaction.atomic
def pipeline_update(
    *,
    actor: Any,
    pipeline: Pipeline,
    name: str | None = None,
    order: int | None = None,
    is_default: bool | None = None,
    archived: bool | None = None,
) -> Pipeline:
    _require_admin(actor, "change pipelines")
    if name is not None:
        name = _name(name, "name", "A pipeline")
        if Pipeline.objects.filter(name__iexact=name).exclude(pk=pipeline.pk).exists():
            raise ValidationError({"name": f"There is already a pipeline {name!r}."})
        pipeline.name = name
    if order is not None:
        pipeline.order = max(0, int(order))
    if archived is not None:
        if archived and (is_default or (pipeline.is_default and is_default is None)):
            raise ValidationError(
                {"archived": "The default pipeline cannot be archived; make another default."}
            )
        pipeline.archived = archived
    if is_default is True and not pipeline.is_default:
        if pipeline.archived:
            raise ValidationError({"is_default": "An archived pipeline cannot be the default."})
        Pipeline.objects.filter(is_default=True).update(is_default=False)
        pipeline.is_default = True
    elif is_default is False and pipeline.is_default:
        raise ValidationError({"is_default": "Make another pipeline the default instead."})
    pipeline.save()
    _audit(actor, "pipeline.changed", pipeline, name=pipeline.name)
    return pipeline


@transaction.atomic
def pipeline_reorder(*, actor: Any, ids: list[int]) -> None:
    """Pipelines in the order of `ids` (others keep their place after them)."""
    _require_admin(actor, "reorder pipelines")
    pipelines = {p.pk: p for p in Pipeline.objects.all()}
    unknown = [str(i) for i in ids if int(i) not in pipelines]
    if unknown:
        raise ValidationError({"ids": f"No such pipeline: {', '.join(unknown)}."})
    rest = [pk for pk in pipelines if pk not in {int(i) for i in ids}]
    for index, pk in enumerate([*map(int, ids), *rest], start=1):
        pipelines[pk].order = index
    Pipeline.objects.bulk_update(pipelines.values(), ["order"])
    _audit(actor, "pipeline.reordered", None, ids=[int(i) for i in ids])


def _stage_like(stage: Stage, target: Pipeline) -> Stage:
    """The stage of `target` that a deal in `stage` moves to when its pipeline goes away."""
    stages = list(target.stages.all())
    if stage.kind != StageKind.OPEN:
        return next(s for s in stages if s.kind == stage.kind)
    same = [s for s in stages if s.kind == StageKind.OPEN and s.name.lower() == stage.name.lower()]
    return same[0] if same else next(s for s in stages if s.kind == StageKind.OPEN)


@transaction.atomic
def pipeline_delete(*, actor: Any, pipeline: Pipeline, move_to: Pipeline | None = None) -> None:
    """Delete a pipeline. Its deals must go somewhere: `move_to` names the pipeline (deals
    land in the stage of the same name, else its first open stage; won and lost stay won and
    lost). The last pipeline cannot be deleted; deleting the default makes another default."""
    _require_admin(actor, "delete pipelines")
    others = Pipeline.objects.exclude(pk=pipeline.pk)
    if not others.exists():
        raise _coded(
            "pipeline", "The last pipeline cannot be deleted.", DealErrorCode.LAST_PIPELINE
        )
    held = Deal.objects.filter(pipeline=pipeline).count()
    if held:
        if move_to is None:
            raise _coded(
                "move_to",
                f"{pipeline.name} holds {held} deal(s): choose the pipeline to move them to.",
                DealErrorCode.PIPELINE_HOLDS_DEALS,
            )
        if move_to.pk == pipeline.pk:
            raise ValidationError({"move_to": "Choose another pipeline to move the deals to."})
        for stage in pipeline.stages.all():
            _move_all(actor, stage, _stage_like(stage, move_to))
    if pipeline.is_default:
        replacement = others.filter(archived=False).first() or others.first()
        assert replacement is not None
        pipeline.is_default = False
        pipeline.save(update_fields=["is_default"])
        Pipeline.objects.filter(pk=replacement.pk).update(is_default=True, archived=False)
    _audit(actor, "pipeline.deleted", pipeline, name=pipeline.name, moved=held)
    pipeline.delete()


# Stages -----------------------------------------------------------------------------------


def _unique_stage_name(pipeline: Pipeline, name: str, exclude: int | None = None) -> None:
    clash = Stage.objects.filter(pipeline=pipeline, name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": f"{pipeline.name} already has a stage {name!r}."})


@transaction.atomic
def stage_create(
    *,
    actor: Any,
    pipeline: Pipeline,
    name: str,
    probability: int = 0,
    rotting_days: int | None = None,
    order: int | None = None,
) -> Stage:
    """An open stage, placed at `order` among the open stages (1 = first; default: last
    before won and lost)."""
    _require_admin(actor, "change stages")
    name = _name(name, "name", "A stage")
    _unique_stage_name(pipeline, name)
    open_stages = list(pipeline.stages.filter(kind=StageKind.OPEN))
    position = len(open_stages) if order is None else max(0, min(int(order) - 1, len(open_stages)))
    stage = Stage(
        pipeline=pipeline,
        name=name,
        probability=_percent(probability),
        rotting_days=_rotting(rotting_days),
        kind=StageKind.OPEN,
    )
    stage.save()
    open_stages.insert(position, stage)
    for index, item in enumerate(open_stages, start=1):
        item.order = index
    Stage.objects.bulk_update(open_stages, ["order"])
    _renumber(pipeline)
    _audit(actor, "stage.created", stage, name=name, pipeline=pipeline.pk)
    stage.refresh_from_db()
    return stage


@transaction.atomic
def stage_update(*, actor: Any, stage: Stage, **changes: Any) -> Stage:
    """Rename, change probability or rotting days, or move an open stage (`order`, 1 =
    first). A stage's kind never changes: won and lost stay last."""
    _require_admin(actor, "change stages")
    unknown = set(changes) - {"name", "probability", "rotting_days", "order", "kind", "pipeline"}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Stages have no such field."})
    if "kind" in changes and changes["kind"] not in (None, stage.kind):
        raise ValidationError({"kind": "A stage's kind cannot change."})
    if "pipeline" in changes and changes["pipeline"] not in (None, stage.pipeline):
        raise ValidationError({"pipeline": "A stage cannot move to another pipeline."})
    if changes.get("name") is not None:
        name = _name(changes["name"], "name", "A stage")
        _unique_stage_name(stage.pipeline, name, exclude=stage.pk)
        stage.name = name
    if changes.get("probability") is not None:
        stage.probability = _percent(changes["probability"])
    if "rotting_days" in changes:
        stage.rotting_days = _rotting(changes["rotting_days"])
    stage.save()
    if changes.get("order") is not None:
        if stage.kind != StageKind.OPEN:
            raise ValidationError({"order": "Won and lost stages stay at the end."})
        ids = list(
            stage.pipeline.stages.filter(kind=StageKind.OPEN)
            .exclude(pk=stage.pk)
            .values_list("pk", flat=True)
        )
        ids.insert(max(0, min(int(changes["order"]) - 1, len(ids))), stage.pk)
        _reorder(stage.pipeline, ids)
    _audit(actor, "stage.changed", stage, name=stage.name, changes=sorted(changes))
    stage.refresh_from_db()
    return stage


def _reorder(pipeline: Pipeline, ids: list[int]) -> None:
    stages = {s.pk: s for s in pipeline.stages.filter(kind=StageKind.OPEN)}
    ids = [int(i) for i in ids]
    if sorted(ids) != sorted(stages):
        raise ValidationError({"ids": f"Name every open stage of {pipeline.name} once."})
    for index, pk in enumerate(ids, start=1):
        stages[pk].order = index
    Stage.objects.bulk_update(stages.values(), ["order"])
    _renumber(pipeline)


@transaction.atomic
def stage_reorder(*, actor: Any, pipeline: Pipeline, ids: list[int]) -> None:
    """The open stages of `pipeline` in the order of `ids`; won and lost stay last."""
    _require_admin(actor, "reorder stages")
    _reorder(pipeline, ids)
    _audit(actor, "stage.reordered", pipeline, ids=[int(i) for i in ids])


def _move_all(actor: Any, source: Stage, target: Stage) -> int:
    """Move every deal of `source` to `target`, recording each stage change."""
    now = timezone.now()
    deals = list(Deal.objects.filter(stage=source).select_for_update())
    if not deals:
        return 0
    user = actor_user(actor)
    DealStageChange.objects.bulk_create(
        [
            DealStageChange(
                deal=d,
                from_stage=source,
                to_stage=target,
                changed_at=now,
                changed_by=user,
                seconds_in_previous=_seconds(d, now),
            )
            for d in deals
        ]
    )
    for deal in deals:
        deal.pipeline_id = target.pipeline_id
        _enter(deal, target, now)
    Deal.objects.bulk_update(
        deals, ["pipeline", "stage", "status", "stage_entered_at", "won_at", "lost_at"]
    )
    reports_changed()  # bulk_update sends no signals
    return len(deals)


@transaction.atomic
def stage_delete(*, actor: Any, stage: Stage, move_to: Stage | None = None) -> int:
    """Delete an open stage. If it holds deals, `move_to` (a stage of any pipeline) must say
    where they go; each move is recorded. Returns how many deals moved."""
    _require_admin(actor, "delete stages")
    if stage.kind != StageKind.OPEN:
        raise _coded(
            "stage", "Won and lost stages cannot be deleted.", DealErrorCode.TERMINAL_STAGE
        )
    if not stage.pipeline.stages.filter(kind=StageKind.OPEN).exclude(pk=stage.pk).exists():
        raise ValidationError({"stage": "A pipeline needs at least one open stage."})
    held = Deal.objects.filter(stage=stage).count()
    moved = 0
    if held:
        if move_to is None:
            raise _coded(
                "move_to",
                f"{stage.name} holds {held} deal(s): choose the stage to move them to.",
                DealErrorCode.STAGE_HOLDS_DEALS,
            )
        if move_to.pk == stage.pk:
            raise ValidationError({"move_to": "Choose another stage to move the deals to."})
        moved = _move_all(actor, stage, move_to)
    pipeline = stage.pipeline
    _audit(actor, "stage.deleted", stage, name=stage.name, moved=moved)
    stage.delete()
    _renumber(pipeline)
    return moved


# Lost reasons -----------------------------------------------------------------------------


@transaction.atomic
def lostreason_create(*, actor: Any, name: str, order: int | None = None) -> LostReason:
    _require_admin(actor, "change lost reasons")
    name = _name(name, "name", "A lost reason")
    if LostReason.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"There is already a lost reason {name!r}."})
    if order is None:
        order = next_order(LostReason.objects.all())
    reason = LostReason.objects.create(name=name, order=max(0, int(order)))
    _audit(actor, "lostreason.created", reason, name=name)
    return reason


@transaction.atomic
def lostreason_update(
    *,
    actor: Any,
    reason: LostReason,
    name: str | None = None,
    order: int | None = None,
    archived: bool | None = None,
) -> LostReason:
    _require_admin(actor, "change lost reasons")
    if name is not None:
        name = _name(name, "name", "A lost reason")
        if LostReason.objects.filter(name__iexact=name).exclude(pk=reason.pk).exists():
            raise ValidationError({"name": f"There is already a lost reason {name!r}."})
        reason.name = name
    if order is not None:
        reason.order = max(0, int(order))
    if archived is not None:
        reason.archived = archived
    reason.save()
    _audit(actor, "lostreason.changed", reason, name=reason.name)
    return reason


@transaction.atomic
def lostreason_delete(*, actor: Any, reason: LostReason) -> bool:
    """Delete a lost reason; one that deals still name is archived instead (hidden from
    choices, kept on those deals and in reports). Returns True when really deleted."""
    _require_admin(actor, "change lost reasons")
    if Deal.objects.filter(lost_reason=reason).exists():
        reason.archived = True
        reason.save(update_fields=["archived"])
        _audit(actor, "lostreason.archived", reason, name=reason.name)
        return False
    _audit(actor, "lostreason.deleted", reason, name=reason.name)
    reason.delete()
    return True


# Deals ------------------------------------------------------------------------------------


def _seconds(deal: Deal, now: Any) -> int | None:
    if deal.stage_entered_at is None:
        return None
    return max(0, int((now - deal.stage_entered_at).total_seconds()))


def _enter(deal: Deal, stage: Stage, now: Any) -> None:
    """Put `deal` in `stage` (status, won/lost dates), without saving."""
    deal.stage = stage
    deal.status = stage.kind
    deal.stage_entered_at = now
    if stage.kind == StageKind.WON:
        deal.won_at, deal.lost_at = now, None
        deal.lost_reason, deal.lost_note = None, ""
    elif stage.kind == StageKind.LOST:
        deal.lost_at, deal.won_at = now, None
    else:
        deal.won_at = deal.lost_at = None
        deal.lost_reason, deal.lost_note = None, ""


def _stage(value: Any) -> Stage:
    if isinstance(value, Stage):
        return value
    try:
        return Stage.objects.select_related("pipeline").get(pk=int(value))
    except (Stage.DoesNotExist, TypeError, ValueError, OverflowError):
        raise ValidationError({"stage": f"No such stage: {value}."}) from None


def _pipeline(value: Any) -> Pipeline:
    if isinstance(value, Pipeline):
        return value
    try:
        return Pipeline.objects.get(pk=int(value))
    except (Pipeline.DoesNotExist, TypeError, ValueError, OverflowError):
        raise ValidationError({"pipeline": f"No such pipeline: {value}."}) from None


def _lost_reason(value: Any) -> LostReason | None:
    if value in (None, ""):
        return None
    if isinstance(value, LostReason):
        return value
    reasons = LostReason.objects.all()
    found = (
        reasons.filter(pk=int(value)).first()
        if str(value).isdigit()
        else reasons.filter(name__iexact=str(value).strip()).first()
    )
    if found is None:
        raise ValidationError({"lost_reason": f"No such lost reason: {value}."})
    return found


def _needs_reason() -> bool:
    return LostReason.objects.filter(archived=False).exists()


def _money(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValidationError({"value": f"{str(value)[:40]!r} is not an amount."}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError({"value": "A deal's value is zero or more."})
    if amount >= Decimal("1e12"):
        raise ValidationError({"value": "A deal's value is less than 1,000,000,000,000."})
    return amount.quantize(Decimal("0.01"))


def _currency(value: Any) -> str:
    code = str(value or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValidationError({"currency": "A currency is a three-letter code such as EUR."})
    return code


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    parsed = parse_date(str(value))
    if parsed is None:
        raise ValidationError({"expected_close": "Dates are written like 2026-12-31."})
    return parsed


def _visible(actor: Any, model: Any, ids: Iterable[Any], field: str) -> list[Any]:
    wanted: list[int] = []
    for item in ids:
        try:
            pk = item.pk if isinstance(item, model) else int(item)
        except (TypeError, ValueError):
            raise ValidationError({field: f"{item!r} is not a record id."}) from None
        if pk not in wanted:
            wanted.append(pk)
    if len(wanted) > MAX_LINKS:
        raise ValidationError({field: f"A deal links at most {MAX_LINKS} {field}."})
    manager = getattr(model, "all_objects", model._default_manager)
    found = {r.pk: r for r in visibility.visible(manager.all(), actor).filter(pk__in=wanted)}
    missing = [str(pk) for pk in wanted if pk not in found]
    if missing:
        what = model._meta.verbose_name
        raise ValidationError({field: f"No such {what}: {', '.join(missing)}."})
    return [found[pk] for pk in wanted]


def refresh_search_text(deal: Deal, *, contacts: list[Any] | None = None) -> None:
    """The words the search box finds a deal by: its title, linked companies and contacts."""
    if contacts is None:
        contacts = list(deal.contacts.all()) if deal.pk else []
    companies = list(deal.companies.values_list("name", flat=True)) if deal.pk else []
    deal.search_text = search.document(
        deal.title, *companies, *(f"{c.first_name} {c.last_name} {c.email}" for c in contacts)
    )
    search.remember_words(search.document(deal.title))


def _owner(value: Any) -> User:
    user = value if isinstance(value, User) else User.objects.filter(pk=value).first()
    if user is None or not user.is_active:
        raise ValidationError({"owner": "The owner must be an active member."})
    return user


def _probability(value: Any) -> int | None:
    return None if value in (None, "") else _percent(value)


def _top_position(stage: Stage) -> float:
    lowest = Deal.objects.filter(stage=stage).aggregate(m=Min("position"))["m"]
    return 0.0 if lowest is None else float(lowest) - 1.0


@transaction.atomic
def deal_create(
    *,
    actor: Any,
    title: str,
    value: Any = None,
    currency: str | None = None,
    pipeline: Any = None,
    stage: Any = None,
    owner: Any = None,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    contacts: list[Any] | None = None,
    companies: list[Any] | None = None,
    expected_close: Any = None,
    probability: Any = None,
    allow_duplicate: bool = False,
    **fields: Any,
) -> Deal:
    """A deal in `stage` (default: the first open stage of `pipeline`, default: the default
    pipeline), owned by `owner` (default: the actor), linked to contacts and companies the
    actor may see. `allow_duplicate` is accepted for the shared record API (deals are not
    checked for duplicates). Extra fields: lost_reason, lost_note, position."""
    if not visibility.can_create(actor, Deal):
        raise PermissionDenied("Read-only access cannot create records.")
    unknown = sorted(set(fields) - set(EXTRA_FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: "Deals have no such field."})
    title = " ".join(str(title or "").split())
    if not title:
        raise ValidationError({"title": "A deal needs a title."})
    if len(title) > 200:
        raise ValidationError({"title": "Titles are limited to 200 characters."})
    if stage not in (None, ""):
        chosen = _stage(stage)
        if pipeline not in (None, "") and _pipeline(pipeline).pk != chosen.pipeline_id:
            raise ValidationError({"stage": f"{chosen.name} is not a stage of that pipeline."})
    else:
        target = _pipeline(pipeline) if pipeline not in (None, "") else pipeline_default()
        found = target.stages.filter(kind=StageKind.OPEN).first()
        if found is None:  # pragma: no cover - services keep an open stage in every pipeline
            raise ValidationError({"pipeline": f"{target.name} has no open stage."})
        chosen = found
    try:
        cf = customfields.clean_values("deal", custom_fields, creating=True)
    except ValidationError as exc:
        raise customfields.keyed_errors(exc) from None
    linked_contacts = _visible(actor, Contact, contacts or [], "contacts")
    linked_companies = _visible(actor, Company, companies or [], "companies")
    reason = _lost_reason(fields.get("lost_reason"))
    if chosen.kind == StageKind.LOST and reason is None and _needs_reason():
        raise _coded(
            "lost_reason", "Choose why the deal was lost.", DealErrorCode.LOST_REASON_REQUIRED
        )
    now = timezone.now()
    deal = Deal(
        title=title,
        value=_money(value),
        currency=_currency(currency or "USD"),
        pipeline_id=chosen.pipeline_id,
        probability=_probability(probability),
        expected_close=_date(expected_close),
        owner=_owner(owner) if owner is not None else default_owner(actor),
        custom_fields=cf,
    )
    _enter(deal, chosen, now)
    if chosen.kind == StageKind.LOST:
        deal.lost_reason = reason
        deal.lost_note = str(fields.get("lost_note") or "").strip()[:500]
    position = fields.get("position")
    deal.position = float(position) if position is not None else _top_position(chosen)
    deal.full_clean(exclude=["owner", "pipeline", "stage", "search_text"])
    deal._history_user = actor_user(actor)  # type: ignore[attr-defined]
    deal.save()
    deal.contacts.set(linked_contacts)
    deal.companies.set(linked_companies)
    if tags:
        deal.tags.set(tags_resolve(actor=actor, names=tags))
    refresh_search_text(deal, contacts=linked_contacts)
    Deal.objects.filter(pk=deal.pk).update(search_text=deal.search_text)
    DealStageChange.objects.create(
        deal=deal, to_stage=chosen, changed_at=now, changed_by=actor_user(actor)
    )
    assignment_notify(record=deal, actor=actor)
    _audit(actor, "deal.created", deal, title=title, stage=chosen.pk)
    return deal


@transaction.atomic
def deal_update(*, actor: Any, deal: Deal, **changes: Any) -> Deal:
    """Change fields: title, value, currency, probability (None: the stage's applies),
    expected_close, owner, lost_reason, lost_note, tags and contacts/companies (replacing
    the lists), custom_fields (merged into the stored ones). A new `stage` or `pipeline`
    moves the deal (see `deal_move`)."""
    if not visibility.can_change(actor, deal):
        raise PermissionDenied("You may not change this deal.")
    changes.pop("allow_duplicate", None)
    allowed = {
        "title",
        "value",
        "currency",
        "probability",
        "expected_close",
        "owner",
        "tags",
        "custom_fields",
        "contacts",
        "companies",
        "lost_reason",
        "lost_note",
        "stage",
        "pipeline",
        "position",
    }
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError({unknown[0]: "Deals have no such field."})
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    previous_owner = deal.owner_id
    if "title" in changes:
        title = " ".join(str(changes["title"] or "").split())
        if not title:
            raise ValidationError({"title": "A deal needs a title."})
        deal.title = title
    if "value" in changes:
        deal.value = _money(changes["value"])
    if changes.get("currency") is not None:
        deal.currency = _currency(changes["currency"])
    if "probability" in changes:
        deal.probability = _probability(changes["probability"])
    if "expected_close" in changes:
        deal.expected_close = _date(changes["expected_close"])
    if changes.get("owner") is not None:
        deal.owner = _owner(changes["owner"])
    if changes.get("custom_fields") is not None:
        try:
            deal.custom_fields = customfields.clean_values(
                "deal", changes["custom_fields"], existing=deal.custom_fields
            )
        except ValidationError as exc:
            raise customfields.keyed_errors(exc) from None
    new_stage = deal.stage
    if changes.get("stage") not in (None, ""):
        new_stage = _stage(changes["stage"])
    elif changes.get("pipeline") not in (None, ""):
        target = _pipeline(changes["pipeline"])
        if target.pk != deal.pipeline_id:
            new_stage = _stage_like(deal.stage, target)
    if changes.get("pipeline") not in (None, "") and (
        _pipeline(changes["pipeline"]).pk != new_stage.pipeline_id
    ):
        raise ValidationError({"stage": f"{new_stage.name} is not a stage of that pipeline."})
    if "lost_reason" in changes or "lost_note" in changes:
        lost_next = new_stage.kind == StageKind.LOST
        if not lost_next and changes.get("lost_reason") not in (None, ""):
            raise ValidationError({"lost_reason": "Only a lost deal has a lost reason."})
        if lost_next and new_stage.pk == deal.stage_id:
            if "lost_reason" in changes:
                deal.lost_reason = _lost_reason(changes["lost_reason"])
                if deal.lost_reason is None and _needs_reason():
                    raise _coded(
                        "lost_reason",
                        "Choose why the deal was lost.",
                        DealErrorCode.LOST_REASON_REQUIRED,
                    )
            if "lost_note" in changes:
                deal.lost_note = str(changes["lost_note"] or "").strip()[:500]
    contacts = None
    if changes.get("contacts") is not None:
        contacts = _visible(actor, Contact, changes["contacts"], "contacts")
        deal.contacts.set(contacts)
    if changes.get("companies") is not None:
        deal.companies.set(_visible(actor, Company, changes["companies"], "companies"))
    if changes.get("tags") is not None:
        deal.tags.set(tags_resolve(actor=actor, names=changes["tags"]))
    if changes.get("position") is not None and new_stage.pk == deal.stage_id:
        deal.position = float(changes["position"])
    deal.full_clean(exclude=["owner", "pipeline", "stage", "search_text"])
    refresh_search_text(deal, contacts=contacts)
    deal._history_user = actor_user(actor)  # type: ignore[attr-defined]
    deal.save()
    assignment_notify(record=deal, actor=actor, previous_owner_id=previous_owner)
    _audit(actor, "deal.changed", deal, fields=sorted(changes))
    if new_stage.pk != deal.stage_id:
        deal = deal_move(
            actor=actor,
            deal=deal,
            stage=new_stage,
            lost_reason=changes.get("lost_reason"),
            lost_note=str(changes.get("lost_note") or ""),
            position=changes.get("position"),
        )
    return deal


@transaction.atomic
def deal_move(
    *,
    actor: Any,
    deal: Deal,
    stage: Any,
    lost_reason: Any = None,
    lost_note: str = "",
    position: Any = None,
) -> Deal:
    """Move a deal to `stage` (of its pipeline, or of another: the deal moves pipeline
    too), at `position` in the column (default: the top). Won sets `won_at`, lost sets
    `lost_at` and needs a lost reason (when the organisation keeps a list of them);
    reopening clears both. Each stage change is a `DealStageChange` with the seconds spent
    in the previous stage. PermissionDenied when the actor may not change the deal."""
    if not visibility.can_change(actor, deal):
        raise PermissionDenied("You may not move this deal.")
    target = _stage(stage)
    deal = Deal.objects.select_for_update().select_related("stage").get(pk=deal.pk)
    if position is not None:
        try:
            position = float(position)
        except (TypeError, ValueError):
            raise ValidationError({"position": "A position is a number."}) from None
    if target.pk == deal.stage_id:
        if target.kind == StageKind.LOST and lost_reason not in (None, ""):
            deal.lost_reason = _lost_reason(lost_reason)
            deal.lost_note = lost_note.strip()[:500] or deal.lost_note
        if position is not None:
            deal.position = position
        deal._history_user = actor_user(actor)  # type: ignore[attr-defined]
        deal.save()
        return deal
    reason = _lost_reason(lost_reason)
    if target.kind == StageKind.LOST and reason is None and _needs_reason():
        raise _coded(
            "lost_reason", "Choose why the deal was lost.", DealErrorCode.LOST_REASON_REQUIRED
        )
    if target.kind != StageKind.LOST and reason is not None:
        raise ValidationError({"lost_reason": "Only a lost deal has a lost reason."})
    now = timezone.now()
    previous = deal.stage
    DealStageChange.objects.create(
        deal=deal,
        from_stage=previous,
        to_stage=target,
        changed_at=now,
        changed_by=actor_user(actor),
        seconds_in_previous=_seconds(deal, now),
    )
    deal.pipeline_id = target.pipeline_id
    _enter(deal, target, now)
    if target.kind == StageKind.LOST:
        deal.lost_reason = reason
        deal.lost_note = lost_note.strip()[:500]
    deal.position = position if position is not None else _top_position(target)
    deal._history_user = actor_user(actor)  # type: ignore[attr-defined]
    deal.save()
    _audit(
        actor,
        "deal.stage_changed",
        deal,
        **{"from": previous.pk, "to": target.pk, "status": deal.status},
    )
    return deal


@transaction.atomic
def deal_delete(*, actor: Any, deal: Deal) -> None:
    if not visibility.can_delete(actor, deal):
        raise PermissionDenied("Only the owner, their manager or an Admin may delete this.")
    _audit(actor, "deal.deleted", deal, title=deal.title)
    deal._history_user = actor_user(actor)  # type: ignore[attr-defined]
    deal.delete()


def deal_share(
    *, actor: Any, deal: Deal, level: str, user: User | None = None, team: Team | None = None
) -> None:
    """Share with a user or a team, to view or to edit (replacing an earlier share)."""
    record_share(actor=actor, record=deal, level=level, user=user, team=team)
