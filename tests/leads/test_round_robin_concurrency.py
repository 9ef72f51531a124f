"""Round-robin under concurrent submissions: visitors sending a form at the same moment, each
in its own connection and transaction, share the leads out exactly in turn (the form's row is
locked while the next owner is chosen). Runs outside the test transaction, on an organisation
of its own that is deleted afterwards."""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from typing import Any

from django.db import connection, transaction
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_set_role
from apps.leads.models import Lead, WebForm
from apps.leads.webforms import webform_create, webform_submit
from tenants import services
from tenants.provisioning import tenant_provision
from tests.factories import make_user

VISITORS = 8


def test_concurrent_submissions_are_shared_out_in_turn(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    slug = f"rr-{secrets.token_hex(3)}"
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Round Robin Ltd",
            owner_email="owner@rr.test",
            owner_password="a-long-owner-password",
            owner_name="Olive Owner",
            use_pool=False,
        )
        schema = org.tenant.schema_name
        try:
            with schema_context(schema):
                owner = User.objects.get(email="owner@rr.test")
                reps = []
                for index in range(2):
                    rep = make_user(email=f"rep{index}@rr.test", password="a-long-rep-password")
                    user_set_role(user=rep, role=Role.REP)
                    reps.append(rep)
                form = webform_create(
                    actor=owner,
                    name="Contact us",
                    fields=[{"target": "email", "label": "Email", "required": True}],
                    assignment="round_robin",
                    round_robin_users=reps,
                )
            start = threading.Barrier(VISITORS)
            failures: list[BaseException] = []

            def visitor(index: int) -> None:
                try:
                    with schema_context(schema):
                        start.wait(timeout=30)
                        with transaction.atomic():
                            webform_submit(
                                form=form,
                                values={"email": f"visitor{index}@example.com"},
                                tracking={"utm_campaign": "launch"},
                            )
                except BaseException as exc:  # reported below, with the thread's own error
                    failures.append(exc)
                finally:
                    connection.close()

            threads = [threading.Thread(target=visitor, args=(i,)) for i in range(VISITORS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not failures, failures
            with schema_context(schema):
                owners = Counter(Lead.objects.values_list("owner_id", flat=True))
                assert owners == {reps[0].pk: VISITORS // 2, reps[1].pk: VISITORS // 2}
                saved = WebForm.objects.get(pk=form.pk)
                assert saved.submissions == VISITORS
                assert saved.round_robin_counter == VISITORS
                assert set(Lead.objects.values_list("utm_campaign", flat=True)) == {"launch"}
        finally:
            services.tenant_delete(tenant=org.tenant, confirmation=slug, actor="test")
