"""Writes on companies. Each checks the actor may do it (PermissionDenied otherwise), runs in
a transaction, records history (field changes) and an audit entry."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.postgres.search import TrigramSimilarity
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q

from apps.accounts.models import Team, User
from apps.audit.services import audit_record
from apps.core import visibility
from apps.notifications.services import assignment_notify
from apps.records import customfields, merging, search
from apps.records.duplicates import DuplicateSuspected
from apps.records.merging import MergeSpec
from apps.records.models import Merge
from apps.records.services import actor_label as _label
from apps.records.services import actor_user as _actor_user
from apps.records.services import default_owner, record_share, tags_resolve

from .models import Company

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# The words typo correction may suggest come from these columns (names, not domains).
DICTIONARY_COLUMNS = ("name", "industry", "city", "country")
FIELDS = (
    "name",
    "domain",
    "industry",
    "size",
    "phone",
    "owner",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
)


def normalise_domain(raw: str) -> str:
    """`https://www.Example.com/about` -> `example.com`; ValidationError if not a domain."""
    text = raw.strip().lower()
    if not text:
        return ""
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/")[0].split("?")[0].split("#")[0].split("@")[-1].split(":")[0]
    text = text.removeprefix("www.").rstrip(".")
    if not DOMAIN.match(text):
        raise ValidationError({"domain": f"{raw.strip()[:60]!r} is not a domain like example.com."})
    return text


def refresh_search_text(company: Company) -> None:
    company.search_text = search.document(
        company.name, company.domain, company.industry, company.city, company.country
    )
    search.remember_words(search.document(*(getattr(company, c) for c in DICTIONARY_COLUMNS)))


def company_duplicates(*, name: str, domain: str = "", exclude: int | None = None) -> list[Company]:
    """Likely duplicates: the same normalised domain, or a very similar name (trigram
    similarity of at least 0.6, among candidates from the typo-tolerant search)."""
    query = search.normalise(name)
    same_domain = Q(domain=domain) if domain else Q(pk__in=[])
    by_name = (
        set(search.matching(Company.objects.all(), name).values_list("pk", flat=True)[:200])
        if query
        else set()
    )
    if domain:
        by_name |= set(Company.objects.filter(domain=domain).values_list("pk", flat=True)[:50])
    found = (
        Company.objects.filter(pk__in=by_name)
        .annotate(similarity=TrigramSimilarity("name", name))
        .filter(same_domain | Q(similarity__gte=0.6))
    )
    if exclude is not None:
        found = found.exclude(pk=exclude)
    return list(found.order_by("-similarity", "id")[:5])


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = {}
    for name, value in fields.items():
        if name not in FIELDS or value is None:
            continue
        if name == "domain":
            value = normalise_domain(value)
        elif name == "phone" and value:
            value = customfields.normalise_phone(value)
        elif name == "owner":
            if not value.is_active:
                raise ValidationError({"owner": "The owner must be an active member."})
        elif isinstance(value, str):
            value = value.strip()
        cleaned[name] = value
    if "name" in cleaned and not cleaned["name"]:
        raise ValidationError({"name": "A company needs a name."})
    return cleaned


@transaction.atomic
def company_create(
    *,
    actor: Any,
    name: str,
    owner: User | None = None,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    allow_duplicate: bool = False,
    **fields: Any,
) -> Company:
    if not visibility.can_create(actor, Company):
        raise PermissionDenied("Read-only access cannot create records.")
    values = _clean({"name": name or "", "owner": owner, **fields})
    values.setdefault("owner", default_owner(actor))
    try:
        cf = customfields.clean_values("company", custom_fields, creating=True)
    except ValidationError as exc:
        raise customfields.keyed_errors(exc) from None
    if not allow_duplicate:
        candidates = company_duplicates(name=values["name"], domain=values.get("domain", ""))
        if candidates:
            raise DuplicateSuspected(candidates)
    company = Company(custom_fields=cf, **values)
    refresh_search_text(company)
    company.full_clean(exclude=["owner"])
    company._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    company.save()
    if tags:
        company.tags.set(tags_resolve(actor=actor, names=tags))
    assignment_notify(record=company, actor=actor)
    audit_record(
        action="company.created",
        actor=_actor_user(actor),
        target=company,
        actor_label=_label(actor),
    )
    return company


@transaction.atomic
def company_update(
    *,
    actor: Any,
    company: Company,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    allow_duplicate: bool = True,
    **fields: Any,
) -> Company:
    """Change fields, tags (the full list) and custom fields (merged into the stored ones)."""
    if not visibility.can_change(actor, company):
        raise PermissionDenied("You may not change this company.")
    previous_owner = company.owner_id
    values = _clean(fields)
    for name, value in values.items():
        setattr(company, name, value)
    if custom_fields is not None:
        try:
            company.custom_fields = customfields.clean_values(
                "company", custom_fields, existing=company.custom_fields
            )
        except ValidationError as exc:
            raise customfields.keyed_errors(exc) from None
    if not allow_duplicate and ({"name", "domain"} & set(values)):
        candidates = company_duplicates(
            name=company.name, domain=company.domain, exclude=company.pk
        )
        if candidates:
            raise DuplicateSuspected(candidates)
    refresh_search_text(company)
    company.full_clean(exclude=["owner"])
    company._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    company.save()
    if tags is not None:
        company.tags.set(tags_resolve(actor=actor, names=tags))
    assignment_notify(record=company, actor=actor, previous_owner_id=previous_owner)
    audit_record(
        action="company.changed",
        actor=_actor_user(actor),
        target=company,
        actor_label=_label(actor),
        detail={"fields": sorted([*values, *(["custom_fields"] if custom_fields else [])])},
    )
    return company


@transaction.atomic
def company_delete(*, actor: Any, company: Company) -> None:
    if not visibility.can_delete(actor, company):
        raise PermissionDenied("Only the owner, their manager or an Admin may delete this.")
    audit_record(
        action="company.deleted",
        actor=_actor_user(actor),
        target=company,
        actor_label=_label(actor),
        detail={"name": company.name},
    )
    company._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    company.delete()


def company_share(
    *, actor: Any, company: Company, level: str, user: User | None = None, team: Team | None = None
) -> None:
    """Share with a user or a team, to view or to edit (replacing an earlier share)."""
    record_share(actor=actor, record=company, level=level, user=user, team=team)


def merge_spec() -> MergeSpec:
    from apps.contacts.models import ContactCompany

    return MergeSpec(
        entity="company",
        model=Company,
        fields=list(FIELDS),
        related=[
            merging.Related(ContactCompany, "company", unique_with="contact"),
            *merging.sales_links("company"),
        ],
        refresh=refresh_search_text,
    )


def company_merge(
    *, actor: Any, survivor: Company, merged: list[Company], values: dict[str, int] | None = None
) -> Merge:
    """Merge companies into `survivor`: contacts, tags, custom field values, notes and shares
    move to it; undoable for 30 days (`company_merge_undo`)."""
    return merging.merge(
        actor=actor, spec=merge_spec(), survivor=survivor, merged=merged, values=values
    )


def company_merge_undo(*, actor: Any, merge: Merge) -> Company:
    return merging.undo(actor=actor, spec=merge_spec(), merge_record=merge)
