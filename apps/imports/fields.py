"""What a file's columns can be imported into, per record type: built-in fields, custom
fields, tags, the owner (by email) and links to other records, each with the widget that
reads its cells. Built once per import (widgets carry the organisation's members, options
and the import's locale)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from apps.accounts.models import User
from apps.records import customfields
from apps.records.models import Entity

from . import widgets as w

# How a field is written: a column of the record's table, a custom field, tags, or a link
# to another record type resolved by the entity's writer.
COLUMN, CUSTOM, TAGS, LINK, KEY = "column", "custom", "tags", "link", "key"


@dataclass
class ImportField:
    name: str
    label: str
    widget: Any
    kind: str = COLUMN
    column: str = ""  # database column, for COLUMN fields
    aliases: tuple[str, ...] = ()
    search: bool = False  # part of the record's search text
    dictionary: bool = False  # words offered by typo correction

    def __post_init__(self) -> None:
        if self.kind in (COLUMN, KEY) and not self.column:
            self.column = self.name


@dataclass
class Spec:
    entity: str
    model: type[models.Model]
    fields: list[ImportField]
    match: dict[str, str]  # match_on -> field name
    # A row must bring at least one of these (field names) to create a record.
    needs_one_of: tuple[str, ...] = ()
    needs_message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> ImportField | None:
        return next((f for f in self.fields if f.name == name), None)


def members() -> dict[str, int]:
    """Active members by email, and by full name where no two members share it."""
    found: dict[str, int] = {}
    names: dict[str, list[int]] = {}
    for pk, email, full_name in User.objects.filter(is_active=True).values_list(
        "pk", "email", "full_name"
    ):
        found[email.casefold()] = pk
        full = full_name.strip().casefold()
        if full:
            names.setdefault(full, []).append(pk)
    for name, pks in names.items():
        if len(pks) == 1:
            found.setdefault(name, pks[0])
    return found


def _text(name: str, label: str, max_length: int, **kwargs: Any) -> ImportField:
    return ImportField(name, label, w.Text(max_length, label=label), **kwargs)


def _choices(model: type[models.Model], name: str) -> list[tuple[str, str]]:
    return [(str(v), str(lbl)) for v, lbl in model._meta.get_field(name).choices or []]  # type: ignore[union-attr]


def _address(label: str = "") -> list[ImportField]:
    return [
        _text("street", "Street", 200, aliases=("address", "street address", "address line 1")),
        _text("city", "City", 100, aliases=("town",), search=True, dictionary=True),
        _text("region", "State / region", 100, aliases=("state", "region", "province", "county")),
        _text("postal_code", "Postal code", 20, aliases=("zip", "zip code", "postcode")),
        _text("country", "Country", 100, dictionary=True),
    ]


def _common(
    entity: str, locale: w.Locale, people: dict[str, int], tz: dt.tzinfo
) -> list[ImportField]:
    fields = [
        ImportField(
            "id",
            "Kestrel id",
            w.Number(locale, label="Kestrel id", places=0, low=1, high=2**63 - 1),
            KEY,
            aliases=("kestrel id", "record id"),
        ),
        _text(
            "external_id",
            "External id",
            100,
            kind=KEY,
            aliases=("external id", "source id", "hubspot id", "pipedrive id", "crm id"),
        ),
        ImportField(
            "owner",
            "Owner",
            w.Owner(people),
            COLUMN,
            "owner_id",
            aliases=("owner email", "contact owner", "deal owner", "assigned to", "sales rep"),
        ),
        ImportField("tags", "Tags", w.Tags(), TAGS, aliases=("labels", "tag", "label")),
    ]
    for definition in customfields.definitions(entity):
        fields.append(
            ImportField(
                f"cf_{definition.key}",
                definition.label,
                w.Custom(definition, locale, people, tz),
                CUSTOM,
                aliases=(definition.key, definition.key.replace("_", " ")),
            )
        )
    return fields


def _contact(locale: w.Locale, people: dict[str, int], tz: dt.tzinfo) -> Spec:
    from apps.contacts.models import Contact

    fields = [
        _text(
            "first_name",
            "First name",
            100,
            aliases=("first", "given name", "firstname", "forename"),
            search=True,
            dictionary=True,
        ),
        _text(
            "last_name",
            "Last name",
            100,
            aliases=("last", "surname", "family name", "lastname"),
            search=True,
            dictionary=True,
        ),
        ImportField(
            "email",
            "Email",
            w.Email(254, label="Email"),
            COLUMN,
            aliases=("e-mail", "email address", "e-mail address", "mail", "primary email"),
            search=True,
        ),
        ImportField(
            "phone",
            "Phone",
            w.Phone(32, label="Phone"),
            COLUMN,
            aliases=("phone number", "telephone", "mobile", "tel", "mobile phone"),
            search=True,
        ),
        _text(
            "title",
            "Job title",
            150,
            aliases=("job title", "position", "role"),
            search=True,
            dictionary=True,
        ),
        ImportField(
            "company",
            "Company (name or domain)",
            w.Text(253, label="Company"),
            LINK,
            aliases=("company name", "organization", "organisation", "account", "company domain"),
        ),
        *_address(),
        ImportField(
            "linkedin", "LinkedIn", w.Url(300, label="LinkedIn"), aliases=("linkedin url",)
        ),
        _text("twitter", "X / Twitter", 100, aliases=("x", "twitter handle")),
        ImportField("website", "Website", w.Url(300, label="Website"), aliases=("web", "url")),
        _text("source", "Source", 100, aliases=("lead source", "original source")),
        ImportField(
            "lifecycle_stage",
            "Lifecycle stage",
            w.Choice(_choices(Contact, "lifecycle_stage"), label="Lifecycle stage"),
            aliases=("lifecycle", "stage"),
        ),
        _text("notes", "Notes", 20_000, aliases=("note", "description", "comments")),
        *_common(Entity.CONTACT, locale, people, tz),
    ]
    return Spec(
        Entity.CONTACT,
        Contact,
        fields,
        match={"email": "email", "external_id": "external_id", "id": "id"},
        needs_one_of=("first_name", "last_name", "email"),
        needs_message="A contact needs a first name, a last name or an email.",
    )


def _company(locale: w.Locale, people: dict[str, int], tz: dt.tzinfo) -> Spec:
    from apps.companies.models import Company

    fields = [
        _text(
            "name",
            "Name",
            200,
            aliases=("company", "company name", "organization", "organisation", "account name"),
            search=True,
            dictionary=True,
        ),
        ImportField(
            "domain",
            "Domain",
            w.Domain(253, label="Domain"),
            COLUMN,
            aliases=("website", "company domain", "domain name", "url"),
            search=True,
        ),
        _text("industry", "Industry", 100, aliases=("sector",), search=True, dictionary=True),
        ImportField(
            "size",
            "Size",
            w.Choice(_choices(Company, "size"), label="Size"),
            aliases=("employees", "company size", "number of employees"),
        ),
        ImportField("phone", "Phone", w.Phone(32, label="Phone"), aliases=("phone number",)),
        *_address(),
        *_common(Entity.COMPANY, locale, people, tz),
    ]
    for item in fields:
        if item.name in ("city", "country"):
            item.search = True
    return Spec(
        Entity.COMPANY,
        Company,
        fields,
        match={"domain": "domain", "external_id": "external_id", "id": "id"},
        needs_one_of=("name",),
        needs_message="A company needs a name.",
    )


def _deal(locale: w.Locale, people: dict[str, int], tz: dt.tzinfo) -> Spec:
    from apps.deals.models import Deal, Pipeline

    pipelines = list(Pipeline.objects.filter(archived=False).values_list("name", "name"))
    fields = [
        _text(
            "title",
            "Title",
            200,
            aliases=("name", "deal name", "deal title", "deal"),
            search=True,
            dictionary=True,
        ),
        ImportField(
            "value",
            "Value",
            w.Number(locale, label="Value", places=2, low=0, high=999_999_999_999),
            aliases=("amount", "deal value", "deal amount"),
        ),
        ImportField(
            "currency", "Currency", w.Currency(3, label="Currency"), aliases=("currency code",)
        ),
        ImportField("pipeline", "Pipeline", w.Choice(pipelines, label="Pipeline"), LINK),
        _text("stage", "Stage", 100, kind=LINK, aliases=("deal stage", "pipeline stage")),
        ImportField(
            "expected_close",
            "Expected close date",
            w.Date(locale, label="Expected close date"),
            aliases=("close date", "expected close", "closing date"),
        ),
        ImportField(
            "probability",
            "Probability",
            w.Number(locale, label="Probability", places=0, low=0, high=100),
            aliases=("win probability",),
        ),
        ImportField(
            "contact",
            "Contact (email)",
            w.Email(254, label="Contact email"),
            LINK,
            aliases=("contact email", "person", "contact person email"),
        ),
        ImportField(
            "company",
            "Company (name or domain)",
            w.Text(253, label="Company"),
            LINK,
            aliases=("company name", "organization", "organisation", "account"),
        ),
        *_common(Entity.DEAL, locale, people, tz),
    ]
    return Spec(
        Entity.DEAL,
        Deal,
        fields,
        match={"external_id": "external_id", "id": "id"},
        needs_one_of=("title",),
        needs_message="A deal needs a title.",
    )


def _lead(locale: w.Locale, people: dict[str, int], tz: dt.tzinfo) -> Spec:
    from apps.leads.models import Lead, LeadSource

    sources = [(str(pk), name) for pk, name in LeadSource.objects.values_list("pk", "name")]
    fields = [
        _text(
            "first_name",
            "First name",
            100,
            aliases=("first", "given name"),
            search=True,
            dictionary=True,
        ),
        _text(
            "last_name",
            "Last name",
            100,
            aliases=("last", "surname", "family name"),
            search=True,
            dictionary=True,
        ),
        ImportField(
            "email",
            "Email",
            w.Email(254, label="Email"),
            aliases=("e-mail", "email address"),
            search=True,
        ),
        ImportField(
            "phone",
            "Phone",
            w.Phone(32, label="Phone"),
            aliases=("phone number", "mobile"),
            search=True,
        ),
        _text(
            "company_name",
            "Company",
            200,
            aliases=("company", "organization", "organisation"),
            search=True,
            dictionary=True,
        ),
        _text(
            "title",
            "Job title",
            150,
            aliases=("job title", "position"),
            search=True,
            dictionary=True,
        ),
        ImportField(
            "source",
            "Source",
            w.Choice(sources, label="Source"),
            COLUMN,
            "source_id",
            aliases=("lead source",),
        ),
        ImportField(
            "status",
            "Status",
            w.Choice(_choices(Lead, "status"), label="Status"),
            aliases=("lead status",),
        ),
        _text("notes", "Notes", 20_000, aliases=("note", "description")),
        _text("utm_source", "UTM source", 200, aliases=("utm source",)),
        _text("utm_medium", "UTM medium", 200, aliases=("utm medium",)),
        _text("utm_campaign", "UTM campaign", 200, aliases=("utm campaign", "campaign")),
        *_common(Entity.LEAD, locale, people, tz),
    ]
    return Spec(
        Entity.LEAD,
        Lead,
        fields,
        match={"email": "email", "external_id": "external_id", "id": "id"},
        needs_one_of=("first_name", "last_name", "email", "company_name"),
        needs_message="A lead needs a name, an email or a company.",
    )


def _activity(locale: w.Locale, people: dict[str, int], tz: dt.tzinfo) -> Spec:
    from apps.activities.models import Activity

    fields = [
        ImportField(
            "type",
            "Type",
            w.Choice(_choices(Activity, "type"), label="Type"),
            aliases=("activity type", "kind"),
        ),
        _text("subject", "Subject", 200, aliases=("title", "name", "summary"), search=True),
        _text("body", "Notes", 20_000, aliases=("note", "notes", "description", "details")),
        ImportField(
            "due_at",
            "Due",
            w.DateTime(locale, tz, label="Due"),
            aliases=("due", "due date", "date", "when", "start", "start time"),
        ),
        ImportField("done", "Done", w.Boolean(label="Done"), aliases=("completed", "is done")),
        ImportField("outcome", "Outcome", w.Choice(_choices(Activity, "outcome"), label="Outcome")),
        _text("location", "Location", 300, aliases=("place", "where"), search=True),
        ImportField(
            "contact",
            "Contact (email)",
            w.Email(254, label="Contact email"),
            LINK,
            aliases=("contact email", "person"),
        ),
        *_common(Entity.ACTIVITY, locale, people, tz),
    ]
    return Spec(
        Entity.ACTIVITY,
        Activity,
        fields,
        match={"external_id": "external_id", "id": "id"},
        needs_one_of=("subject",),
        needs_message="An activity needs a subject.",
    )


def spec_for(entity: str, *, locale: str = "en", tz: dt.tzinfo = dt.UTC) -> Spec:
    """The import fields of `entity` in the current organisation."""
    reading = w.Locale(locale)
    people = members()
    if entity == Entity.CONTACT:
        return _contact(reading, people, tz)
    if entity == Entity.COMPANY:
        return _company(reading, people, tz)
    if entity == Entity.DEAL:
        return _deal(reading, people, tz)
    if entity == Entity.LEAD:
        return _lead(reading, people, tz)
    if entity == Entity.ACTIVITY:
        return _activity(reading, people, tz)
    raise ValueError(f"{entity!r} cannot be imported.")


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip()


def suggest_mapping(spec: Spec, headers: list[str]) -> dict[str, str]:
    """Each header matched to the field whose name, label or alias it spells (ignoring case,
    spaces and punctuation); unmatched headers map to "" (ignored)."""
    names: dict[str, str] = {}
    for item in spec.fields:
        for candidate in (item.name, item.label, *item.aliases):
            names.setdefault(_key(candidate), item.name)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        found = names.get(_key(header), "")
        if found in taken:
            found = ""
        mapping[header] = found
        if found:
            taken.add(found)
    return mapping


def spec_model(entity: str) -> type[models.Model]:
    from apps.records import registry

    try:
        return registry.get(entity).model
    except KeyError:
        raise ValueError(f"{entity!r} cannot be imported.") from None
