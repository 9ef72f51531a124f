"""Demo data for reporting: the demo owner gets Monday's pipeline by email."""

from __future__ import annotations

from apps.accounts.models import User

from . import subscriptions
from .models import Cadence, Subscription


def seed(owner: User) -> Subscription:
    """A weekly pipeline email for `owner`, Mondays at 08:00 in their time zone (kept as it
    is when there already is one, so seeding twice adds nothing)."""
    existing = Subscription.objects.filter(user=owner, report="pipeline-by-stage").first()
    if existing is not None:
        return existing
    return subscriptions.subscribe(
        actor=owner,
        report="pipeline-by-stage",
        params={"period": "this_month"},
        cadence=Cadence.WEEKLY,
        weekday=0,
        hour=8,
    )
