"""Demo contacts for `make dev`: custom fields, tags, company links, notes, a field change,
a suspected duplicate pair and a shared saved view, so every contacts feature shows at once."""

from __future__ import annotations

from apps.accounts.models import User
from apps.companies.models import Company
from apps.companies.services import company_update
from apps.records.models import CustomField
from apps.records.services import customfield_create, note_add, savedview_create, tag_create

from .services import contact_create, contact_update

PEOPLE = [
    # first, last, email, phone, title, company, tier, tags, owner
    (
        "Wile",
        "Coyote",
        "wile@acme.example",
        "+1 415 555 0101",
        "Head of R&D",
        "Acme Corporation",
        "Gold",
        ["VIP"],
        "lena",
    ),
    (
        "Road",
        "Runner",
        "road@acme.example",
        "+1 415 555 0102",
        "Procurement",
        "Acme Corporation",
        "Silver",
        [],
        "lena",
    ),
    (
        "Hank",
        "Scorpio",
        "hank@globex.example",
        "+1 212 555 0199",
        "CEO",
        "Globex",
        "Gold",
        ["VIP", "Partner"],
        "lena",
    ),
    (
        "Bill",
        "Lumbergh",
        "bill@initech.example",
        "+1 512 555 0142",
        "VP Operations",
        "Initech",
        "Bronze",
        ["Churn risk"],
        "maya",
    ),
    (
        "Peter",
        "Gibbons",
        "peter@initech.example",
        "+1 512 555 0143",
        "Engineer",
        "Initech",
        "Bronze",
        [],
        "maya",
    ),
    (
        "Alice",
        "Abernathy",
        "alice@umbrella.example",
        "+44 20 7946 0011",
        "Security lead",
        "Umbrella Health",
        "Silver",
        ["Partner"],
        "owner",
    ),
    (
        "Pepper",
        "Potts",
        "pepper@stark.example",
        "+1 310 555 0177",
        "CEO",
        "Stark Industries",
        "Gold",
        ["VIP"],
        "tom",
    ),
    (
        "Happy",
        "Hogan",
        "happy@stark.example",
        "+1 310 555 0178",
        "Head of Security",
        "Stark Industries",
        "Silver",
        [],
        "tom",
    ),
    (
        "Ada",
        "Lovelace",
        "ada@analytical.example",
        "+44 20 7946 0958",
        "Analyst",
        "",
        "Gold",
        ["VIP"],
        "owner",
    ),
    (
        "Grace",
        "Hopper",
        "grace@navy.example",
        "+1 202 555 0147",
        "Rear Admiral",
        "",
        "Silver",
        [],
        "maya",
    ),
    (
        "Katherine",
        "Johnson",
        "katherine@nasa.example",
        "+1 757 555 0100",
        "Mathematician",
        "",
        "Gold",
        [],
        "lena",
    ),
    (
        "Dorothy",
        "Vaughan",
        "dorothy@nasa.example",
        "+1 757 555 0101",
        "Supervisor",
        "",
        "Silver",
        ["Partner"],
        "lena",
    ),
]


def seed_contacts() -> None:
    if CustomField.objects.filter(entity="contact", key="tier").exists():
        return
    people = {u.email.split("@")[0]: u for u in User.objects.all()}
    owner = people["owner"]
    customfield_create(
        actor=owner,
        entity="contact",
        label="Tier",
        type="select",
        options=["Gold", "Silver", "Bronze"],
        help_text="Account tier for service levels.",
    )
    customfield_create(
        actor=owner, entity="contact", label="Renewal date", key="renewal", type="date"
    )
    customfield_create(
        actor=owner, entity="contact", label="Lead score", key="score", type="number"
    )
    customfield_create(
        actor=owner, entity="company", label="Annual revenue", key="arr", type="currency"
    )
    for name, color in (("VIP", "#b45309"), ("Partner", "#047857"), ("Churn risk", "#b91c1c")):
        tag_create(actor=owner, name=name, color=color)
    companies = {c.name: c for c in Company.objects.all()}
    for index, (name, arr) in enumerate(
        (("Acme Corporation", "1200000"), ("Globex", "5400000"), ("Stark Industries", "98000000"))
    ):
        company_update(
            actor=owner,
            company=companies[name],
            custom_fields={"arr": arr},
            industry=("Manufacturing", "Energy", "Defence")[index],
            size="201-1000",
            tags=["Partner"] if name == "Globex" else [],
        )
    made = {}
    for index, (first, last, email, phone, title, company, tier, tags, who) in enumerate(PEOPLE):
        made[first] = contact_create(
            actor=owner,
            first_name=first,
            last_name=last,
            emails=[email],
            phones=[phone],
            title=title,
            owner=people[who],
            companies=[companies[company].pk] if company else [],
            tags=tags,
            custom_fields={
                "tier": tier,
                "score": 40 + index * 5,
                "renewal": f"2027-0{1 + index % 9}-15",
            },
            lifecycle_stage="customer" if tier == "Gold" else "sql",
            source="Referral" if index % 3 == 0 else "Website",
            allow_duplicate=True,
        )
    # A field change for the timeline, notes, and a suspected duplicate to merge.
    contact_update(actor=people["lena"], contact=made["Wile"], title="Chief Inventor")
    note_add(
        actor=owner,
        entity="contact",
        record=made["Ada"],
        body="Met at the Analytical Society dinner; wants a demo of the reporting.",
    )
    note_add(
        actor=people["lena"],
        entity="contact",
        record=made["Hank"],
        body="Renewal call booked for next quarter. Ask about the Springfield office.",
    )
    contact_create(
        actor=owner,
        first_name="Ada",
        last_name="Lovelace",
        emails=["countess@lovelace.example"],
        title="Countess",
        custom_fields={"tier": "Silver"},
        allow_duplicate=True,
    )
    savedview_create(
        actor=owner,
        entity="contact",
        name="VIP contacts",
        query="tag=VIP&ordering=-cf_score",
        columns=["email", "company", "cf_tier", "cf_score", "owner", "tags"],
        shared=True,
    )
