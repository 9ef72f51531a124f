"""Writes on contacts. Each checks the actor may do it (PermissionDenied otherwise), runs in a
transaction, records history (field changes), timeline entries for links and an audit entry.
Create and edit raise `DuplicateSuspected` unless the caller allows duplicates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.postgres.search import TrigramSimilarity
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat

from apps.accounts.models import Team, User
from apps.audit.services import audit_record
from apps.companies.models import Company
from apps.core import visibility
from apps.notifications.services import assignment_notify
from apps.records import customfields, merging, search, timeline
from apps.records.duplicates import DuplicateSuspected
from apps.records.merging import MergeSpec
from apps.records.models import Merge, TimelineKind
from apps.records.services import actor_label as _label
from apps.records.services import actor_user as _actor_user
from apps.records.services import default_owner, record_share, tags_resolve

from .models import Contact, ContactCompany, ContactEmail, ContactPhone, LifecycleStage

FIELDS = (
    "first_name",
    "last_name",
    "title",
    "owner",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "linkedin",
    "twitter",
    "website",
    "source",
    "lifecycle_stage",
    "notes",
)
# The words typo correction may suggest come from these columns (names, not addresses).
DICTIONARY_COLUMNS = ("first_name", "last_name", "title", "city", "country")
MAX_EMAILS = 20
MAX_PHONES = 20


def normalise_emails(raw: Iterable[str]) -> list[str]:
    emails: list[str] = []
    for item in raw:
        text = str(item).strip().lower()
        if not text:
            continue
        try:
            EmailValidator()(text)
        except ValidationError:
            raise ValidationError({"emails": f"{text[:60]!r} is not an email address."}) from None
        if text not in emails:
            emails.append(text)
    if len(emails) > MAX_EMAILS:
        raise ValidationError({"emails": f"A contact holds at most {MAX_EMAILS} emails."})
    return emails


def normalise_phones(raw: Iterable[str]) -> list[str]:
    phones: list[str] = []
    for item in raw:
        if not str(item).strip():
            continue
        try:
            number = customfields.normalise_phone(str(item))
        except ValidationError as exc:
            raise ValidationError({"phones": exc.messages}) from None
        if number not in phones:
            phones.append(number)
    if len(phones) > MAX_PHONES:
        raise ValidationError({"phones": f"A contact holds at most {MAX_PHONES} phones."})
    return phones


def refresh_search_text(
    contact: Contact,
    *,
    emails: list[str] | None = None,
    phones: list[str] | None = None,
    companies: list[str] | None = None,
) -> None:
    if emails is None:
        emails = list(contact.emails.values_list("email", flat=True)) if contact.pk else []
    if phones is None:
        phones = list(contact.phones.values_list("number", flat=True)) if contact.pk else []
    if companies is None:
        companies = (
            list(contact.companies.filter(merged_into__isnull=True).values_list("name", flat=True))
            if contact.pk
            else []
        )
    contact.search_text = search.document(
        contact.first_name,
        contact.last_name,
        contact.email,
        *emails,
        contact.phone,
        *phones,
        contact.title,
        *companies,
        contact.city,
    )
    search.remember_words(search.document(*(getattr(contact, c) for c in DICTIONARY_COLUMNS)))


def contact_duplicates(
    *,
    first_name: str = "",
    last_name: str = "",
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    exclude: int | None = None,
) -> list[Contact]:
    """Likely duplicates: a shared email or phone (normalised), or a very similar full name
    (trigram similarity of at least 0.6, among candidates from the typo-tolerant search)."""
    emails, phones = list(emails), list(phones)
    name = f"{first_name} {last_name}".strip()
    query = search.normalise(name)
    # Each kind of candidate is one index lookup; combined in Python, as an OR of
    # subqueries would make PostgreSQL scan every contact.
    shared = set(
        ContactEmail.objects.filter(email__in=emails).values_list("contact_id", flat=True)
    ) | set(ContactPhone.objects.filter(number__in=phones).values_list("contact_id", flat=True))
    by_name = (
        set(search.matching(Contact.objects.all(), name).values_list("pk", flat=True)[:200])
        if query
        else set()
    )
    found = (
        Contact.objects.filter(pk__in=shared | by_name)
        .annotate(similarity=TrigramSimilarity(Concat("first_name", Value(" "), "last_name"), name))
        .filter(Q(pk__in=shared) | Q(similarity__gte=0.6))
    )
    if exclude is not None:
        found = found.exclude(pk=exclude)
    return list(found.order_by("-similarity", "id")[:5])


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = {}
    for name, value in fields.items():
        if name not in FIELDS or value is None:
            continue
        if name == "owner":
            if not value.is_active:
                raise ValidationError({"owner": "The owner must be an active member."})
        elif name == "lifecycle_stage":
            if value not in LifecycleStage.values:
                raise ValidationError({"lifecycle_stage": f"Unknown lifecycle stage {value!r}."})
        elif isinstance(value, str):
            value = value.strip()
        cleaned[name] = value
    return cleaned


def _set_list(contact: Contact, model: Any, column: str, values: list[str]) -> str:
    """Make the contact's emails (or phones) exactly `values`, the first one primary;
    returns the primary value (or "")."""
    rows = model.objects.filter(contact=contact)
    rows.exclude(**{f"{column}__in": values}).delete()
    existing = set(rows.values_list(column, flat=True))
    model.objects.bulk_create(
        [model(contact=contact, **{column: v}) for v in values if v not in existing]
    )
    rows.update(is_primary=False)
    if values:
        rows.filter(**{column: values[0]}).update(is_primary=True)
    return values[0] if values else ""


def _set_emails(contact: Contact, emails: list[str]) -> None:
    contact.email = _set_list(contact, ContactEmail, "email", emails)


def _set_phones(contact: Contact, phones: list[str]) -> None:
    contact.phone = _set_list(contact, ContactPhone, "number", phones)


def _email_list(
    email: str | None, emails: list[str] | None, current: list[str]
) -> list[str] | None:
    """The new email list, primary first: `emails` replaces the list; `email` alone makes that
    address the primary one, keeping the others."""
    if emails is None and email is None:
        return None
    chosen = list(emails) if emails is not None else list(current)
    if email is not None:
        chosen = [email, *[e for e in chosen if e.strip().lower() != email.strip().lower()]]
        if not email.strip():
            chosen = chosen[1:]
    return chosen


def _visible_companies(actor: Any, ids: Iterable[Any]) -> list[Company]:
    ids = list(ids)
    found = {c.pk: c for c in visibility.visible(Company.objects.all(), actor).filter(pk__in=ids)}
    missing = [str(i) for i in ids if int(i) not in found]
    if missing:
        raise ValidationError({"companies": f"No such company: {', '.join(missing)}."})
    return [found[int(i)] for i in ids]


@transaction.atomic
def contact_create(
    *,
    actor: Any,
    email: str | None = None,
    emails: list[str] | None = None,
    phone: str | None = None,
    phones: list[str] | None = None,
    owner: User | None = None,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    companies: list[Any] | None = None,
    allow_duplicate: bool = False,
    **fields: Any,
) -> Contact:
    if not visibility.can_create(actor, Contact):
        raise PermissionDenied("Read-only access cannot create records.")
    values = _clean({"owner": owner, **fields})
    values.setdefault("owner", default_owner(actor))
    email_list = normalise_emails(_email_list(email, emails, []) or [])
    phone_list = normalise_phones(_email_list(phone, phones, []) or [])
    if not (values.get("first_name") or values.get("last_name") or email_list):
        raise ValidationError({"first_name": "A contact needs a name or an email address."})
    try:
        cf = customfields.clean_values("contact", custom_fields, creating=True)
    except ValidationError as exc:
        raise customfields.keyed_errors(exc) from None
    linked = _visible_companies(actor, companies or [])
    if not allow_duplicate:
        candidates = contact_duplicates(
            first_name=values.get("first_name", ""),
            last_name=values.get("last_name", ""),
            emails=email_list,
            phones=phone_list,
        )
        if candidates:
            raise DuplicateSuspected(candidates)
    contact = Contact(
        custom_fields=cf,
        email=email_list[0] if email_list else "",
        phone=phone_list[0] if phone_list else "",
        **values,
    )
    refresh_search_text(
        contact, emails=email_list, phones=phone_list, companies=[c.name for c in linked]
    )
    contact.full_clean(exclude=["owner"])
    contact._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    contact.save()
    # A new contact has no emails or phones yet: insert them, the first one primary (what
    # `_set_emails`/`_set_phones` arrive at, in one query per list instead of five).
    ContactEmail.objects.bulk_create(
        [
            ContactEmail(contact=contact, email=value, is_primary=index == 0)
            for index, value in enumerate(email_list)
        ]
    )
    ContactPhone.objects.bulk_create(
        [
            ContactPhone(contact=contact, number=value, is_primary=index == 0)
            for index, value in enumerate(phone_list)
        ]
    )
    ContactCompany.objects.bulk_create(
        [
            ContactCompany(contact=contact, company=company, is_primary=index == 0)
            for index, company in enumerate(linked)
        ]
    )
    if tags:
        contact.tags.set(tags_resolve(actor=actor, names=tags))
    assignment_notify(record=contact, actor=actor)
    audit_record(
        action="contact.created",
        actor=_actor_user(actor),
        target=contact,
        actor_label=_label(actor),
    )
    return contact


@transaction.atomic
def contact_update(
    *,
    actor: Any,
    contact: Contact,
    email: str | None = None,
    emails: list[str] | None = None,
    phone: str | None = None,
    phones: list[str] | None = None,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    companies: list[Any] | None = None,
    allow_duplicate: bool = True,
    **fields: Any,
) -> Contact:
    """Change fields; `emails`/`phones`/`tags`/`companies` replace their lists, `email`/`phone`
    make one the primary; custom fields merge into the stored ones."""
    if not visibility.can_change(actor, contact):
        raise PermissionDenied("You may not change this contact.")
    previous_owner = contact.owner_id
    values = _clean(fields)
    for name, value in values.items():
        setattr(contact, name, value)
    current_emails = list(
        contact.emails.order_by("-is_primary", "id").values_list("email", flat=True)
    )
    current_phones = list(
        contact.phones.order_by("-is_primary", "id").values_list("number", flat=True)
    )
    new_emails = _email_list(email, emails, current_emails)
    new_phones = _email_list(phone, phones, current_phones)
    email_list = normalise_emails(new_emails) if new_emails is not None else None
    phone_list = normalise_phones(new_phones) if new_phones is not None else None
    if not (
        contact.first_name
        or contact.last_name
        or (email_list if email_list is not None else current_emails)
    ):
        raise ValidationError({"first_name": "A contact needs a name or an email address."})
    if custom_fields is not None:
        try:
            contact.custom_fields = customfields.clean_values(
                "contact", custom_fields, existing=contact.custom_fields
            )
        except ValidationError as exc:
            raise customfields.keyed_errors(exc) from None
    if not allow_duplicate:
        candidates = contact_duplicates(
            first_name=contact.first_name,
            last_name=contact.last_name,
            emails=email_list if email_list is not None else current_emails,
            phones=phone_list if phone_list is not None else current_phones,
            exclude=contact.pk,
        )
        if candidates:
            raise DuplicateSuspected(candidates)
    contact.full_clean(exclude=["owner"])
    if email_list is not None:
        _set_emails(contact, email_list)
    if phone_list is not None:
        _set_phones(contact, phone_list)
    if tags is not None:
        contact.tags.set(tags_resolve(actor=actor, names=tags))
    if companies is not None:
        wanted = _visible_companies(actor, companies)
        current = {link.company_id: link for link in contact.company_links.all()}
        for company in wanted:
            if company.pk not in current:
                contact_link_company(actor=actor, contact=contact, company=company)
        for company_id, link in current.items():
            if company_id not in {c.pk for c in wanted}:
                contact_unlink_company(actor=actor, link=link)
    refresh_search_text(contact)
    contact._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    contact.save()
    assignment_notify(record=contact, actor=actor, previous_owner_id=previous_owner)
    changed = sorted(
        [
            *values,
            *(
                n
                for n, v in (
                    ("emails", email_list),
                    ("phones", phone_list),
                    ("tags", tags),
                    ("custom_fields", custom_fields),
                )
                if v is not None
            ),
        ]
    )
    audit_record(
        action="contact.changed",
        actor=_actor_user(actor),
        target=contact,
        actor_label=_label(actor),
        detail={"fields": changed},
    )
    return contact


@transaction.atomic
def contact_delete(*, actor: Any, contact: Contact) -> None:
    if not visibility.can_delete(actor, contact):
        raise PermissionDenied("Only the owner, their manager or an Admin may delete this.")
    audit_record(
        action="contact.deleted",
        actor=_actor_user(actor),
        target=contact,
        actor_label=_label(actor),
        detail={"name": str(contact)},
    )
    contact._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    contact.delete()


@transaction.atomic
def contact_link_company(
    *, actor: Any, contact: Contact, company: Company, role: str = "", is_primary: bool = False
) -> ContactCompany:
    """Link a contact to a company (both must be visible; the contact changeable)."""
    if not visibility.can_change(actor, contact):
        raise PermissionDenied("You may not change this contact.")
    if not visibility.visible(Company.objects.filter(pk=company.pk), actor).exists():
        raise ValidationError({"company": "No such company."})
    link, created = ContactCompany.objects.get_or_create(contact=contact, company=company)
    link.role = role.strip()[:100] or link.role
    if is_primary or not contact.company_links.exclude(pk=link.pk).exists():
        contact.company_links.exclude(pk=link.pk).update(is_primary=False)
        link.is_primary = True
    link.save()
    if created:
        for entity, record_id, title in (
            ("contact", contact.pk, f"Linked to {company.name}"),
            ("company", company.pk, f"{contact} linked"),
        ):
            timeline.entry_add(
                entity=entity,
                record_id=record_id,
                kind=TimelineKind.LINK,
                author=_actor_user(actor),
                title=title,
                role=link.role,
            )
        refresh_search_text(contact)
        contact.save(update_fields=["search_text"])
        audit_record(
            action="contact.linked",
            actor=_actor_user(actor),
            target=contact,
            actor_label=_label(actor),
            detail={"company": company.pk},
        )
    return link


@transaction.atomic
def contact_unlink_company(*, actor: Any, link: ContactCompany) -> None:
    contact, company = link.contact, link.company
    if not visibility.can_change(actor, contact):
        raise PermissionDenied("You may not change this contact.")
    link.delete()
    for entity, record_id, title in (
        ("contact", contact.pk, f"Unlinked from {company.name}"),
        ("company", company.pk, f"{contact} unlinked"),
    ):
        timeline.entry_add(
            entity=entity,
            record_id=record_id,
            kind=TimelineKind.LINK,
            author=_actor_user(actor),
            title=title,
        )
    refresh_search_text(contact)
    contact.save(update_fields=["search_text"])
    audit_record(
        action="contact.unlinked",
        actor=_actor_user(actor),
        target=contact,
        actor_label=_label(actor),
        detail={"company": company.pk},
    )


def contact_share(
    *, actor: Any, contact: Contact, level: str, user: User | None = None, team: Team | None = None
) -> None:
    """Share with a user or a team, to view or to edit (replacing an earlier share)."""
    record_share(actor=actor, record=contact, level=level, user=user, team=team)


def _refresh_after_merge(contact: Contact) -> None:
    primary = contact.emails.order_by("-is_primary", "id").first()
    contact.email = primary.email if primary else ""
    phone = contact.phones.order_by("-is_primary", "id").first()
    contact.phone = phone.number if phone else ""
    refresh_search_text(contact)


def merge_spec() -> MergeSpec:
    return MergeSpec(
        entity="contact",
        model=Contact,
        fields=list(FIELDS),
        related=[
            merging.Related(
                ContactEmail, "contact", unique_with="email", primary_flag="is_primary"
            ),
            merging.Related(
                ContactPhone, "contact", unique_with="number", primary_flag="is_primary"
            ),
            merging.Related(
                ContactCompany, "contact", unique_with="company", primary_flag="is_primary"
            ),
            *merging.sales_links("contact"),
        ],
        refresh=_refresh_after_merge,
    )


def contact_merge(
    *, actor: Any, survivor: Contact, merged: list[Contact], values: dict[str, int] | None = None
) -> Merge:
    """Merge contacts into `survivor`: emails, phones, company links, tags, custom field
    values, notes, links and shares move to it; undoable for 30 days."""
    return merging.merge(
        actor=actor, spec=merge_spec(), survivor=survivor, merged=merged, values=values
    )


def contact_merge_undo(*, actor: Any, merge: Merge) -> Contact:
    return merging.undo(actor=actor, spec=merge_spec(), merge_record=merge)
