"""One object of every API resource in an organisation, built through the product's services,
for the object-level authorisation (BOLA) and mass-assignment tests; the routes they cover
are read from the OpenAPI schema, and `SchemaRoutes` tells which of them hold object ids."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models, transaction
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import Team, User
from apps.accounts.roles import Role
from apps.accounts.services import team_create
from apps.activities.services import activity_create
from apps.apikeys.services import api_key_create
from apps.companies.services import company_create
from apps.contacts.models import ContactCompany
from apps.contacts.services import contact_create, contact_link_company, contact_merge
from apps.core.models import FailedTask
from apps.dataexport.models import DataExport
from apps.deals import services as deals
from apps.deals.models import StageKind
from apps.imports.services import import_create
from apps.leads import services as leads
from apps.leads.webforms import webform_create
from apps.notifications.services import notify
from apps.records.services import customfield_create, tag_create
from apps.reports import subscriptions
from tenants.db import connection
from tenants.models import Tenant
from tests.members import member

# Every id of the attacked organisation is at least this, and every id of the attacker's is
# far below it: ids are per schema, so an id of B's that happened to exist in A would test
# A's own object, not isolation.
FAR_IDS = 50_000_000

# The tenant apps whose rows the tests compare before and after each request.
COMPARED_APPS = (
    "accounts",
    "apikeys",
    "records",
    "companies",
    "contacts",
    "deals",
    "leads",
    "activities",
    "notifications",
    "imports",
    "reports",
    "dataexport",
    "core",
)


@dataclass
class World:
    """The objects of one organisation, by resource, with the keys that act in it."""

    tenant: Tenant
    owner: User
    rep: User
    team: Team
    ids: dict[str, int] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, key: str = "owner", host: Tenant | None = None) -> Client:
        tenant = host or self.tenant
        return Client(
            HTTP_HOST=f"{tenant.slug}.localhost",
            HTTP_AUTHORIZATION=f"Bearer {self.keys[key]}",
        )


def push_ids_far(tenant: Tenant) -> None:
    """Move every id sequence of the organisation's schema to FAR_IDS or beyond (not rolled
    back with the test's transaction: later ids of that schema are simply larger)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, sequencename, COALESCE(last_value, 0) FROM pg_sequences "
            "WHERE schemaname = %s",
            [tenant.schema_name],
        )
        for schema, name, last in cursor.fetchall():
            if last < FAR_IDS:
                cursor.execute("SELECT setval(%s, %s)", [f'"{schema}"."{name}"', FAR_IDS])


def build_world(tenant: Tenant, *, label: str, far: bool = False) -> World:
    """One object of every resource in `tenant` (the current test's transaction), made by its
    owner; `label` keeps names apart from other tests' data."""
    with schema_context(tenant.schema_name):
        if far:
            push_ids_far(tenant)
        owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        rep = member(f"bola-rep-{label}@{tenant.slug}.test", Role.REP, full_name="Rep Bola")
        team = team_create(name=f"Bola team {label}", manager=None, actor=owner)
        world = World(tenant=tenant, owner=owner, rep=rep, team=team)
        ids = world.ids
        ids["user"] = rep.pk
        ids["team"] = team.pk

        company = company_create(actor=owner, name=f"Bola {label} Co", allow_duplicate=True)
        other_company = company_create(actor=owner, name=f"Bola {label} Two", allow_duplicate=True)
        contact = contact_create(
            actor=owner,
            first_name="Bola",
            last_name=f"Contact {label}",
            email=f"bola-{label}@{tenant.slug}.test",
            allow_duplicate=True,
        )
        spare = contact_create(
            actor=owner, first_name="Spare", last_name=f"Contact {label}", allow_duplicate=True
        )
        gone = contact_create(
            actor=owner, first_name="Gone", last_name=f"Contact {label}", allow_duplicate=True
        )
        link = contact_link_company(actor=owner, contact=contact, company=company)
        merge = contact_merge(actor=owner, survivor=spare, merged=[gone])
        ids.update(
            company=company.pk,
            company2=other_company.pk,
            contact=contact.pk,
            contact2=spare.pk,
            contact_link=link.pk,
            merge=merge.pk,
        )

        deals.pipeline_default()
        pipeline = deals.pipeline_create(
            actor=owner, name=f"Bola {label} pipeline", stages=["Bola open", "Bola later"]
        )
        spare_pipeline = deals.pipeline_create(actor=owner, name=f"Bola {label} spare")
        stage = pipeline.stages.get(name="Bola open")
        reason = deals.lostreason_create(actor=owner, name=f"Bola {label} reason")
        deal = deals.deal_create(
            actor=owner,
            title=f"Bola {label} deal",
            value=1000,
            pipeline=pipeline,
            contacts=[contact.pk],
            companies=[company.pk],
        )
        ids.update(
            pipeline=pipeline.pk,
            pipeline2=spare_pipeline.pk,
            stage=stage.pk,
            stage2=pipeline.stages.get(name="Bola later").pk,
            won_stage=pipeline.stages.get(kind=StageKind.WON).pk,
            lost_stage=pipeline.stages.get(kind=StageKind.LOST).pk,
            lost_reason=reason.pk,
            deal=deal.pk,
        )

        source = leads.leadsource_create(actor=owner, name=f"Bola {label} source")
        lead = leads.lead_create(
            actor=owner,
            first_name="Bola",
            last_name=f"Lead {label}",
            email=f"lead-{label}@{tenant.slug}.test",
            company_name=f"Bola {label} Lead Co",
            source=source,
            allow_duplicate=True,
        )
        lead2 = leads.lead_create(
            actor=owner, first_name="Other", last_name=f"Lead {label}", allow_duplicate=True
        )
        form = webform_create(actor=owner, name=f"Bola {label} form", fields=[{"target": "email"}])
        ids.update(lead=lead.pk, lead2=lead2.pk, lead_source=source.pk, web_form=form.pk)

        activity = activity_create(
            actor=owner,
            type="task",
            subject=f"Bola {label} task",
            contacts=[contact.pk],
            deals=[deal.pk],
        )
        tag = tag_create(actor=owner, name=f"bola-{label}")
        custom = customfield_create(
            actor=owner, entity="contact", label=f"Bola {label} field", type="text"
        )
        ids.update(activity=activity.pk, tag=tag.pk, custom_field=custom.pk)

        job = import_create(
            actor=owner,
            entity="contact",
            upload=SimpleUploadedFile(f"bola-{label}.csv", b"First name,Email\nImp,imp@x.test\n"),
        )
        export = DataExport.objects.create(requested_by=owner)
        note = notify(recipient=owner, kind="mention", title=f"Bola {label} note", actor=rep)
        assert note is not None
        sub = subscriptions.subscribe(actor=owner, report="pipeline-by-stage", cadence="weekly")
        failed = FailedTask.objects.create(
            task_name="apps.activities.tasks.deliver_due_reminders",
            job_kind="reminder",
            object_id=1,
            error=f"Bola {label} failure",
        )
        made = api_key_create(name=f"Bola {label} key", role=Role.OWNER, created_by=owner)
        ids.update(
            import_job=job.pk,
            data_export=export.pk,
            notification=note.pk,
            report_subscription=sub.pk,
            failed_task=failed.pk,
            api_key=made.key.pk,
        )
        world.keys["owner"] = made.secret
        world.keys["rep"] = api_key_create(
            name=f"Bola {label} rep key", role=Role.REP, created_by=rep
        ).secret
        assert ContactCompany.objects.filter(pk=link.pk).exists()
        return world


@contextmanager
def kept_for_the_module(django_db_blocker: Any) -> Iterator[None]:
    """A transaction around a whole test module, rolled back at its end: objects built once
    for the module are seen by each test (whose own transaction nests in it as a savepoint)
    and committed never."""
    with django_db_blocker.unblock():
        block = transaction.atomic()
        block.__enter__()
        try:
            yield
        finally:
            transaction.set_rollback(True)
            block.__exit__(None, None, None)
            connection.set_schema_to_public()


def compared_models() -> list[type[models.Model]]:
    return [
        model
        for label in COMPARED_APPS
        for model in django_apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def snapshot(tenant: Tenant) -> dict[str, str]:
    """A digest of every row of the compared tables of `tenant`, by table, read in one query
    (without `last_used_at`, which a request with an API key moves by itself)."""
    tables = [model._meta.db_table for model in compared_models()]
    query = " UNION ALL ".join(
        f"SELECT '{table}', md5(COALESCE(string_agg((to_jsonb(t) - 'last_used_at')::text, "
        f"'|' ORDER BY (to_jsonb(t) - 'last_used_at')::text), '')) FROM \"{table}\" t"
        for table in tables
    )
    with schema_context(tenant.schema_name), connection.cursor() as cursor:
        cursor.execute(query)
        return dict(cursor.fetchall())


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changed = []
    for table, rows in before.items():
        if rows != after.get(table):
            changed.append(table)
    return changed


# Routes of the schema ----------------------------------------------------------------------

WRITE_METHODS = ("post", "put", "patch", "delete")
METHODS = ("get", *WRITE_METHODS)
_ID = re.compile(r"\{(id|pk)\}")


def schema_operations(schema: dict[str, Any]) -> set[tuple[str, str]]:
    """(path, METHOD) of every operation under /api/v1/."""
    return {
        (path, method.upper())
        for path, item in schema["paths"].items()
        for method in item
        if method in METHODS and path.startswith("/api/v1/")
    }


def object_operations(schema: dict[str, Any]) -> set[tuple[str, str]]:
    """The operations whose path names one object by id."""
    return {(path, method) for path, method in schema_operations(schema) if _ID.search(path)}


def fill(path: str, pk: int) -> str:
    return _ID.sub(str(pk), path)
