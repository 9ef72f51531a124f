"""django-import-export widgets that turn one cell's text into a stored value. `clean()`
raises ValueError with a plain message that names the value and what was expected; the
importer adds the row and column. Widgets are built once per import and reused for every
row, so lookups (owners, options) happen once, never per cell. `clean()` must depend on the
cell's text alone: the importer keeps each column's results by text and reuses them."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

from django.core.exceptions import ValidationError
from import_export import widgets

from apps.records import customfields
from apps.records.models import CustomField, FieldType

from .reading import NumberCell

EMAIL = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"'.]{2,}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
LOCAL_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
EN_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
COMMA_NUMBER = re.compile(r"^[-+]?(\d{1,3}([. ]\d{3})+|\d+)(,\d+)?$")
CURRENCY_MARKS = str.maketrans("", "", "$€£¥\u00a0\u202f")
TRUE = {"true", "yes", "y", "1", "on", "x", "ja", "oui", "si", "sí"}
FALSE = {"false", "no", "n", "0", "off", "nein", "non"}


class CellError(ValueError):
    """A cell that cannot be used; `code` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def shorten(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


class Locale:
    """How a locale writes dates and numbers. English ("en", "en-US") writes the month
    first and a decimal point; most others the day first and a decimal comma; "en-GB",
    "en-AU", "en-IE", "en-NZ", "en-IN" the day first and a decimal point."""

    def __init__(self, code: str) -> None:
        self.code = (code or "en").replace("_", "-").lower()
        language = self.code.split("-")[0]
        self.day_first = self.code not in ("en", "en-us", "en-ca", "en-ph")
        self.decimal_comma = language not in ("en", "ja", "zh", "ko", "he", "th", "hi")

    @property
    def date_hint(self) -> str:
        return "DD/MM/YYYY" if self.day_first else "MM/DD/YYYY"

    @property
    def number_hint(self) -> str:
        return "1.234,56" if self.decimal_comma else "1,234.56"

    def number(self, text: str) -> decimal.Decimal:
        if isinstance(text, NumberCell):  # a spreadsheet's number, not a person's writing
            typed = decimal.Decimal(text)
            if typed.is_finite():
                return typed
        raw = text.strip().translate(CURRENCY_MARKS).strip()
        if self.decimal_comma:
            ok = COMMA_NUMBER.match(raw)
            plain = raw.replace(".", "").replace(" ", "").replace(",", ".")
        else:
            ok = EN_NUMBER.match(raw)
            plain = raw.replace(",", "")
        if not ok:
            raise CellError(
                "invalid_number",
                f"{shorten(text)} is not a number (write it like {self.number_hint}).",
            )
        return decimal.Decimal(plain)

    def date(self, text: str) -> dt.date:
        raw = text.strip()
        if "T" in raw or " " in raw:
            raw = re.split(r"[T ]", raw, maxsplit=1)[0]
        found = ISO_DATE.match(raw)
        try:
            if found:
                return dt.date(int(found[1]), int(found[2]), int(found[3]))
            found = LOCAL_DATE.match(raw)
            if found:
                first, second, year = int(found[1]), int(found[2]), int(found[3])
                day, month = (first, second) if self.day_first else (second, first)
                return dt.date(year, month, day)
        except ValueError:
            pass
        raise CellError(
            "invalid_date",
            f"{shorten(text)} is not a date (write it like {self.date_hint} or 2026-12-31).",
        )

    def datetime(self, text: str, tz: dt.tzinfo) -> dt.datetime:
        raw = text.strip()
        parts = re.split(r"[T ]", raw, maxsplit=1)
        day = self.date(parts[0])
        clock = dt.time(0, 0)
        if len(parts) == 2:
            rest = re.sub(r"(Z|[+-]\d{2}:?\d{2})$", "", parts[1].strip())
            found = TIME.match(rest.split(".")[0])
            if not found or int(found[1]) > 23 or int(found[2]) > 59:
                raise CellError(
                    "invalid_datetime",
                    f"{shorten(text)} is not a date and time (write it like 2026-12-31 09:30).",
                )
            clock = dt.time(int(found[1]), int(found[2]), int(found[3] or 0))
            if rest != parts[1].strip():  # an explicit offset wins over the import's zone
                try:
                    return dt.datetime.fromisoformat(f"{day.isoformat()}T{parts[1].strip()}")
                except ValueError:
                    pass
        return dt.datetime.combine(day, clock, tzinfo=tz)


class Text(widgets.CharWidget):
    def __init__(self, max_length: int, *, label: str) -> None:
        super().__init__()
        self.max_length = max_length
        self.label = label

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = str(value).strip()
        if len(text) > self.max_length:
            raise CellError(
                "too_long",
                f"{self.label} is {len(text)} characters long; the limit is {self.max_length}.",
            )
        return text


class Email(Text):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = super().clean(value).lower()
        if len(text) > self.max_length:  # lower() can lengthen: "İ" becomes two characters
            raise CellError(
                "too_long",
                f"{self.label} is {len(text)} characters long; the limit is {self.max_length}.",
            )
        if text and not EMAIL.match(text):
            raise CellError("invalid_email", f"{shorten(text)} is not an email address.")
        return text


class Domain(Text):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = super().clean(value).lower()
        text = re.sub(r"^(https?://)?(www\.)?", "", text).split("/")[0]
        if text and not DOMAIN.match(text):
            raise CellError("invalid_domain", f"{shorten(text)} is not a domain like example.com.")
        return text


class Currency(Text):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = super().clean(value).upper()
        if text and not re.fullmatch(r"[A-Z]{3}", text):
            raise CellError(
                "invalid_currency", f"{shorten(text)} is not a currency code like USD or EUR."
            )
        return text


class Url(Text):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = super().clean(value)
        if not text:
            return text
        if not re.match(r"^https?://", text, re.I):
            text = "https://" + text
        if " " in text or "." not in text:
            raise CellError("invalid_url", f"{shorten(text)} is not a web address.")
        if len(text) > self.max_length:
            raise CellError("too_long", f"{self.label} is limited to {self.max_length} characters.")
        return text


class Phone(Text):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = super().clean(value)
        if not text:
            return text
        try:
            return customfields.normalise_phone(text, label=self.label)
        except ValidationError as exc:
            raise CellError("invalid_phone", exc.messages[0]) from None


class Choice(widgets.Widget):
    """A value or its label, in any case; `choices` are (value, label) pairs."""

    def __init__(self, choices: list[tuple[str, str]], *, label: str) -> None:
        self.label = label
        self.options = [shown for _, shown in choices if shown and str(shown) != "—"]
        self.lookup = {}
        for stored, shown in choices:
            self.lookup[str(shown).strip().casefold()] = stored
            self.lookup[str(stored).strip().casefold()] = stored

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        text = str(value).strip()
        if not text:
            return ""
        found = self.lookup.get(text.casefold())
        if found is None:
            raise CellError(
                "unknown_option",
                f"{shorten(text)} is not an option of {self.label} "
                f"({', '.join(str(o) for o in self.options[:15])}).",
            )
        return found


class Boolean(widgets.BooleanWidget):
    def __init__(self, *, label: str) -> None:
        super().__init__()
        self.label = label

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> bool | None:
        text = str(value).strip().casefold()
        if not text:
            return None
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise CellError("invalid_boolean", f"{self.label} must be yes or no, not {shorten(text)}.")


class Number(widgets.DecimalWidget):
    def __init__(
        self,
        locale: Locale,
        *,
        label: str,
        places: int | None = None,
        low: int | None = None,
        high: int | None = None,
    ) -> None:
        super().__init__()
        self.locale = locale
        self.label = label
        self.places = places
        self.low = low
        self.high = high

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> decimal.Decimal | None:
        if not str(value).strip():
            return None
        number = self.locale.number(value if isinstance(value, str) else str(value))
        if self.places is not None:
            try:
                number = number.quantize(decimal.Decimal(1).scaleb(-self.places))
            except decimal.InvalidOperation:  # more digits than a decimal holds
                number = decimal.Decimal("Infinity").copy_sign(number)
        if (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            raise CellError(
                "out_of_range", f"{self.label} must be between {self.low} and {self.high}."
            )
        if not number.is_finite():
            raise CellError("out_of_range", f"{shorten(str(value))} is too large for {self.label}.")
        return number


class Date(widgets.DateWidget):
    def __init__(self, locale: Locale, *, label: str) -> None:
        super().__init__()
        self.locale = locale
        self.label = label

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dt.date | None:
        return self.locale.date(str(value)) if str(value).strip() else None


class DateTime(widgets.DateTimeWidget):
    def __init__(self, locale: Locale, tz: dt.tzinfo, *, label: str) -> None:
        super().__init__()
        self.locale = locale
        self.tz = tz
        self.label = label

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dt.datetime | None:
        return self.locale.datetime(str(value), self.tz) if str(value).strip() else None


class Owner(widgets.Widget):
    """An active member, by email (or by full name when names are unique)."""

    def __init__(self, members: dict[str, int], *, label: str = "Owner") -> None:
        self.members = members
        self.label = label

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> int | None:
        text = str(value).strip()
        if not text:
            return None
        found = self.members.get(text.casefold())
        if found is None:
            raise CellError(
                "unknown_owner",
                f"No active member of this organisation has the email {shorten(text)}.",
            )
        return found


class Tags(widgets.ManyToManyWidget):
    """Tag names separated by commas or semicolons; new names become new tags."""

    def __init__(self) -> None:
        self.separator = ","

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> list[str]:
        names: list[str] = []
        for part in re.split(r"[,;]", str(value)):
            name = part.strip()
            if not name:
                continue
            if len(name) > 50:
                raise CellError("too_long", f"The tag {shorten(name)} is over 50 characters.")
            if name.casefold() not in (n.casefold() for n in names):
                names.append(name)
        return names


class Custom(widgets.Widget):
    """One custom field, through the same validation as the forms and the API, with dates,
    numbers and members read the way the import's locale writes them."""

    def __init__(
        self,
        field: CustomField,
        locale: Locale,
        members: dict[str, int],
        tz: dt.tzinfo = dt.UTC,
    ) -> None:
        self.tz = tz
        self.field = field
        self.locale = locale
        self.members = members

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        text = str(value).strip()
        if not text:
            return None
        kind = self.field.type
        raw: Any = text
        if kind == FieldType.DATE:
            raw = self.locale.date(text).isoformat()
        elif kind in (FieldType.NUMBER, FieldType.DECIMAL, FieldType.CURRENCY):
            raw = str(self.locale.number(value if isinstance(value, str) else text))
        elif kind == FieldType.DATETIME:
            raw = self.locale.datetime(text, self.tz).isoformat()
        elif kind == FieldType.USER:
            # `members` holds the active members only, so the id needs no database check
            # (cells are cleaned in a reader thread that must not touch the database).
            return Owner(self.members, label=self.field.label).clean(text)
        elif kind == FieldType.MULTI_SELECT:
            raw = [part for part in re.split(r"[,;]", text) if part.strip()]
        try:
            cleaned = customfields.validate_value(self.field, raw)
        except ValidationError as exc:
            message = exc.messages[0]
            code = (
                "unknown_option"
                if "not an option" in message
                else "out_of_range"
                if "must be between" in message
                else "invalid_value"
            )
            raise CellError(code, message) from None
        return cleaned
