"""The demo activities: about thirty around today, linked to the demo's records, and
seeding twice adds nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.activities.demo import PLAN, seed_activities
from apps.activities.models import Activity
from apps.activities.selectors import my_day
from apps.companies.services import company_create
from apps.contacts.services import contact_create

pytestmark = pytest.mark.django_db


def test_seed_activities_is_idempotent_and_fills_my_day(owner: User, rep: User) -> None:
    contact_create(actor=owner, first_name="Demo", last_name="Contact")
    company_create(actor=owner, name="Demo Company")
    seed_activities()
    seed_activities()
    assert Activity.objects.count() == len(PLAN) + 1 >= 31
    # The tour meeting rings the bell a few minutes after seeding.
    tour = Activity.objects.get(subject="Kestrel tour: watch the bell")
    assert list(tour.reminders.values_list("minutes_before", "status")) == [
        (0, "pending"),
        (2, "pending"),
    ]
    assert Activity.objects.filter(done=True).exclude(outcome="").count() >= 5
    assert (
        Activity.objects.filter(contacts__isnull=False).count()
        == Activity.objects.filter(type__in=["task", "call", "meeting", "email", "note"]).count()
    )
    assert Activity.objects.filter(all_day=True).exists()
    # Without the demo's people, the owner holds them all.
    assert set(Activity.objects.values_list("owner_id", flat=True)) == {owner.pk}
    buckets = my_day(user=owner, now=timezone.now())
    assert buckets["overdue"] and buckets["today"] and buckets["upcoming"]
    del rep
