"""Demo pipelines and deals for `make dev`: the default Sales pipeline and a Partnerships one,
about twenty deals across every stage in several currencies, owned across the demo team and
linked to the demo contacts and companies, a few rotting, some won and lost with reasons, and
a deal custom field."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from apps.accounts.models import User
from apps.companies.models import Company
from apps.contacts.models import Contact
from apps.records.models import CustomField
from apps.records.services import customfield_create

from .models import Deal, LostReason, Pipeline
from .services import deal_create, deal_move, pipeline_create, pipeline_default, stage_update

# title, value, currency, pipeline, stage, owner, company, contact email, source, close in days,
# days in stage, lost reason
DEALS: list[tuple[str, int, str, str, str, str, str, str, str, int, int, str]] = [
    ("Rocket skates, 500 pairs", 48000, "USD", "Sales", "Qualified", "lena", "Acme Corporation", "wile@acme.example", "Inbound", 60, 2, ""),  # noqa: E501
    ("Giant magnet retrofit", 12500, "USD", "Sales", "Contact made", "lena", "Acme Corporation", "road@acme.example", "Outbound", 45, 25, ""),  # noqa: E501
    ("Globex doomsday device service plan", 230000, "USD", "Sales", "Demo scheduled", "lena", "Globex", "hank@globex.example", "Referral", 30, 3, ""),  # noqa: E501
    ("Initech TPS report automation", 18000, "USD", "Sales", "Proposal made", "maya", "Initech", "bill@initech.example", "Inbound", 20, 18, ""),  # noqa: E501
    ("Initech stapler fleet", 2400, "USD", "Sales", "Qualified", "maya", "Initech", "peter@initech.example", "Inbound", 75, 1, ""),  # noqa: E501
    ("Umbrella clinic rollout", 86000, "EUR", "Sales", "Negotiation", "owner", "Umbrella Health", "alice@umbrella.example", "Partner", 14, 4, ""),  # noqa: E501
    ("Umbrella lab analytics", 41000, "EUR", "Sales", "Proposal made", "owner", "Umbrella Health", "alice@umbrella.example", "Outbound", 40, 2, ""),  # noqa: E501
    ("Stark arc reactor maintenance", 150000, "USD", "Sales", "Negotiation", "tom", "Stark Industries", "pepper@stark.example", "Referral", 10, 12, ""),  # noqa: E501
    ("Stark security audit", 27000, "USD", "Sales", "Demo scheduled", "tom", "Stark Industries", "happy@stark.example", "Outbound", 35, 6, ""),  # noqa: E501
    ("Acme anvil subscription", 9600, "USD", "Sales", "Won", "lena", "Acme Corporation", "wile@acme.example", "Inbound", -5, 5, ""),  # noqa: E501
    ("Globex hammock supply", 5200, "GBP", "Sales", "Won", "lena", "Globex", "hank@globex.example", "Outbound", -12, 12, ""),  # noqa: E501
    ("Stark suit paint job", 64000, "USD", "Sales", "Won", "tom", "Stark Industries", "pepper@stark.example", "Referral", -20, 20, ""),  # noqa: E501
    ("Initech relocation", 31000, "USD", "Sales", "Lost", "maya", "Initech", "bill@initech.example", "Inbound", -8, 8, "Price"),  # noqa: E501
    ("Acme portable holes", 7000, "USD", "Sales", "Lost", "lena", "Acme Corporation", "road@acme.example", "Outbound", -30, 30, "Lost to a competitor"),  # noqa: E501
    ("Umbrella cold storage", 22000, "EUR", "Sales", "Contact made", "owner", "Umbrella Health", "alice@umbrella.example", "Inbound", 90, 3, ""),  # noqa: E501
    ("Globex reseller agreement", 120000, "USD", "Partnerships", "Intro call", "owner", "Globex", "hank@globex.example", "Partner", 120, 40, ""),  # noqa: E501
    ("Stark co-marketing", 50000, "USD", "Partnerships", "Pilot", "tom", "Stark Industries", "pepper@stark.example", "Partner", 60, 9, ""),  # noqa: E501
    ("Acme referral programme", 15000, "USD", "Partnerships", "Contract", "lena", "Acme Corporation", "wile@acme.example", "Partner", 21, 2, ""),  # noqa: E501
    ("Umbrella integration partner", 35000, "EUR", "Partnerships", "Won", "owner", "Umbrella Health", "alice@umbrella.example", "Partner", -3, 3, ""),  # noqa: E501
    ("Initech channel pilot", 8000, "USD", "Partnerships", "Lost", "maya", "Initech", "peter@initech.example", "Partner", -15, 15, "No budget"),  # noqa: E501
]  # fmt: skip  # a table: one deal per line


def seed_deals() -> None:
    """Idempotent: does nothing once the Partnerships pipeline exists."""
    if Pipeline.objects.filter(name="Partnerships").exists():
        return
    people = {u.email.split("@")[0]: u for u in User.objects.all()}
    owner = people["owner"]
    sales = pipeline_default()
    for name, days in (("Contact made", 14), ("Proposal made", 10), ("Negotiation", 7)):
        stage_update(actor=owner, stage=sales.stages.get(name=name), rotting_days=days)
    partnerships = pipeline_create(
        actor=owner,
        name="Partnerships",
        stages=[
            {"name": "Intro call", "probability": 10, "rotting_days": 21},
            {"name": "Pilot", "probability": 40},
            {"name": "Contract", "probability": 75},
        ],
    )
    if not CustomField.objects.filter(entity="deal", key="source").exists():
        customfield_create(
            actor=owner,
            entity="deal",
            label="Deal source",
            key="source",
            type="select",
            options=["Inbound", "Outbound", "Partner", "Referral"],
        )
    pipelines = {sales.name: sales, partnerships.name: partnerships}
    today = date.today()
    now = timezone.now()
    for (
        title,
        value,
        currency,
        pipeline_name,
        stage_name,
        who,
        company_name,
        email,
        source,
        close_in,
        days_in_stage,
        reason,
    ) in DEALS:
        pipeline = pipelines[pipeline_name]
        stage = pipeline.stages.get(name=stage_name)
        company = Company.objects.filter(name=company_name).first()
        contact = Contact.objects.filter(email=email).first()
        actor = people.get(who, owner)
        deal = deal_create(
            actor=owner,
            title=title,
            value=value,
            currency=currency,
            pipeline=pipeline,
            owner=actor,
            companies=[company] if company else [],
            contacts=[contact] if contact else [],
            expected_close=today + timedelta(days=close_in),
            custom_fields={"source": source},
            tags=["Strategic"] if value >= 100000 else None,
        )
        if stage.pk != deal.stage_id:
            deal_move(
                actor=owner,
                deal=deal,
                stage=stage,
                lost_reason=LostReason.objects.filter(name=reason).first() if reason else None,
            )
        # Back-date the time in the current stage: a few deals rot on the board.
        Deal.objects.filter(pk=deal.pk).update(stage_entered_at=now - timedelta(days=days_in_stage))
