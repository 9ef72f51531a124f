"""Demo notifications for `make dev`: the demo owner finds a deal assigned to them by a colleague
and a mention in a colleague's note, so the bell has something to show at once; real
reminders follow minutes later (the activities demo's "Kestrel tour" meeting). Made through the
real services (an owner change, an activity with an @-mention) and without email. Safe to run
again (does nothing once the owner has notifications)."""

from __future__ import annotations

from apps.accounts.models import User
from apps.activities.services import activity_create
from apps.deals.models import Deal
from apps.deals.services import deal_update

from .models import Notification, NotificationKind
from .services import notification_mark_read, quiet

DEMO_OWNER = "owner@demo.kestrel.test"


def seed_notifications() -> None:
    owner = User.objects.filter(email=DEMO_OWNER, is_active=True).first()
    if owner is None or Notification.objects.filter(recipient=owner).exists():
        return
    people = {u.email.split("@")[0]: u for u in User.objects.filter(is_active=True)}
    maya, tom = people.get("maya", owner), people.get("tom", owner)
    with quiet():
        # A deal Maya hands over: the assignment is told by the deal service itself.
        deal = Deal.objects.exclude(owner=owner).order_by("pk").first()
        if deal is not None:
            deal_update(actor=maya, deal=deal, owner=owner)
            handed = Notification.objects.filter(
                recipient=owner, kind=NotificationKind.ASSIGNMENT
            ).first()
            if handed is not None:
                notification_mark_read(actor=owner, notification=handed)
        # Tom's note mentions the owner by name.
        activity_create(
            actor=tom,
            type="note",
            subject="Globex wants a bigger discount",
            body=(
                f"@{owner.get_full_name()} can you approve 10% for Globex? "
                "They sign this week if we do."
            ),
        )
