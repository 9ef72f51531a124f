"""Custom field values: validation, defaults, type changes, and how lists filter and sort on
them. Values are stored as JSON: text as strings, numbers as numbers, decimals and currency as
strings of their exact digits, dates and datetimes in ISO 8601, multi selects as lists, users
as ids."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db.models import DecimalField, F, Q, TextField, Value
from django.db.models.expressions import Expression
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.utils.dateparse import parse_date, parse_datetime

from .models import CustomField, FieldType

_RANGE = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}
EMPTY_NUMBER = decimal.Decimal("-1e30")
MAX_TEXT = 255
MAX_LONG_TEXT = 10_000


def definitions(entity: str, *, include_archived: bool = False) -> list[CustomField]:
    fields = CustomField.objects.filter(entity=entity)
    if not include_archived:
        fields = fields.filter(archived=False)
    return list(fields)


# Numbers a spreadsheet, JSON and PostgreSQL all keep exactly (below 2**53, as a float's
# integer part); beyond it a number would be rounded or overflow.
MAX_NUMBER = 10**15


def _number(raw: Any, label: str) -> int | float:
    if isinstance(raw, bool):
        raise ValidationError(f"{label} must be a number.")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        # JSON may carry Infinity or NaN, which PostgreSQL's jsonb refuses.
        if raw != raw or abs(raw) > MAX_NUMBER:
            raise ValidationError(f"{label} must be between -{MAX_NUMBER:,} and {MAX_NUMBER:,}.")
        return raw
    try:
        value = decimal.Decimal(str(raw).strip().replace(",", ""))
    except decimal.InvalidOperation:
        raise ValidationError(f"{label} must be a number, not {str(raw)[:40]!r}.") from None
    if not value.is_finite():
        raise ValidationError(f"{label} must be a finite number.")
    if abs(value) > MAX_NUMBER:
        raise ValidationError(f"{label} must be between -{MAX_NUMBER:,} and {MAX_NUMBER:,}.")
    return int(value) if value == value.to_integral_value() else float(value)


def _decimal(raw: Any, label: str) -> str:
    if isinstance(raw, bool):
        raise ValidationError(f"{label} must be a decimal number.")
    try:
        value = decimal.Decimal(str(raw).strip().replace(",", ""))
    except decimal.InvalidOperation:
        raise ValidationError(f"{label} must be a decimal number, not {str(raw)[:40]!r}.") from None
    if not value.is_finite():
        raise ValidationError(f"{label} must be a finite number.")
    if abs(value) > MAX_NUMBER:
        raise ValidationError(f"{label} must be between -{MAX_NUMBER:,} and {MAX_NUMBER:,}.")
    return str(value.quantize(decimal.Decimal("0.01")))


def _boolean(raw: Any, label: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"true", "yes", "1", "on", "y"}:
        return True
    if text in {"false", "no", "0", "off", "n"}:
        return False
    raise ValidationError(f"{label} must be yes or no, not {str(raw)[:40]!r}.")


def _choice(raw: Any, options: list[str], label: str) -> str:
    text = str(raw).strip()
    for option in options:
        if option.lower() == text.lower():
            return option
    raise ValidationError(f"{text[:40]!r} is not an option of {label} ({', '.join(options)}).")


def validate_value(field: CustomField, raw: Any) -> Any:
    """`raw` converted to the stored form of `field`'s type, or ValidationError naming the
    field and the problem. None and "" mean no value."""
    label = field.label
    if raw is None or raw == "" or raw == []:
        return None
    kind = field.type
    if kind in (FieldType.TEXT, FieldType.LONG_TEXT):
        if isinstance(raw, dict | list):
            raise ValidationError(f"{label} must be text.")
        text = str(raw).strip() if kind == FieldType.TEXT else str(raw)
        limit = MAX_TEXT if kind == FieldType.TEXT else MAX_LONG_TEXT
        if len(text) > limit:
            raise ValidationError(f"{label} is limited to {limit} characters.")
        return text
    if kind == FieldType.NUMBER:
        return _number(raw, label)
    if kind in (FieldType.DECIMAL, FieldType.CURRENCY):
        return _decimal(raw, label)
    if kind == FieldType.DATE:
        value = raw if isinstance(raw, dt.date) else parse_date(str(raw).strip()[:10])
        if value is None or (isinstance(raw, str) and len(raw.strip()) != 10):
            raise ValidationError(f"{label} must be a date like 2026-12-31.")
        return value.isoformat()[:10]
    if kind == FieldType.DATETIME:
        try:
            value = raw if isinstance(raw, dt.datetime) else parse_datetime(str(raw).strip())
        except ValueError:
            value = None
        if value is None:
            raise ValidationError(f"{label} must be a date and time like 2026-12-31T09:30.")
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if kind == FieldType.BOOLEAN:
        return _boolean(raw, label)
    if kind == FieldType.SELECT:
        return _choice(raw, list(field.options), label)
    if kind == FieldType.MULTI_SELECT:
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        chosen = [_choice(item, list(field.options), label) for item in items if str(item).strip()]
        return sorted(set(chosen), key=list(field.options).index) or None
    if kind == FieldType.URL:
        text = str(raw).strip()
        try:
            URLValidator(schemes=["http", "https"])(text)
        except ValidationError:
            raise ValidationError(f"{label} must be a web address (http or https).") from None
        return text
    if kind == FieldType.EMAIL:
        text = str(raw).strip().lower()
        try:
            EmailValidator()(text)
        except ValidationError:
            raise ValidationError(f"{label} must be an email address.") from None
        return text
    if kind == FieldType.PHONE:
        return normalise_phone(str(raw), label=label)
    if kind == FieldType.USER:
        from apps.accounts.models import User

        try:
            user = User.objects.get(pk=int(raw), is_active=True)
        except (User.DoesNotExist, ValueError, TypeError):
            raise ValidationError(f"{label} must be an active member of the team.") from None
        return user.pk
    raise ValidationError(f"{label} has an unknown type.")  # pragma: no cover - choices guard


def normalise_phone(raw: str, *, label: str = "Phone", region: str = "US") -> str:
    """E.164, or ValidationError. Numbers without a country code are read in `region`."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"{label}: {raw[:40]!r} is not a phone number.") from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(f"{label}: {raw[:40]!r} is not a possible phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_values(
    entity: str,
    incoming: Mapping[str, Any] | None,
    *,
    existing: Mapping[str, Any] | None = None,
    creating: bool = False,
) -> dict[str, Any]:
    """The record's new custom field values: `existing` updated with `incoming`, each value
    validated, defaults applied on create, required fields enforced. Values of archived or
    unknown-but-stored keys are kept untouched, so archiving never loses data. Errors are
    keyed by field key."""
    fields = {f.key: f for f in definitions(entity, include_archived=True)}
    result = dict(existing or {})
    errors: dict[str, list[str]] = {}
    for key, raw in (incoming or {}).items():
        field = fields.get(key)
        if field is None or field.archived:
            errors[key] = [f"There is no custom field {key!r} on this record type."]
            continue
        try:
            value = validate_value(field, raw)
        except ValidationError as exc:
            errors[key] = exc.messages
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    for field in fields.values():
        if field.archived:
            continue
        if creating and field.key not in result and field.default not in (None, ""):
            result[field.key] = validate_value(field, field.default)
        if field.required and result.get(field.key) in (None, "", []) and field.key not in errors:
            errors[field.key] = [f"{field.label} is required."]
    if errors:
        raise ValidationError(errors)
    return result


def conversion_problems(field: CustomField, new_type: str, values: Iterable[Any]) -> list[str]:
    """Why existing values would not convert to `new_type` (empty if they all would)."""
    probe = CustomField(label=field.label, type=new_type, options=field.options)
    problems = []
    for value in values:
        raw = ",".join(map(str, value)) if isinstance(value, list) else value
        try:
            validate_value(probe, raw)
        except ValidationError as exc:
            problems.append(f"{value!r}: {exc.messages[0]}")
    return problems


def filter_q(field: CustomField, raw: str, op: str = "") -> Q:
    """A filter on the stored value. Equality uses JSON containment (`@>`), which the GIN
    index answers; ranges compare the typed value."""
    lookup = f"custom_fields__{field.key}"
    if op in ("", "exact"):
        if field.type in (FieldType.TEXT, FieldType.LONG_TEXT):
            value: Any = str(raw).strip()
        else:
            value = validate_value(field, raw)
        return Q(custom_fields__contains={field.key: value})
    if op == "contains":
        return Q(**{f"{lookup}__icontains": str(raw)})
    if op == "isnull":
        present = Q(custom_fields__has_key=field.key)
        return ~present if _boolean(raw, field.label) else present
    if op in _RANGE:
        value = validate_value(field, raw)
        if field.type in (FieldType.NUMBER, FieldType.DECIMAL, FieldType.CURRENCY):
            value = decimal.Decimal(str(value))
        return Q(_RANGE[op](sort_expression(field), value))
    raise ValidationError(f"Unknown filter {op!r} on {field.label}.")


def sort_expression(field: CustomField) -> Expression | F:
    """What to order by for `field`: numbers numerically, everything else as text. Empty
    values sort as the lowest value (never NULL), so cursor pagination can page past them."""
    text = KeyTextTransform(field.key, "custom_fields")
    if field.type in (FieldType.NUMBER, FieldType.DECIMAL, FieldType.CURRENCY):
        number = DecimalField(max_digits=40, decimal_places=6)
        return Coalesce(Cast(text, number), Value(EMPTY_NUMBER), output_field=number)
    return Coalesce(text, Value(""), output_field=TextField())


def keyed_errors(exc: ValidationError) -> ValidationError:
    """Errors of `clean_values` keyed `custom_fields.<key>`, as the API and forms name them."""
    return ValidationError({f"custom_fields.{key}": msgs for key, msgs in exc.message_dict.items()})
