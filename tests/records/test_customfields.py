"""Custom field values: every type converts what users type into one stored form, and says
clearly what is wrong otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.records.customfields import clean_values, normalise_phone, validate_value
from apps.records.models import CustomField
from apps.records.services import customfield_create, customfield_update
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _field(type: str, **extra: Any) -> CustomField:
    return CustomField(label="Field", key="f", type=type, **extra)


@pytest.mark.parametrize(
    ("type", "raw", "stored"),
    [
        ("text", "  hello ", "hello"),
        ("long_text", "line one\nline two", "line one\nline two"),
        ("number", "1,234", 1234),
        ("number", "2.5", 2.5),
        ("decimal", "10", "10.00"),
        ("currency", "1,999.5", "1999.50"),
        ("date", "2026-12-31", "2026-12-31"),
        ("datetime", "2026-12-31T09:30", "2026-12-31T09:30:00+00:00"),
        ("boolean", "yes", True),
        ("boolean", "0", False),
        ("url", "https://example.com/a", "https://example.com/a"),
        ("email", "Someone@Example.COM", "someone@example.com"),
        ("phone", "+1 (415) 555-0101", "+14155550101"),
    ],
)
def test_values_are_stored_in_one_form(type: str, raw: Any, stored: Any) -> None:
    assert validate_value(_field(type), raw) == stored


@pytest.mark.parametrize(
    ("type", "raw", "message"),
    [
        ("number", "ten", "must be a number"),
        ("number", True, "must be a number"),
        ("decimal", "1.2.3", "must be a decimal number"),
        ("decimal", "NaN", "finite"),
        # Beyond what spreadsheets, JSON and PostgreSQL keep exactly; once stored as inf.
        ("number", "9" * 400, "must be between"),
        ("number", float("inf"), "must be between"),
        ("number", float("nan"), "must be between"),
        ("decimal", "9" * 40, "must be between"),
        ("date", "31/12/2026", "must be a date like"),
        ("datetime", "tomorrow", "date and time"),
        ("boolean", "maybe", "must be yes or no"),
        ("url", "javascript:alert(1)", "web address"),
        ("email", "not-an-email", "email address"),
        ("phone", "12", "phone number"),
        ("text", "x" * 256, "limited to 255"),
        ("text", {"a": 1}, "must be text"),
    ],
)
def test_bad_values_name_the_problem(type: str, raw: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_value(_field(type), raw)
    assert message in caught.value.messages[0]
    assert "Field" in caught.value.messages[0]


def test_selects_and_users(in_tenant_a: Any) -> None:
    select = _field("select", options=["Gold", "Silver"])
    assert validate_value(select, "gold") == "Gold"
    multi = _field("multi_select", options=["A", "B", "C"])
    assert validate_value(multi, "c, a") == ["A", "C"]
    assert validate_value(multi, ["B", "B"]) == ["B"]
    with pytest.raises(ValidationError, match="not an option"):
        validate_value(multi, ["D"])
    user = make_user(email="cf-user@alpha.test", password="a-long-test-password")
    assert validate_value(_field("user"), str(user.pk)) == user.pk
    with pytest.raises(ValidationError, match="active member"):
        validate_value(_field("user"), "999999")


def test_required_defaults_archived_and_unknown_keys(in_tenant_a: Any) -> None:
    owner = make_user(email="cf-admin@alpha.test", password="a-long-test-password")
    from apps.accounts.roles import Role
    from apps.accounts.services import user_set_role

    user_set_role(user=owner, role=Role.ADMIN)
    owner.refresh_from_db()
    customfield_create(
        actor=owner, entity="company", label="Region code", type="text", required=True
    )
    customfield_create(actor=owner, entity="company", label="Seats", type="number", default=5)
    with pytest.raises(ValidationError) as missing:
        clean_values("company", {}, creating=True)
    assert missing.value.message_dict == {"region_code": ["Region code is required."]}
    values = clean_values("company", {"region_code": "EU"}, creating=True)
    assert values == {"region_code": "EU", "seats": 5}
    with pytest.raises(ValidationError, match="no custom field 'nope'"):
        clean_values("company", {"nope": 1, "region_code": "EU"})
    seats = CustomField.objects.get(key="seats")
    customfield_update(actor=owner, field=seats, archived=True)
    # An archived value stays stored when other fields change.
    kept = clean_values(
        "company", {"region_code": "US"}, existing={"seats": 7, "region_code": "EU"}
    )
    assert kept == {"seats": 7, "region_code": "US"}
    with pytest.raises(ValidationError, match="cannot change"):
        customfield_update(actor=owner, field=seats, key="other")
    with pytest.raises(ValidationError, match="already a field"):
        customfield_create(actor=owner, entity="company", label="Seats", type="text")
    with pytest.raises(ValidationError, match="at least one option"):
        customfield_create(actor=owner, entity="company", label="Kind", type="select")
    rep = make_user(email="cf-rep@alpha.test", password="a-long-test-password")
    user_set_role(user=rep, role=Role.REP)
    rep.refresh_from_db()
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        customfield_create(actor=rep, entity="company", label="Mine", type="text")


def test_phone_numbers_without_country_code_read_as_us() -> None:
    assert normalise_phone("415 555 0101") == "+14155550101"
