"""Make the demo organisation a newcomer sees after `make dev`. Safe to run again."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import schema_context

from apps.accounts.models import Team, User
from apps.accounts.roles import Role
from apps.accounts.services import team_create, team_update, user_set_role
from apps.activities.demo import seed_activities
from apps.apikeys.models import ApiKey
from apps.apikeys.services import api_key_create
from apps.companies.services import company_create, company_share
from apps.contacts.demo import seed_contacts
from apps.core.urls_util import host_url, tenant_host
from apps.dataexport.demo import seed_data_export
from apps.deals.demo import seed_deals
from apps.deals.demo_history import seed_sales_history
from apps.imports.demo import seed_imports
from apps.leads.demo import seed_leads
from apps.notifications.demo import seed_notifications
from apps.notifications.services import quiet as notifications_quiet
from apps.reports.demo import seed as seed_report_subscriptions
from apps.reports.models import ExchangeRate, ReportingSettings
from tenants.db import connection
from tenants.models import Plan, Tenant
from tenants.provisioning import tenant_provision

DEMO_SLUG = "demo"
DEMO_OWNER = "owner@demo.kestrel.test"
DEMO_PASSWORD = "kestrel-demo-2026"  # noqa: S105 - published demo credentials, dev only
OPERATOR_EMAIL = "operator@kestrel.test"
DEMO_KEY_NAME = "Demo read-only integration"
TEAM = [
    ("Maya Patel", "maya@demo.kestrel.test", Role.ADMIN),
    ("Tom Becker", "tom@demo.kestrel.test", Role.MANAGER),
    ("Lena Okafor", "lena@demo.kestrel.test", Role.REP),
    ("Sam Reader", "sam@demo.kestrel.test", Role.READONLY),
]


class Command(BaseCommand):
    help = "Create the demo organisation, its users and a platform operator (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"]
        connection.set_schema_to_public()
        call_command("create_operator", email=OPERATOR_EMAIL, password=password, stdout=self.stderr)
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
        if tenant is None:
            tenant = tenant_provision(
                slug=DEMO_SLUG,
                name="Demo Sales Co",
                owner_email=DEMO_OWNER,
                owner_password=password,
                owner_name="Dana Demo",
                plan=Plan.TEAM,
                actor="seed",
            ).tenant
        new_key = None
        # Made-up history notifies in the app but sends no email about it.
        with schema_context(tenant.schema_name), notifications_quiet():
            for full_name, email, role in TEAM:
                user, created = User.objects.get_or_create(
                    email=email, defaults={"full_name": full_name}
                )
                if created:
                    user.set_password(password)
                    user.save(update_fields=["password"])
                    user_set_role(user=user, role=role)
            _seed_teams_and_companies()
            seed_contacts()
            seed_deals()
            seed_leads()
            seed_activities()
            seed_sales_history()
            seed_notifications()
            seed_imports()
            _seed_exchange_rates()
            seed_report_subscriptions(User.objects.get(email=DEMO_OWNER))
            if not ApiKey.objects.filter(name=DEMO_KEY_NAME).exists():
                new_key = api_key_create(
                    name=DEMO_KEY_NAME,
                    role=Role.READONLY,
                    scopes="*:read",
                    created_by=User.objects.get(email=DEMO_OWNER),
                ).secret
            # Last, so that the export holds everything above.
            seed_data_export()
        self.stdout.write(
            "\n".join(
                [
                    "Demo ready:",
                    f"  public site   {host_url(_base(), '/')}",
                    f"  demo tenant   {host_url(tenant_host(DEMO_SLUG), '/')}",
                    f"    sign in as  {DEMO_OWNER} / {password}",
                    f"  console       {host_url(_base(), '/console/')}",
                    f"    sign in as  {OPERATOR_EMAIL} / {password}",
                    "  team          " + ", ".join(f"{e} ({r.label})" for _, e, r in TEAM),
                    f"  API docs      {host_url(tenant_host(DEMO_SLUG), '/api/docs/')}",
                ]
            )
        )
        if new_key:
            self.stdout.write(f"  read-only API key (shown once): {new_key}")


def _seed_exchange_rates() -> None:
    """Reports add up money in US dollars; the demo's euro and pound deals convert."""
    ReportingSettings.current()
    for currency, rate in (("EUR", "1.08"), ("GBP", "1.27")):
        ExchangeRate.objects.get_or_create(currency=currency, defaults={"rate": Decimal(rate)})


def _seed_teams_and_companies() -> None:
    """A team managed by Tom, and companies owned across the team, one shared with Lena."""
    if Team.objects.filter(name="Field sales").exists():
        return
    people = {u.email.split("@")[0]: u for u in User.objects.all()}
    team = team_create(name="Field sales", manager=people["tom"], actor=None)
    team_update(team=team, manager=people["tom"], members=[people["lena"]], actor=None)
    owner = people["owner"]
    for name, domain, who in [
        ("Acme Corporation", "acme.example", "lena"),
        ("Globex", "globex.example", "lena"),
        ("Initech", "initech.example", "maya"),
        ("Umbrella Health", "umbrella.example", "owner"),
        ("Stark Industries", "stark.example", "tom"),
    ]:
        company = company_create(
            actor=owner, name=name, domain=domain, owner=people[who], allow_duplicate=True
        )
        if name == "Umbrella Health":
            company_share(actor=owner, company=company, user=people["lena"], level="view")


def _base() -> str:
    from django.conf import settings

    return str(settings.KESTREL_BASE_DOMAIN)
