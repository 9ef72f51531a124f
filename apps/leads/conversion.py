"""Lead conversion: one transaction turns a lead into a contact (new or existing), a company
(new, existing or none) and optionally a deal, carries its custom fields over by a mapping, its
tags and activities along, and marks it converted. The lead's own timeline stays visible from
the new records through `lead_history_source` (registered in `apps.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.companies.models import Company
from apps.contacts.models import Contact
from apps.core import visibility
from apps.records import customfields
from apps.records import timeline as record_timeline
from apps.records.models import CustomField, FieldType, TimelineEntry, TimelineKind
from apps.records.services import actor_user

from .models import Lead, LeadStatus
from .services import _audit

TARGETS = ("contact", "company", "deal")
# A lead value of one of these types may land in a text field of the target too.
TEXTUAL = frozenset({FieldType.TEXT, FieldType.LONG_TEXT})
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
    }
)


@dataclass
class ConversionResult:
    contact: Contact
    company: Company | None
    deal: Any


def _compatible(source: CustomField, target: CustomField) -> bool:
    if source.type == target.type:
        return True
    return target.type in TEXTUAL and source.type not in (FieldType.MULTI_SELECT,)


def default_mapping() -> dict[str, list[str]]:
    """Each lead custom field to the fields of the same key on contacts, companies and deals
    whose type can hold its values (`{"budget": ["deal.budget"]}`)."""
    lead_fields = customfields.definitions("lead")
    targets = {
        (f.entity, f.key): f for f in CustomField.objects.filter(entity__in=TARGETS, archived=False)
    }
    mapping: dict[str, list[str]] = {}
    for field in lead_fields:
        for entity in TARGETS:
            target = targets.get((entity, field.key))
            if target is not None and _compatible(field, target):
                mapping.setdefault(field.key, []).append(f"{entity}.{field.key}")
    return mapping


def _resolve_mapping(field_mapping: dict[str, Any] | None) -> dict[str, list[str]]:
    """The default mapping, with the keys `field_mapping` names replaced: a target
    (`"contact.key"`), a list of them, or nothing (`""`, None or []) to leave it behind."""
    mapping = default_mapping()
    if not field_mapping:
        return mapping
    if not isinstance(field_mapping, dict):
        raise ValidationError({"field_mapping": "Give an object: lead key -> 'contact.key'."})
    lead_keys = {f.key for f in customfields.definitions("lead")}
    defined = {
        (f.entity, f.key) for f in CustomField.objects.filter(entity__in=TARGETS, archived=False)
    }
    for key, raw in field_mapping.items():
        if key not in lead_keys:
            raise ValidationError({"field_mapping": f"There is no lead custom field {key!r}."})
        chosen = raw if isinstance(raw, list) else [raw] if raw else []
        targets = []
        for target in chosen:
            entity, _, target_key = str(target).partition(".")
            if entity not in TARGETS or (entity, target_key) not in defined:
                raise ValidationError(
                    {"field_mapping": f"{key}: there is no custom field {target!r} to carry to."}
                )
            targets.append(f"{entity}.{target_key}")
        mapping[key] = targets
    return mapping


def _carried(lead: Lead, mapping: dict[str, list[str]], entity: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, targets in mapping.items():
        value = lead.custom_fields.get(key)
        if value in (None, "", []):
            continue
        for target in targets:
            target_entity, _, target_key = target.partition(".")
            if target_entity == entity:
                values[target_key] = ", ".join(value) if isinstance(value, list) else value
    return values


def _prefixed(exc: ValidationError, prefix: str) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError({f"{prefix}.{k}": v for k, v in exc.message_dict.items()})
    return ValidationError({prefix: exc.messages})


def _find_company(actor: Any, lead: Lead) -> Company | None:
    """A visible company with the lead's company name, or the domain of its (work) email."""
    companies = visibility.visible(Company.objects.all(), actor)
    if lead.company_name:
        found = companies.filter(name__iexact=lead.company_name.strip()).order_by("id").first()
        if found is not None:
            return found
    domain = lead.email.rpartition("@")[2]
    if domain and domain not in FREE_MAIL:
        return companies.filter(domain=domain).order_by("id").first()
    return None


def company_suggestions(*, actor: Any, lead: Lead) -> list[Company]:
    """Companies the lead may belong to (for the convert page)."""
    from apps.companies.services import company_duplicates

    domain = lead.email.rpartition("@")[2]
    found = (
        company_duplicates(
            name=lead.company_name or "", domain="" if domain in FREE_MAIL else domain
        )
        if lead.company_name or domain
        else []
    )
    visible = set(
        visibility.visible(Company.objects.all(), actor)
        .filter(pk__in=[c.pk for c in found])
        .values_list("pk", flat=True)
    )
    return [c for c in found if c.pk in visible]


def contact_suggestions(*, actor: Any, lead: Lead) -> list[Contact]:
    """Existing contacts the lead probably is (for "link existing contact")."""
    from apps.contacts.services import contact_duplicates

    found = contact_duplicates(
        first_name=lead.first_name,
        last_name=lead.last_name,
        emails=[lead.email] if lead.email else [],
        phones=[lead.phone] if lead.phone else [],
    )
    visible = set(
        visibility.visible(Contact.objects.all(), actor)
        .filter(pk__in=[c.pk for c in found])
        .values_list("pk", flat=True)
    )
    return [c for c in found if c.pk in visible]


def _link_activities(lead: Lead, contact: Contact, company: Company | None, deal: Any) -> int:
    from apps.activities.models import Activity

    ids = list(Activity.objects.filter(leads=lead).values_list("pk", flat=True))
    for name, record in (("contacts", contact), ("companies", company), ("deals", deal)):
        if record is None or not ids:
            continue
        through = getattr(Activity, name).through
        column = f"{record._meta.model_name}_id"
        through.objects.bulk_create(
            [through(activity_id=pk, **{column: record.pk}) for pk in ids],
            ignore_conflicts=True,
        )
    return len(ids)


@transaction.atomic
def lead_convert(
    *,
    actor: Any,
    lead: Lead,
    contact: Contact | None = None,
    company: Company | None = None,
    company_mode: str = "auto",
    create_deal: bool = False,
    deal: dict[str, Any] | None = None,
    field_mapping: dict[str, Any] | None = None,
) -> ConversionResult:
    """Convert `lead` in one transaction: any failure (a bad deal value, a refused
    permission) leaves nothing changed.

    - `contact`: link this existing contact instead of creating one from the lead.
    - `company`: link this existing company; otherwise `company_mode` says what to do:
      `auto` links a visible company with the lead's company name (or email domain) and
      creates one from `company_name` if there is none, `new` always creates one, `none`
      links no company.
    - `create_deal` with `deal` (title, value, currency, pipeline, stage, expected_close)
      creates a deal linked to the contact and company.
    - `field_mapping` overrides where lead custom fields go (see `_resolve_mapping`).
    """
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if not visibility.can_change(actor, lead):
        raise PermissionDenied("You may not convert this lead.")
    if lead.status == LeadStatus.CONVERTED or lead.converted_at is not None:
        raise ValidationError(
            {"lead": f"{lead} was already converted; a lead is converted only once."},
            code="already_converted",
        )
    if company_mode not in ("auto", "new", "none"):
        raise ValidationError({"company_mode": "Choose auto, new or none."})
    mapping = _resolve_mapping(field_mapping)
    user = actor_user(actor)

    from apps.companies.services import company_create
    from apps.contacts.services import contact_create, contact_link_company, contact_update

    if company is not None:
        if not visibility.visible(Company.objects.filter(pk=company.pk), actor).exists():
            raise ValidationError({"company": "No such company."})
    elif company_mode == "auto":
        company = _find_company(actor, lead)
    if company is None and company_mode != "none" and lead.company_name.strip():
        try:
            company = company_create(
                actor=actor,
                name=lead.company_name.strip(),
                owner=lead.owner,
                custom_fields=_carried(lead, mapping, "company"),
                allow_duplicate=True,
            )
        except ValidationError as exc:
            raise _prefixed(exc, "company") from None
    elif company is not None and _carried(lead, mapping, "company"):
        _fill_custom_fields(company, _carried(lead, mapping, "company"), "company")

    tag_names = [t.name for t in lead.tags.all()]
    if contact is not None:
        if not visibility.can_change(actor, contact):
            raise ValidationError({"contact": "You may not change that contact."})
        carried = {
            k: v
            for k, v in _carried(lead, mapping, "contact").items()
            if contact.custom_fields.get(k) in (None, "", [])
        }
        try:
            contact_update(
                actor=actor,
                contact=contact,
                custom_fields=carried or None,
                tags=sorted({*(t.name for t in contact.tags.all()), *tag_names}),
            )
        except ValidationError as exc:
            raise _prefixed(exc, "contact") from None
        if company is not None:
            contact_link_company(actor=actor, contact=contact, company=company)
    else:
        try:
            contact = contact_create(
                actor=actor,
                first_name=lead.first_name,
                last_name=lead.last_name,
                email=lead.email or None,
                phone=lead.phone or None,
                title=lead.title,
                source=lead.source.name if lead.source is not None else "",
                owner=lead.owner,
                tags=tag_names,
                custom_fields=_carried(lead, mapping, "contact"),
                companies=[company.pk] if company is not None else [],
                allow_duplicate=True,
            )
        except ValidationError as exc:
            raise _prefixed(exc, "contact") from None

    new_deal = None
    if create_deal:
        new_deal = _create_deal(actor, lead, contact, company, deal or {}, mapping, tag_names)

    lead.status = LeadStatus.CONVERTED
    lead.converted_at = timezone.now()
    lead.converted_contact = contact
    lead.converted_company = company
    lead.converted_deal = new_deal
    lead._history_user = user  # type: ignore[attr-defined]
    lead.save()
    lead.tags.clear()
    moved = _link_activities(lead, contact, company, new_deal)

    made = [("contact", contact), ("company", company), ("deal", new_deal)]
    for entity, record in made:
        if record is not None:
            record_timeline.entry_add(
                entity=entity,
                record_id=record.pk,
                kind=TimelineKind.LINK,
                author=user,
                title=f"Converted from lead {lead}",
                lead_id=lead.pk,
            )
    record_timeline.entry_add(
        entity="lead",
        record_id=lead.pk,
        kind=TimelineKind.LINK,
        author=user,
        title="Converted into " + ", ".join(f"{e} {r}" for e, r in made if r is not None),
    )
    _audit(
        actor,
        "lead.converted",
        lead,
        contact=contact.pk,
        company=company.pk if company else None,
        deal=new_deal.pk if new_deal else None,
        activities=moved,
    )
    return ConversionResult(contact=contact, company=company, deal=new_deal)


def _fill_custom_fields(record: Any, values: dict[str, Any], entity: str) -> None:
    """Fill the record's empty custom fields with the lead's values (never overwriting)."""
    wanted = {k: v for k, v in values.items() if record.custom_fields.get(k) in (None, "", [])}
    if not wanted:
        return
    try:
        record.custom_fields = customfields.clean_values(
            entity, wanted, existing=record.custom_fields
        )
    except ValidationError as exc:
        raise _prefixed(customfields.keyed_errors(exc), entity) from None
    record.save(update_fields=["custom_fields", "updated_at"])


def _create_deal(
    actor: Any,
    lead: Lead,
    contact: Contact,
    company: Company | None,
    data: dict[str, Any],
    mapping: dict[str, list[str]],
    tag_names: list[str],
) -> Any:
    try:
        from apps.deals import services as deal_services
    except ImportError:  # pragma: no cover - the deals services land with the deals pages
        raise ValidationError({"deal": "Deals cannot be created yet."}) from None
    allowed = {"title", "value", "currency", "pipeline", "stage", "expected_close", "probability"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError({"deal": f"Unknown deal field(s): {', '.join(unknown)}."})
    values = {k: v for k, v in data.items() if v not in (None, "")}
    title = str(values.pop("title", "") or "").strip() or f"{company or contact} deal"
    try:
        return deal_services.deal_create(
            actor=actor,
            title=title,
            owner=lead.owner,
            contacts=[contact],
            companies=[company] if company is not None else [],
            custom_fields=_carried(lead, mapping, "deal"),
            tags=tag_names,
            allow_duplicate=True,
            **values,
        )
    except ValidationError as exc:
        raise _prefixed(exc, "deal") from None


# The lead's timeline on the records it became ------------------------------------------------

_CONVERTED_FROM = {
    "contact": "converted_contact_id",
    "company": "converted_company_id",
    "deal": "converted_deal_id",
}


def lead_history_source(
    record: Any, entity: str, kind: str, limit: int, user: Any = None
) -> list[record_timeline.Item]:
    """For a contact, company or deal that came from a lead: the lead's own timeline (its
    creation, changes, notes and links), each titled "From lead <name>: …"."""
    column = _CONVERTED_FROM.get(entity)
    if column is None:
        return []
    items: list[record_timeline.Item] = []
    for lead in Lead.all_objects.filter(**{column: record.pk}).order_by("pk")[:10]:
        prefix = f"From lead {lead}: "
        found: list[record_timeline.Item] = []
        if kind in ("", TimelineKind.CHANGE):
            found += record_timeline._history_items(lead, "lead", limit, {})
        if kind != TimelineKind.CHANGE:
            entries = TimelineEntry.objects.filter(entity="lead", record_id=lead.pk)
            if kind:
                entries = entries.filter(kind=kind)
            found += [
                record_timeline._entry_item(e)
                for e in entries.select_related("author").order_by("-created_at")[:limit]
            ]
        for item in found:
            item.title = prefix + item.title
            item.detail = {**item.detail, "lead_id": lead.pk}
        items += found
    return items
