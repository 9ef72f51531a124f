"""Report periods in the viewer's time zone: a period starts at local midnight of its first
day and ends (exclusive) at local midnight after its last, so a deal won at 23:30 on 31 March
in Berlin belongs to March for a Berlin viewer even though it is 21:30 UTC. Weeks start on
Monday. The previous period is the one of the same kind just before (last month for a month,
the same number of days before for a custom range)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

CHOICES = [
    ("this_week", "This week"),
    ("last_week", "Last week"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("this_quarter", "This quarter"),
    ("last_quarter", "Last quarter"),
    ("this_year", "This year"),
    ("last_year", "Last year"),
    ("custom", "Custom"),
]
LABELS = dict(CHOICES)
DEFAULT = "this_month"
# A custom period longer than this is refused (reports stay fast and readable).
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    first: date  # first day, inclusive
    last: date  # last day, inclusive
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        """Exclusive: local midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        if self.key in ("this_month", "last_month"):
            last = self.first - timedelta(days=1)
            return _period("previous", last.replace(day=1), last, self.tz)
        if self.key in ("this_quarter", "last_quarter"):
            first = _quarter_start(self.first - timedelta(days=1))
            return _period("previous", first, self.first - timedelta(days=1), self.tz)
        if self.key in ("this_year", "last_year"):
            first = date(self.first.year - 1, 1, 1)
            return _period("previous", first, date(self.first.year - 1, 12, 31), self.tz)
        # Weeks and custom ranges: the same number of days just before.
        return _period(
            "previous",
            self.first - timedelta(days=self.days),
            self.first - timedelta(days=1),
            self.tz,
        )

    def query(self) -> dict[str, str]:
        """The query parameters that select this period again."""
        if self.key == "custom" or self.key == "previous":
            return {
                "period": "custom",
                "start": self.first.isoformat(),
                "end": self.last.isoformat(),
            }
        return {"period": self.key}


def _period(key: str, first: date, last: date, tz: ZoneInfo) -> Period:
    label = LABELS.get(key, "")
    if key in ("previous", "custom"):
        label = f"{first:%d %b %Y} to {last:%d %b %Y}"
    return Period(key, label, first, last, tz)


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _month_end(first: date) -> date:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _parse_day(raw: str | None, name: str, what: str) -> date:
    try:
        return date.fromisoformat(str(raw or "").strip())
    except ValueError:
        shown = f"{raw!r} is not" if raw else "Give"
        raise ValidationError(
            {name: f"{shown} the {what} of the period as a date like 2026-01-31 (YYYY-MM-DD)."}
        ) from None


def resolve(
    key: str | None,
    *,
    tz: ZoneInfo,
    now: datetime,
    start: str | None = None,
    end: str | None = None,
) -> Period:
    """The period `key` as seen at `now` in `tz`; ValidationError names a bad key or date."""
    key = key or DEFAULT
    today = now.astimezone(tz).date()
    if key == "this_week":
        first = today - timedelta(days=today.weekday())
        return _period(key, first, first + timedelta(days=6), tz)
    if key == "last_week":
        first = today - timedelta(days=today.weekday() + 7)
        return _period(key, first, first + timedelta(days=6), tz)
    if key == "this_month":
        first = today.replace(day=1)
        return _period(key, first, _month_end(first), tz)
    if key == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return _period(key, last.replace(day=1), last, tz)
    if key == "this_quarter":
        first = _quarter_start(today)
        return _period(key, first, _month_end(first.replace(month=first.month + 2)), tz)
    if key == "last_quarter":
        last = _quarter_start(today) - timedelta(days=1)
        return _period(key, _quarter_start(last), last, tz)
    if key == "this_year":
        return _period(key, date(today.year, 1, 1), date(today.year, 12, 31), tz)
    if key == "last_year":
        return _period(key, date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), tz)
    if key == "custom":
        first, last = _parse_day(start, "from", "first day"), _parse_day(end, "to", "last day")
        if last < first:
            raise ValidationError({"to": "The last day of the period is before its first day."})
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError({"to": f"A custom period is at most {MAX_DAYS} days long."})
        return _period(key, first, last, tz)
    raise ValidationError(
        {"period": f"Unknown period {key!r}: use one of {', '.join(k for k, _ in CHOICES)}."}
    )
