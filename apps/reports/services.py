"""Changing what reports compute with: the reporting currency and the exchange rates
(Owners and Admins only, audit-logged)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.audit.services import audit_record

from .models import ExchangeRate, ReportingSettings

CODE = re.compile(r"^[A-Z]{3}$")


def _admin(user: Any) -> None:
    if not getattr(user, "is_admin", False):
        raise PermissionDenied("Only Owners and Admins change currencies.")


def _code(raw: Any, name: str) -> str:
    code = str(raw or "").strip().upper()
    if not CODE.match(code):
        raise ValidationError(
            {name: f"{raw!r} is not a currency code: use three letters, like EUR."}
        )
    return code


@transaction.atomic
def base_currency_set(*, user: Any, currency: Any) -> ReportingSettings:
    _admin(user)
    code = _code(currency, "base_currency")
    settings = ReportingSettings.current()
    before = settings.base_currency
    if code != before:
        settings.base_currency = code
        settings.save()
        # A rate for the new base currency would be 1 by definition.
        ExchangeRate.objects.filter(currency=code).delete()
        audit_record(
            action="reports.currency_changed",
            actor=user,
            target=settings,
            detail={"from": before, "to": code},
        )
    return settings


@transaction.atomic
def rate_set(*, user: Any, currency: Any, rate: Any) -> ExchangeRate:
    _admin(user)
    code = _code(currency, "currency")
    if code == ReportingSettings.current().base_currency:
        raise ValidationError({"currency": f"{code} is the reporting currency: its rate is 1."})
    try:
        value = Decimal(str(rate).strip().replace(",", "."))
    except InvalidOperation:
        raise ValidationError({"rate": f"{rate!r} is not a number."}) from None
    if not value.is_finite() or value <= 0 or value > Decimal("1e9"):
        raise ValidationError({"rate": "A rate must be a positive number (at most 1,000,000,000)."})
    if value != value.quantize(Decimal("0.00000001")):
        raise ValidationError({"rate": "A rate has at most 8 decimal places."})
    found, _ = ExchangeRate.objects.update_or_create(
        currency=code, defaults={"rate": value, "updated_by": user if user.pk else None}
    )
    audit_record(
        action="reports.rate_set",
        actor=user,
        target=found,
        detail={"currency": code, "rate": str(value)},
    )
    return found


@transaction.atomic
def rate_delete(*, user: Any, currency: str) -> None:
    _admin(user)
    deleted, _ = ExchangeRate.objects.filter(currency=str(currency).upper()).delete()
    if deleted:
        audit_record(action="reports.rate_deleted", actor=user, detail={"currency": currency})
