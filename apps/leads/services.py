"""Writes on leads and lead sources. Each checks the actor may do it (PermissionDenied
otherwise), runs in a transaction, records history and an audit entry. Create and edit raise
`LeadDuplicateSuspected` (likely duplicates among leads and contacts) unless the caller allows
duplicates. Conversion lives in `conversion.py`, web forms in `webforms.py`."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.search import TrigramSimilarity
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat

from apps.accounts.models import Team, User
from apps.accounts.roles import ADMIN_ROLES
from apps.audit.services import audit_record
from apps.contacts.models import Contact
from apps.contacts.services import contact_duplicates
from apps.core import visibility
from apps.core.ordering import next_order
from apps.notifications.services import assignment_notify
from apps.records import customfields, merging, search
from apps.records.duplicates import DuplicateSuspected
from apps.records.merging import MergeSpec
from apps.records.models import Merge
from apps.records.services import actor_label as _label
from apps.records.services import actor_user as _actor_user
from apps.records.services import default_owner, record_share, tags_resolve

from .models import Lead, LeadSource, LeadStatus

FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company_name",
    "title",
    "status",
    "owner",
    "notes",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "landing_page",
)
# The words typo correction may suggest come from these columns.
DICTIONARY_COLUMNS = ("first_name", "last_name", "title", "company_name")


class LeadDuplicateSuspected(DuplicateSuspected):
    """Likely duplicates of a lead: other leads and existing contacts (leads first)."""

    def __init__(self, leads: list[Lead], contacts: list[Contact]) -> None:
        super().__init__([*leads, *contacts])
        self.leads = leads
        self.contacts = contacts


def _audit(actor: Any, action: str, target: Any, **detail: Any) -> None:
    audit_record(
        action=action,
        actor=_actor_user(actor),
        actor_label=_label(actor),
        target=target,
        detail=detail or None,
    )


def refresh_search_text(lead: Lead) -> None:
    lead.search_text = search.document(
        lead.first_name,
        lead.last_name,
        lead.email,
        lead.phone,
        lead.company_name,
        lead.title,
    )
    search.remember_words(search.document(*(getattr(lead, c) for c in DICTIONARY_COLUMNS)))


def normalise_email(raw: str) -> str:
    text = str(raw or "").strip().lower()
    if text:
        try:
            EmailValidator()(text)
        except ValidationError:
            raise ValidationError({"email": f"{text[:60]!r} is not an email address."}) from None
    return text


def normalise_phone(raw: str) -> str:
    text = str(raw or "").strip()
    if not text:
        return ""
    try:
        return customfields.normalise_phone(text)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None


def source_resolve(value: Any) -> LeadSource | None:
    """A lead source given as an object, an id or a name (case-insensitive); None or "" for
    none; ValidationError naming `source` for anything unknown."""
    if value in (None, ""):
        return None
    if isinstance(value, LeadSource):
        return value
    text = str(value).strip()
    found = None
    if text.isdigit():
        found = LeadSource.objects.filter(pk=int(text)).first()
    if found is None:
        found = LeadSource.objects.filter(name__iexact=text).first()
    if found is None:
        raise ValidationError({"source": f"There is no lead source {text[:60]!r}."})
    return found


def lead_duplicates(
    *,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    exclude: int | None = None,
) -> tuple[list[Lead], list[Contact]]:
    """Likely duplicates among open leads (the same email or phone, or a very similar full
    name) and among contacts (as `contact_duplicates` finds them)."""
    name = f"{first_name} {last_name}".strip()
    shared = Q(pk__in=[])
    if email:
        shared |= Q(email__iexact=email)
    if phone:
        shared |= Q(phone=phone)
    by_name = (
        set(search.matching(Lead.objects.all(), name).values_list("pk", flat=True)[:200])
        if search.normalise(name)
        else set()
    )
    leads = (
        Lead.objects.filter(shared | Q(pk__in=by_name))
        .exclude(status=LeadStatus.CONVERTED)
        .annotate(similarity=TrigramSimilarity(Concat("first_name", Value(" "), "last_name"), name))
        .filter(shared | Q(similarity__gte=0.6))
    )
    if exclude is not None:
        leads = leads.exclude(pk=exclude)
    contacts = contact_duplicates(
        first_name=first_name,
        last_name=last_name,
        emails=[email] if email else [],
        phones=[phone] if phone else [],
    )
    return list(leads.order_by("-similarity", "id")[:5]), contacts


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in FIELDS or value is None:
            continue
        if name == "owner":
            if not value.is_active:
                raise ValidationError({"owner": "The owner must be an active member."})
        elif name == "status":
            if value not in LeadStatus.values:
                raise ValidationError({"status": f"Unknown status {value!r}."})
        elif name == "email":
            value = normalise_email(value)
        elif name == "phone":
            value = normalise_phone(value)
        elif isinstance(value, str):
            value = value.strip()
        cleaned[name] = value
    return cleaned


def _check_duplicates(lead: Lead, exclude: int | None = None) -> None:
    leads, contacts = lead_duplicates(
        first_name=lead.first_name,
        last_name=lead.last_name,
        email=lead.email,
        phone=lead.phone,
        exclude=exclude,
    )
    if leads or contacts:
        raise LeadDuplicateSuspected(leads, contacts)


def lead_insert(
    *,
    actor: Any,
    owner: User,
    source: Any = None,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    allow_duplicate: bool = False,
    web_form: Any = None,
    **fields: Any,
) -> Lead:
    """Create a lead without the permission check (web form submissions come from no user):
    callers check who may create."""
    values = _clean({"owner": owner, **fields})
    if values.get("status") == LeadStatus.CONVERTED:
        raise ValidationError({"status": "Convert a lead to mark it converted."})
    if not (values.get("first_name") or values.get("last_name") or values.get("email")):
        raise ValidationError({"first_name": "A lead needs a name or an email address."})
    try:
        cf = customfields.clean_values("lead", custom_fields, creating=True)
    except ValidationError as exc:
        raise customfields.keyed_errors(exc) from None
    lead = Lead(custom_fields=cf, source=source_resolve(source), web_form=web_form, **values)
    if not allow_duplicate:
        _check_duplicates(lead)
    refresh_search_text(lead)
    lead.full_clean(exclude=["owner"])
    lead._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    lead.save()
    if tags:
        lead.tags.set(tags_resolve(actor=actor, names=tags))
    # Web form leads (no actor) tell their owner too: they were given the lead in turn.
    assignment_notify(record=lead, actor=actor)
    return lead


@transaction.atomic
def lead_create(
    *,
    actor: Any,
    owner: User | None = None,
    source: Any = None,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    allow_duplicate: bool = False,
    **fields: Any,
) -> Lead:
    """A new lead (`source` as a LeadSource, an id or a name); duplicates among leads and
    contacts raise `LeadDuplicateSuspected` unless `allow_duplicate`."""
    if not visibility.can_create(actor, Lead):
        raise PermissionDenied("Read-only access cannot create records.")
    lead = lead_insert(
        actor=actor,
        owner=owner or default_owner(actor),
        source=source,
        tags=tags,
        custom_fields=custom_fields,
        allow_duplicate=allow_duplicate,
        **fields,
    )
    _audit(actor, "lead.created", lead)
    return lead


_UNSET: Any = object()


@transaction.atomic
def lead_update(
    *,
    actor: Any,
    lead: Lead,
    source: Any = _UNSET,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    allow_duplicate: bool = True,
    **fields: Any,
) -> Lead:
    """Change fields; `tags` replaces the list, custom fields merge into the stored ones. A
    lead's status becomes (and stays) Converted only through conversion."""
    if not visibility.can_change(actor, lead):
        raise PermissionDenied("You may not change this lead.")
    previous_owner = lead.owner_id
    values = _clean(fields)
    status = values.get("status")
    if status is not None and status != lead.status:
        if status == LeadStatus.CONVERTED:
            raise ValidationError({"status": "Convert the lead to mark it converted."})
        if lead.status == LeadStatus.CONVERTED:
            raise ValidationError({"status": "This lead was converted; its status stays."})
    for name, value in values.items():
        setattr(lead, name, value)
    if source is not _UNSET:
        lead.source = source_resolve(source)
    if not (lead.first_name or lead.last_name or lead.email):
        raise ValidationError({"first_name": "A lead needs a name or an email address."})
    if custom_fields is not None:
        try:
            lead.custom_fields = customfields.clean_values(
                "lead", custom_fields, existing=lead.custom_fields
            )
        except ValidationError as exc:
            raise customfields.keyed_errors(exc) from None
    if not allow_duplicate:
        _check_duplicates(lead, exclude=lead.pk)
    lead.full_clean(exclude=["owner"])
    if tags is not None:
        lead.tags.set(tags_resolve(actor=actor, names=tags))
    refresh_search_text(lead)
    lead._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    lead.save()
    assignment_notify(record=lead, actor=actor, previous_owner_id=previous_owner)
    changed = sorted(
        [
            *values,
            *(["source"] if source is not _UNSET else []),
            *(["tags"] if tags is not None else []),
            *(["custom_fields"] if custom_fields is not None else []),
        ]
    )
    _audit(actor, "lead.changed", lead, fields=changed)
    return lead


@transaction.atomic
def lead_delete(*, actor: Any, lead: Lead) -> None:
    if not visibility.can_delete(actor, lead):
        raise PermissionDenied("Only the owner, their manager or an Admin may delete this.")
    _audit(actor, "lead.deleted", lead, name=str(lead))
    lead._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    lead.delete()


def lead_share(
    *, actor: Any, lead: Lead, level: str, user: User | None = None, team: Team | None = None
) -> None:
    record_share(actor=actor, record=lead, level=level, user=user, team=team)


def merge_spec() -> MergeSpec:
    return MergeSpec(
        entity="lead",
        model=Lead,
        fields=[*FIELDS, "source"],
        related=merging.sales_links("lead"),
        refresh=refresh_search_text,
    )


def lead_merge(
    *, actor: Any, survivor: Lead, merged: list[Lead], values: dict[str, int] | None = None
) -> Merge:
    """Merge leads into `survivor` (tags, custom field values, notes and shares move to it);
    undoable for 30 days. Converted leads are history and are not merged."""
    for record in [survivor, *merged]:
        if record.status == LeadStatus.CONVERTED:
            raise ValidationError({"merged": f"{record} was converted and cannot be merged."})
    return merging.merge(
        actor=actor, spec=merge_spec(), survivor=survivor, merged=merged, values=values
    )


def lead_merge_undo(*, actor: Any, merge: Merge) -> Lead:
    lead: Lead = merging.undo(actor=actor, spec=merge_spec(), merge_record=merge)
    return lead


# Lead sources (Settings) -------------------------------------------------------------------


def _require_admin(actor: Any, what: str) -> None:
    if getattr(actor, "role", None) not in ADMIN_ROLES:
        raise PermissionDenied(f"Only Admins may {what}.")


def _source_name(name: str, exclude: int | None = None) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise ValidationError({"name": "A lead source needs a name."})
    if len(name) > 100:
        raise ValidationError({"name": "Lead source names are limited to 100 characters."})
    same = LeadSource.objects.filter(name__iexact=name)
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        raise ValidationError({"name": f"There is already a lead source {name!r}."})
    return name


@transaction.atomic
def leadsource_create(*, actor: Any, name: str, order: int | None = None) -> LeadSource:
    _require_admin(actor, "edit lead sources")
    name = _source_name(name)
    if order is None:
        order = next_order(LeadSource.objects.all())
    source = LeadSource.objects.create(name=name, order=order)
    _audit(actor, "leadsource.created", source, name=name)
    return source


@transaction.atomic
def leadsource_update(
    *,
    actor: Any,
    source: LeadSource,
    name: str | None = None,
    order: int | None = None,
    archived: bool | None = None,
) -> LeadSource:
    """Rename, re-order or archive (archived sources stay on their leads but are no longer
    offered)."""
    _require_admin(actor, "edit lead sources")
    if name is not None:
        source.name = _source_name(name, exclude=source.pk)
    if order is not None:
        source.order = order
    if archived is not None:
        source.archived = archived
    source.save()
    _audit(actor, "leadsource.changed", source, name=source.name)
    return source


@transaction.atomic
def leadsource_delete(*, actor: Any, source: LeadSource) -> None:
    """Delete a source; its leads keep everything but the source."""
    _require_admin(actor, "edit lead sources")
    _audit(actor, "leadsource.deleted", source, name=source.name)
    source.delete()
