"""Demo leads and web forms for `make dev`: lead sources, leads in every status with their
campaigns, a converted lead (its contact, company and deal), a suspected duplicate pair, and a
"Contact us" form that deals its leads out round-robin."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from apps.accounts.models import User
from apps.records.models import CustomField
from apps.records.services import customfield_create, note_add

from .conversion import lead_convert
from .models import LeadSource, WebForm
from .services import lead_create, leadsource_create
from .webforms import webform_create

SOURCES = ["Website", "Referral", "Event", "Cold call", "Partner"]
LEADS = [
    # first, last, email, company, title, source, status, owner, utm (source, medium, campaign)
    (
        "Marge",
        "Gunderson",
        "marge@brainerd.example",
        "Brainerd PD",
        "Chief",
        "Website",
        "new",
        "lena",
        ("google", "cpc", "spring-sale"),
    ),
    (
        "Jerry",
        "Lundegaard",
        "jerry@gustafson.example",
        "Gustafson Motors",
        "Sales manager",
        "Website",
        "contacted",
        "lena",
        ("newsletter", "email", "spring-sale"),
    ),
    (
        "Ellen",
        "Ripley",
        "ripley@weyland.example",
        "Weyland-Yutani",
        "Warrant officer",
        "Event",
        "qualified",
        "tom",
        ("", "", ""),
    ),
    (
        "Dana",
        "Scully",
        "dana@fbi.example",
        "FBI",
        "Special agent",
        "Referral",
        "qualified",
        "maya",
        ("", "", ""),
    ),
    (
        "Fox",
        "Mulder",
        "fox@fbi.example",
        "FBI",
        "Special agent",
        "Referral",
        "contacted",
        "maya",
        ("", "", ""),
    ),
    (
        "Leslie",
        "Knope",
        "leslie@pawnee.example",
        "Pawnee Parks",
        "Deputy director",
        "Website",
        "new",
        "lena",
        ("linkedin", "social", "gov-webinar"),
    ),
    (
        "Ron",
        "Swanson",
        "ron@pawnee.example",
        "Pawnee Parks",
        "Director",
        "Cold call",
        "unqualified",
        "tom",
        ("", "", ""),
    ),
    (
        "Walter",
        "White",
        "walter@graymatter.example",
        "Gray Matter",
        "Chemist",
        "Partner",
        "new",
        "owner",
        ("partner-portal", "referral", "q3-partners"),
    ),
    (
        "Kim",
        "Wexler",
        "kim@hhm.example",
        "HHM",
        "Attorney",
        "Website",
        "contacted",
        "lena",
        ("google", "organic", ""),
    ),
    (
        "Saul",
        "Goodman",
        "saul@bettercall.example",
        "Better Call",
        "Lawyer",
        "Cold call",
        "new",
        "tom",
        ("", "", ""),
    ),
    (
        "Olivia",
        "Pope",
        "olivia@popeassoc.example",
        "Pope & Associates",
        "Founder",
        "Event",
        "qualified",
        "maya",
        ("", "", "saastr-2026"),
    ),
    (
        "Tony",
        "Stark",
        "tony@stark.example",
        "Stark Industries",
        "CEO",
        "Partner",
        "new",
        "owner",
        ("partner-portal", "referral", "q3-partners"),
    ),
    (
        "Selina",
        "Meyer",
        "selina@office.example",
        "Office of the VP",
        "Vice President",
        "Website",
        "new",
        "lena",
        ("google", "cpc", "gov-webinar"),
    ),
    (
        "Michael",
        "Scott",
        "michael@dundermifflin.example",
        "Dunder Mifflin",
        "Regional manager",
        "Event",
        "contacted",
        "tom",
        ("", "", "saastr-2026"),
    ),
    (
        "Michael",
        "Scott",
        "mscott@dundermifflin.example",
        "Dunder Mifflin",
        "Manager",
        "Website",
        "new",
        "lena",
        ("google", "cpc", "spring-sale"),
    ),
]


def seed_leads() -> None:
    if WebForm.objects.filter(name="Contact us").exists():
        return
    people = {u.email.split("@")[0]: u for u in User.objects.all()}
    owner = people["owner"]
    for name in SOURCES:
        if not LeadSource.objects.filter(name__iexact=name).exists():
            leadsource_create(actor=owner, name=name)
    if not CustomField.objects.filter(entity="lead", key="score").exists():
        # Same key as the contacts' "Lead score": conversion carries it over by default.
        customfield_create(
            actor=owner, entity="lead", label="Lead score", key="score", type="number"
        )
    leads = []
    for index, (first, last, email, company, title, source, status, who, utm) in enumerate(LEADS):
        leads.append(
            lead_create(
                actor=owner,
                owner=people.get(who, owner),
                first_name=first,
                last_name=last,
                email=email,
                company_name=company,
                title=title,
                source=source,
                status=status,
                utm_source=utm[0],
                utm_medium=utm[1],
                utm_campaign=utm[2],
                landing_page="https://www.demo-sales.example/pricing" if utm[0] else "",
                custom_fields={"score": 40 + index * 3},
                tags=["Inbound"] if source == "Website" else [],
                allow_duplicate=True,  # the last two are the demo's duplicate pair
            )
        )
    ripley = leads[2]
    note_add(
        actor=owner,
        entity="lead",
        record=ripley,
        body="Met at the expo: needs 40 seats before the next mission.",
    )
    try:
        lead_convert(
            actor=owner,
            lead=ripley,
            create_deal=True,
            deal={"title": "Weyland-Yutani: 40 seats", "value": "48000"},
        )
    except ValidationError:  # pragma: no cover - a deals set-up without a default pipeline
        lead_convert(actor=owner, lead=ripley)
    reps = [people[name] for name in ("lena", "tom") if name in people]
    webform_create(
        actor=owner,
        name="Contact us",
        title="Talk to our sales team",
        intro="Tell us a little about you and we will get back to you within a day.",
        fields=[
            {"target": "first_name", "label": "First name", "required": True},
            {"target": "last_name", "label": "Last name"},
            {"target": "email", "label": "Work email", "required": True},
            {"target": "company_name", "label": "Company"},
            {"target": "notes", "label": "How can we help?"},
        ],
        source=LeadSource.objects.get(name="Website"),
        assignment="round_robin",
        round_robin_users=reps or [owner],
        tags=["Inbound"],
    )
