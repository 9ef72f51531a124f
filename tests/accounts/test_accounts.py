from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import LoginHandoff, User
from apps.accounts.services import login_handoff_create, login_handoff_redeem, user_create
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_user_without_password_cannot_sign_in(in_tenant_a: Tenant) -> None:
    user = user_create(email="NoPass@Example.test", password=None, full_name="No Pass")
    assert user.email == "nopass@example.test"
    assert not user.has_usable_password()
    assert str(user) == "No Pass"
    assert user.get_short_name() == "No"


def test_user_requires_email(in_tenant_a: Tenant) -> None:
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user(email="", password="x")


def test_superuser_defaults(in_tenant_a: Tenant) -> None:
    admin = User.objects.create_superuser(email="root@example.test", password="pw-long-enough")
    assert admin.is_staff and admin.is_superuser
    assert admin.get_full_name() == "root@example.test"
    assert admin.get_short_name() == "root@example.test"


def test_handoff_expires_and_works_once(in_tenant_a: Tenant) -> None:
    user = User.objects.get(email="owner@alpha.test")
    token = login_handoff_create(user=user)
    assert login_handoff_redeem(token=token) == user
    assert login_handoff_redeem(token=token) is None

    stale = login_handoff_create(user=user)
    LoginHandoff.objects.filter(used_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert login_handoff_redeem(token=stale) is None
    assert login_handoff_redeem(token="forged") is None


def test_handoff_refuses_deactivated_users(in_tenant_a: Tenant) -> None:
    user = user_create(email="gone@example.test", password=None)
    token = login_handoff_create(user=user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert login_handoff_redeem(token=token) is None


def test_login_and_logout_pages(client_a: Client) -> None:
    response = client_a.post(
        "/accounts/login/", {"username": "owner@alpha.test", "password": "wrong"}
    )
    assert b"Please enter a correct" in response.content
    response = client_a.post(
        "/accounts/login/", {"username": "owner@alpha.test", "password": "a-long-test-password"}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client_a.get("/").status_code == 200
    client_a.post("/accounts/logout/")
    assert client_a.get("/").status_code == 302
