"""Web forms: Admins build them (fields, assignment rule, thank-you message or redirect); each
submission on the hosted page creates a lead with its campaign (UTM) values, assigned by the
form's rule. Building is audited as the Admin; a submission is audited as the form."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from apps.accounts.models import User
from apps.audit.services import audit_record
from apps.records import customfields
from apps.records.services import tags_resolve

from .models import AssignmentRule, Lead, WebForm, WebFormField
from .services import _audit, _require_admin, lead_insert, source_resolve

# Lead fields a form may ask for, with their default labels.
LEAD_FIELDS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "company_name": "Company",
    "title": "Job title",
    "notes": "Message",
}
# What the hosted page captures besides the visible fields (hidden inputs).
TRACKING = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_FIELDS = 40


def available_targets() -> list[tuple[str, str]]:
    """Every field a form may hold: lead fields and the lead custom fields."""
    return [
        *LEAD_FIELDS.items(),
        *((f"cf_{f.key}", f.label) for f in customfields.definitions("lead")),
    ]


def _clean_fields(fields: Iterable[dict[str, Any]]) -> list[WebFormField]:
    targets = dict(available_targets())
    rows: list[WebFormField] = []
    seen: set[str] = set()
    for index, raw in enumerate(fields):
        target = str(raw.get("target", "")).strip()
        if target not in targets:
            raise ValidationError({"fields": f"{target!r} is not a lead field."})
        if target in seen:
            raise ValidationError({"fields": f"{targets[target]} is on the form twice."})
        seen.add(target)
        label = str(raw.get("label") or targets[target]).strip()[:100]
        order = raw.get("order")
        rows.append(
            WebFormField(
                target=target,
                label=label,
                required=bool(raw.get("required")),
                placeholder=str(raw.get("placeholder") or "").strip()[:100],
                order=int(order) if order not in (None, "") else index,
            )
        )
    if not rows:
        raise ValidationError({"fields": "A form needs at least one field."})
    if len(rows) > MAX_FIELDS:
        raise ValidationError({"fields": f"A form holds at most {MAX_FIELDS} fields."})
    if not seen & {"first_name", "last_name", "email"}:
        raise ValidationError(
            {"fields": "A form needs a name or an email field (a lead needs one of them)."}
        )
    return rows


def _apply(form: WebForm, values: dict[str, Any]) -> None:
    for name in ("name", "title", "intro", "submit_label", "thank_you_message", "redirect_url"):
        if values.get(name) is not None:
            setattr(form, name, str(values[name]).strip())
    if "active" in values and values["active"] is not None:
        form.active = bool(values["active"])
    if "source" in values:
        form.source = source_resolve(values["source"])
    if values.get("assignment") is not None:
        if values["assignment"] not in AssignmentRule.values:
            raise ValidationError({"assignment": "Choose fixed or round_robin."})
        form.assignment = values["assignment"]
    if "fixed_owner" in values:
        owner = values["fixed_owner"]
        if owner is not None and not owner.is_active:
            raise ValidationError({"fixed_owner": "The owner must be an active member."})
        form.fixed_owner = owner
    if not form.name:
        raise ValidationError({"name": "Name the form."})
    if not form.submit_label:
        form.submit_label = "Send"
    if form.redirect_url:
        try:
            URLValidator(schemes=["http", "https"])(form.redirect_url)
        except ValidationError:
            raise ValidationError({"redirect_url": "Give a full http(s) address."}) from None
    if form.assignment == AssignmentRule.FIXED and form.fixed_owner is None:
        raise ValidationError({"fixed_owner": "Choose who gets the leads of this form."})


def _set_related(
    actor: Any,
    form: WebForm,
    fields: list[dict[str, Any]] | None,
    round_robin_users: list[User] | None,
    tags: list[str] | None,
) -> None:
    if fields is not None:
        rows = _clean_fields(fields)
        form.fields.all().delete()
        for row in rows:
            row.form = form
        WebFormField.objects.bulk_create(rows)
    if round_robin_users is not None:
        inactive = [u for u in round_robin_users if not u.is_active]
        if inactive:
            raise ValidationError({"round_robin_users": f"{inactive[0]} is not active."})
        form.round_robin_users.set(round_robin_users)
    if tags is not None:
        form.tags.set(tags_resolve(actor=actor, names=tags))
    if form.assignment == AssignmentRule.ROUND_ROBIN and not form.round_robin_users.exists():
        raise ValidationError({"round_robin_users": "Choose the users who take turns."})


@transaction.atomic
def webform_create(
    *,
    actor: Any,
    name: str,
    fields: list[dict[str, Any]],
    round_robin_users: list[User] | None = None,
    tags: list[str] | None = None,
    **values: Any,
) -> WebForm:
    """A new form (Admins only); `fields` are dicts with target, label, required,
    placeholder and order."""
    _require_admin(actor, "build web forms")
    form = WebForm(public_id=secrets.token_urlsafe(12).replace("_", "x").replace("-", "y"))
    values.setdefault("assignment", AssignmentRule.FIXED)
    if values["assignment"] == AssignmentRule.FIXED:
        from apps.records.services import default_owner

        values.setdefault("fixed_owner", default_owner(actor))
    _apply(form, {"name": name, **values})
    form.save()
    _set_related(actor, form, fields, round_robin_users, tags)
    _audit(actor, "webform.created", form, name=form.name)
    return form


@transaction.atomic
def webform_update(
    *,
    actor: Any,
    form: WebForm,
    fields: list[dict[str, Any]] | None = None,
    round_robin_users: list[User] | None = None,
    tags: list[str] | None = None,
    **values: Any,
) -> WebForm:
    """Change a form; `fields`, `round_robin_users` and `tags` replace their lists."""
    _require_admin(actor, "change web forms")
    form = WebForm.objects.select_for_update().get(pk=form.pk)
    _apply(form, values)
    form.save()
    _set_related(actor, form, fields, round_robin_users, tags)
    _audit(actor, "webform.changed", form, name=form.name, changes=sorted(values))
    return form


@transaction.atomic
def webform_delete(*, actor: Any, form: WebForm) -> None:
    """Delete a form; its leads stay (they just no longer name it)."""
    _require_admin(actor, "delete web forms")
    _audit(actor, "webform.deleted", form, name=form.name)
    form.delete()


def _next_owner(form: WebForm) -> User:
    """Who gets the next lead: the fixed owner, or the next active user in round-robin order
    (the form row is locked, so concurrent submissions take turns correctly)."""
    from apps.records.services import default_owner

    if form.assignment == AssignmentRule.ROUND_ROBIN:
        users = list(form.round_robin_users.filter(is_active=True).order_by("pk"))
        if users:
            owner = users[form.round_robin_counter % len(users)]
            form.round_robin_counter += 1
            return owner
    elif form.fixed_owner is not None and form.fixed_owner.is_active:
        return form.fixed_owner
    return default_owner(None)


@transaction.atomic
def webform_submit(
    *,
    form: WebForm,
    values: dict[str, Any],
    tracking: dict[str, str],
    ip_address: str | None = None,
) -> Lead:
    """Create the lead of one submission: `values` keyed by form target (lead field or
    `cf_<key>`), `tracking` with the UTM values, `referrer` and `landing_page`. Raises
    ValidationError keyed by target for bad input; nothing is saved then."""
    locked = WebForm.objects.select_for_update().get(pk=form.pk)
    if not locked.active:
        raise PermissionDenied("This form is closed.")
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for target, value in values.items():
        if target.startswith("cf_"):
            custom[target[3:]] = value
        elif target in LEAD_FIELDS:
            fields[target] = value
    for name in TRACKING:
        fields[name] = str(tracking.get(name, ""))[:200]
    for name in ("referrer", "landing_page"):
        url = str(tracking.get(name, ""))[:1000]
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            url = ""  # whatever a page sends that is not an address is dropped, not refused
        fields[name] = url
    owner = _next_owner(locked)
    try:
        lead = lead_insert(
            actor=None,
            owner=owner,
            source=locked.source,
            custom_fields=custom,
            allow_duplicate=True,
            web_form=locked,
            **fields,
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise ValidationError(
                {k.replace("custom_fields.", "cf_"): v for k, v in exc.message_dict.items()}
            ) from None
        raise
    tags = list(locked.tags.all())
    if tags:
        lead.tags.set(tags)
    locked.submissions += 1
    locked.save(update_fields=["submissions", "round_robin_counter"])
    audit_record(
        action="lead.created",
        actor_label=f"Web form {locked.name}",
        target=lead,
        detail={"web_form": locked.pk, "owner": owner.pk},
        ip_address=ip_address,
    )
    return lead
