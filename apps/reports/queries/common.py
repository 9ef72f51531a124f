"""What the reports share: reading the filters, the records a viewer may see (through the
same selectors as the lists), money in the reporting currency, and links to the lists of
records behind a figure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Value, When
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Team, User
from apps.activities.selectors import activity_list
from apps.deals.models import Deal, Pipeline
from apps.deals.selectors import deal_list
from apps.leads.selectors import lead_list

from .. import periods
from ..models import ExchangeRate, ReportingSettings

MONEY = DecimalField(max_digits=30, decimal_places=2)
CENT = Decimal("0.01")


@dataclass
class Filters:
    period: periods.Period
    previous: periods.Period
    now: datetime
    owner: int | None = None
    team: int | None = None
    pipeline: int | None = None
    group: str = ""

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = dict(self.period.query())
        for name in ("owner", "team", "pipeline"):
            if getattr(self, name) is not None:
                described[name] = getattr(self, name)
        if self.group:
            described["group"] = self.group
        return described

    def who(self) -> dict[str, Any]:
        """The owner and team filters, as list query parameters."""
        found: dict[str, Any] = {}
        if self.owner is not None:
            found["owner"] = self.owner
        if self.team is not None:
            found["team"] = self.team
        return found


def _whole(params: Mapping[str, Any], name: str, label: str) -> int | None:
    raw = str(params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({name: f"{label} must be an id (a whole number)."}) from None


def parse(
    user: Any,
    params: Mapping[str, Any],
    *,
    now: datetime | None = None,
    default_period: str = periods.DEFAULT,
    groups: tuple[tuple[str, str], ...] = (),
) -> Filters:
    """The filters in `params`; ValidationError names the one that is wrong."""
    now = now or timezone.now()
    tz = periods.zone(getattr(user, "time_zone", "UTC"))
    period = periods.resolve(
        str(params.get("period") or default_period),
        tz=tz,
        now=now,
        start=params.get("start"),
        end=params.get("end"),
    )
    owner_raw = str(params.get("owner") or "").strip()
    owner = user.pk if owner_raw == "me" else _whole(params, "owner", "The owner")
    if owner is not None and not User.objects.filter(pk=owner).exists():
        raise ValidationError({"owner": f"There is no member with id {owner}."})
    team = _whole(params, "team", "The team")
    if team is not None and not Team.objects.filter(pk=team).exists():
        raise ValidationError({"team": f"There is no team with id {team}."})
    pipeline = _whole(params, "pipeline", "The pipeline")
    if pipeline is not None and not Pipeline.objects.filter(pk=pipeline).exists():
        raise ValidationError({"pipeline": f"There is no pipeline with id {pipeline}."})
    group = str(params.get("group") or "").strip()
    if groups:
        names = [g for g, _ in groups]
        group = group or names[0]
        if group not in names:
            raise ValidationError(
                {"group": f"Unknown grouping {group!r}: use one of {', '.join(names)}."}
            )
    return Filters(
        period=period,
        previous=period.previous(),
        now=now,
        owner=owner,
        team=team,
        pipeline=pipeline,
        group=group,
    )


def _who(records: QuerySet[Any], f: Filters) -> QuerySet[Any]:
    if f.owner is not None:
        records = records.filter(owner_id=f.owner)
    if f.team is not None:
        records = records.filter(
            owner_id__in=Team.members.through.objects.filter(team_id=f.team).values("user_id")
        )
    return records


def deals(user: Any, f: Filters, *, pipeline: bool = True) -> QuerySet[Deal]:
    records = _who(deal_list(user=user, related=False, eager=True), f)
    if pipeline and f.pipeline is not None:
        records = records.filter(pipeline_id=f.pipeline)
    return records.order_by()


def leads(user: Any, f: Filters) -> QuerySet[Any]:
    return _who(lead_list(user=user, related=False, eager=True), f).order_by()


def activities(user: Any, f: Filters) -> QuerySet[Any]:
    return _who(activity_list(user=user, related=False, eager=True), f).order_by()


# Money ------------------------------------------------------------------------------------


@dataclass
class Money:
    base: str
    rates: dict[str, Decimal]

    def convert(self, field: str = "value", currency: str = "currency") -> Case:
        """`field` in the reporting currency; NULL for a currency without a rate (so sums
        skip it, and `unconverted` counts it)."""
        whens = [When(**{currency: self.base}, then=F(field))]
        whens += [
            When(**{currency: code}, then=F(field) * Value(rate, output_field=MONEY))
            for code, rate in self.rates.items()
            if code != self.base
        ]
        return Case(*whens, default=Value(None, output_field=MONEY), output_field=MONEY)

    def known(self) -> list[str]:
        return [self.base, *self.rates]


def money() -> Money:
    settings = ReportingSettings.objects.filter(pk=1).first()
    base = settings.base_currency if settings else "USD"
    return Money(base, {r.currency: r.rate for r in ExchangeRate.objects.all()})


def unconverted_notes(records: QuerySet[Deal], m: Money) -> list[str]:
    """A note per currency without a rate among `records`, so no sum hides them."""
    missing = (
        records.exclude(currency__in=m.known())
        .values("currency")
        .annotate(n=Count("id"))
        .order_by("currency")
    )
    return missing_rate_notes([(row["currency"], row["n"]) for row in missing], m)


def missing_rate_notes(counts: list[tuple[str, int]], m: Money) -> list[str]:
    """A note per (currency, number of deals) without an exchange rate."""
    return [
        f"{n} deal{'s' if n != 1 else ''} in {currency} "
        f"{'are' if n != 1 else 'is'} not included in money figures: there is no "
        f"exchange rate from {currency} to {m.base} (Settings → Currencies)."
        for currency, n in counts
        if n
    ]


def cents(value: Any) -> Decimal:
    return (Decimal(value) if value is not None else Decimal(0)).quantize(CENT)


def ratio(part: Any, whole: Any) -> float | None:
    """`part` of `whole` in percent, one decimal; None when there is no whole."""
    if not whole:
        return None
    return round(float(part or 0) * 100 / float(whole), 1)


# Links ------------------------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def link(kind: str, f: Filters | None = None, **params: Any) -> str:
    """The list of `kind` (deals, leads, activities) filtered by `params` and the report's
    owner and team filters."""
    query = dict(f.who()) if f is not None else {}
    query.update({k: v for k, v in params.items() if v is not None})
    return f"{reverse(f'{kind}:list')}?{urlencode(query)}"


def between(field: str, period: periods.Period) -> dict[str, str]:
    return {f"{field}__gte": stamp(period.start), f"{field}__lt": stamp(period.end)}


def in_period(field: str, period: periods.Period) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})
