"""Settings → Users: invitations, roles, deactivation; profile and password reset."""

from __future__ import annotations

import re
import secrets

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import Invitation, User
from apps.accounts.roles import Role
from apps.accounts.services import invitation_create, user_set_active, user_set_role
from apps.audit.models import AuditEntry
from tenants.models import Tenant
from tests.conftest import ALPHA, fresh_window, tenant_client
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _invite(owner: Client, email: str, role: str = "rep") -> str:
    response = owner.post("/settings/users/", {"email": email, "role": role})
    assert response.status_code == 200, response.content
    link = response.context["invite_link"]
    assert link and link in mail.outbox[-1].body
    return str(link)


def test_invitee_joins_with_the_invited_role(owner_client_a: Client, tenant_a: Tenant) -> None:
    link = _invite(owner_client_a, "New.Rep@Alpha.test")
    assert mail.outbox[-1].to == ["new.rep@alpha.test"]
    path = re.sub(r"^https?://[^/]+", "", link)
    invitee = tenant_client(tenant_a)
    page = invitee.get(path)
    assert b"Sales rep" in page.content and b"new.rep@alpha.test" in page.content
    weak = invitee.post(path, {"full_name": "New Rep", "password": "123"})
    assert b"too short" in weak.content
    joined = invitee.post(
        path, {"full_name": "New Rep", "password": "a-fine-new-password"}, follow=True
    )
    assert b"Welcome to Alpha Ltd" in joined.content
    with schema_context(tenant_a.schema_name):
        rep = User.objects.get(email="new.rep@alpha.test")
        assert rep.role == Role.REP
        actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert "user.invited" in actions and "user.joined" in actions
    # The link works once; the rep may not open the settings area.
    assert tenant_client(tenant_a).get(path).status_code == 404
    assert invitee.get("/settings/users/").status_code == 403


def test_inviting_a_member_again_is_refused(owner_client_a: Client) -> None:
    response = owner_client_a.post("/settings/users/", {"email": ALPHA.owner_email, "role": "rep"})
    assert b"already a member" in response.content


def test_reinviting_replaces_the_old_invitation(owner_client_a: Client, tenant_a: Tenant) -> None:
    first = _invite(owner_client_a, "twice@alpha.test")
    _invite(owner_client_a, "twice@alpha.test", role="manager")
    old_path = re.sub(r"^https?://[^/]+", "", first)
    assert tenant_client(tenant_a).get(old_path).status_code == 404


def test_withdrawn_invitation_stops_working(owner_client_a: Client, tenant_a: Tenant) -> None:
    link = _invite(owner_client_a, "withdrawn@alpha.test")
    with schema_context(tenant_a.schema_name):
        pk = Invitation.objects.get(email="withdrawn@alpha.test").pk
    owner_client_a.post(f"/settings/users/invitations/{pk}/cancel/")
    assert tenant_client(tenant_a).get(re.sub(r"^https?://[^/]+", "", link)).status_code == 404


def test_invitation_of_one_organisation_is_unknown_in_another(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        token = invitation_create(email="x@x.test", role=Role.REP, invited_by=None).token
    assert tenant_client(tenant_b).get(f"/accounts/invitation/{token}/").status_code == 404
    assert tenant_client(tenant_a).get(f"/accounts/invitation/{token}/").status_code == 200


def test_role_changes_are_audited_and_keep_an_owner(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        member = make_user(email="member@alpha.test")
        user_set_role(user=member, role=Role.REP)
        owner = User.objects.get(email=ALPHA.owner_email)
    owner_client_a.post(f"/settings/users/{member.pk}/role/", {"role": "manager"})
    refused = owner_client_a.post(
        f"/settings/users/{owner.pk}/role/", {"role": "admin"}, follow=True
    )
    assert b"at least one Owner" in refused.content
    with schema_context(tenant_a.schema_name):
        assert User.objects.get(pk=member.pk).role == Role.MANAGER
        assert User.objects.get(pk=owner.pk).role == Role.OWNER
        change = AuditEntry.objects.get(action="user.role_changed")
    assert change.detail == {"email": "member@alpha.test", "from": "rep", "to": "manager"}


def test_deactivated_member_cannot_sign_in_until_reactivated(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    password = secrets.token_urlsafe(12)
    with schema_context(tenant_a.schema_name):
        member = make_user(email="leaver@alpha.test", password=password)
    owner_client_a.post(f"/settings/users/{member.pk}/active/", {"active": "0"})
    with schema_context(tenant_a.schema_name):
        assert not tenant_client(tenant_a).login(email="leaver@alpha.test", password=password)
    owner_client_a.post(f"/settings/users/{member.pk}/active/", {"active": "1"})
    with schema_context(tenant_a.schema_name):
        assert tenant_client(tenant_a).login(email="leaver@alpha.test", password=password)
        actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"user.deactivated", "user.reactivated"} <= actions


def test_owners_cannot_deactivate_themselves_or_the_last_owner(in_tenant_a: Tenant) -> None:
    from django.core.exceptions import ValidationError

    owner = User.objects.get(email=ALPHA.owner_email)
    with pytest.raises(ValidationError, match="yourself"):
        user_set_active(user=owner, active=False, actor=owner)
    with pytest.raises(ValidationError, match="last active Owner"):
        user_set_active(user=owner, active=False, actor=None)


def test_users_page_lists_members_and_pending(owner_client_a: Client) -> None:
    _invite(owner_client_a, "pending@alpha.test", role="manager")
    page = owner_client_a.get("/settings/users/").content.decode()
    assert ALPHA.owner_email in page and "pending@alpha.test" in page and "Manager" in page


def test_profile_saves_time_zone_and_locale(owner_client_a: Client, tenant_a: Tenant) -> None:
    response = owner_client_a.post(
        "/accounts/profile/",
        {
            "full_name": "Olivia Owner",
            "time_zone": "Europe/Berlin",
            "locale": "de",
        },
        follow=True,
    )
    assert b"Profile saved" in response.content
    assert b'href="/activities/calendar/#subscribe"' in response.content  # the calendar feed
    bad = owner_client_a.post(
        "/accounts/profile/", {"full_name": "x", "time_zone": "Mars/Base", "locale": "de"}
    )
    assert b"Select a valid choice" in bad.content
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email=ALPHA.owner_email)
    assert (owner.time_zone, owner.locale, owner.full_name) == (
        "Europe/Berlin",
        "de",
        "Olivia Owner",
    )


def test_password_reset_by_email_within_the_organisation(tenant_a: Tenant) -> None:
    client = tenant_client(tenant_a)
    client.post("/accounts/password-reset/", {"email": ALPHA.owner_email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://alpha\.localhost(/accounts/reset/\S+)", str(mail.outbox[0].body))
    assert link is not None
    form = client.get(link.group(1), follow=True)
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link.group(1)
    done = client.post(
        set_url, {"new_password1": "a-brand-new-secret", "new_password2": "a-brand-new-secret"}
    )
    assert done.status_code == 302
    with schema_context(tenant_a.schema_name):
        assert Client(HTTP_HOST="alpha.localhost").login(
            email=ALPHA.owner_email, password="a-brand-new-secret"
        )


def test_failed_sign_ins_are_rate_limited(tenant_a: Tenant, settings: object) -> None:
    settings.PUBLIC_RATE_LIMIT_PER_MINUTE = 2  # type: ignore[attr-defined]
    fresh_window(60)
    client = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR=f"10.7.{secrets.randbelow(250)}.9")
    for _ in range(2):
        client.post("/accounts/login/", {"username": ALPHA.owner_email, "password": "no"})
    limited = client.post("/accounts/login/", {"username": ALPHA.owner_email, "password": "no"})
    assert limited.status_code == 429
