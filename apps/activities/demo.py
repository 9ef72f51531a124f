"""Demo activities for `make dev`: about thirty around today - overdue tasks, today's calls,
this week's meetings, done ones with outcomes - so My day, the calendar and the record
timelines show at once. Safe to run again (does nothing once activities exist)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from apps.accounts.models import User
from apps.companies.models import Company
from apps.contacts.models import Contact
from apps.deals.models import Deal
from apps.leads.models import Lead

from .models import Activity
from .services import activity_complete, activity_create

# who, type, subject, day offset, hour (None: all day), minutes, outcome (done ones)
PLAN: list[tuple[str, str, str, int, float | None, int, str]] = [
    ("lena", "task", "Send the revised quote", -3, 17, 0, ""),
    ("lena", "task", "Update the contract draft", -1, 12, 0, ""),
    ("lena", "call", "Check in on the pilot", 0, 9.5, 15, ""),
    ("lena", "call", "Pricing questions", 0, 11, 15, ""),
    ("lena", "meeting", "Product demo", 0, 14, 60, ""),
    ("lena", "call", "Renewal call", 0, 16.5, 30, ""),
    ("lena", "meeting", "Discovery workshop", 1, 10, 90, ""),
    ("lena", "meeting", "Quarterly business review", 3, 13, 60, ""),
    ("lena", "task", "Prepare the onboarding plan", 2, None, 0, ""),
    ("lena", "email", "Sent the case study", -2, 15, 0, "completed"),
    ("lena", "call", "First call", -4, 10, 20, "connected"),
    ("lena", "call", "Follow-up call", -2, 11, 15, "no_answer"),
    ("lena", "meeting", "Kick-off meeting", -5, 14, 60, "completed"),
    ("owner", "task", "Approve the discount", -2, 12, 0, ""),
    ("owner", "meeting", "Pipeline review", 0, 10, 60, ""),
    ("owner", "call", "Call the CFO", 0, 15, 30, ""),
    ("owner", "meeting", "Partner summit", 4, None, 0, ""),
    ("owner", "note", "Board asked about the Q4 forecast", -1, 18, 0, "completed"),
    ("owner", "meeting", "Executive sponsor lunch", 2, 12.5, 90, ""),
    ("maya", "task", "Clean up the lead sources", -1, 16, 0, ""),
    ("maya", "meeting", "Ops sync", 0, 13, 30, ""),
    ("maya", "task", "Review custom fields", 5, None, 0, ""),
    ("maya", "call", "Vendor call", -3, 9, 30, "left_voicemail"),
    ("tom", "meeting", "Team stand-up", 0, 9, 15, ""),
    ("tom", "meeting", "Forecast call", 1, 16, 45, ""),
    ("tom", "task", "Coach Lena on the Globex deal", -1, 11, 0, ""),
    ("tom", "call", "Escalation: late delivery", -1, 14, 20, "connected"),
    ("tom", "meeting", "Win review", -3, 15, 60, "completed"),
    ("tom", "meeting", "Hiring interview", 3, 11, 60, ""),
    ("tom", "task", "Territory plan", 6, None, 0, ""),
]


def _person(people: dict[str, User], who: str) -> User:
    return people.get(who) or people["owner"]


def seed_activities() -> None:
    if Activity.objects.exists():
        return
    people = {u.email.split("@")[0]: u for u in User.objects.filter(is_active=True)}
    if "owner" not in people:  # pragma: no cover - every demo organisation has its owner
        return
    contacts = list(Contact.objects.order_by("pk")[:12])
    companies = list(Company.objects.order_by("pk")[:6])
    deals = list(Deal.objects.order_by("pk")[:6])
    leads = list(Lead.objects.order_by("pk")[:4])
    today = timezone.localdate()

    def pick(items: list[Any], index: int) -> list[Any]:
        return [items[index % len(items)]] if items else []

    for index, (who, kind, subject, days, hour, minutes, outcome) in enumerate(PLAN):
        day = today + timedelta(days=days)
        person = _person(people, who)
        contact = pick(contacts, index)
        when: dict[str, Any]
        if hour is None:
            when = {
                "start_at" if kind == "meeting" else "due_at": day,
                "all_day": True,
            }
        else:
            start = datetime.combine(day, time(int(hour), int(hour % 1 * 60)), tzinfo=UTC)
            if kind == "meeting" or minutes:
                when = {"start_at": start, "end_at": start + timedelta(minutes=minutes or 30)}
            else:
                when = {"due_at": start}
        # The Owner writes them (and so may link any record); each belongs to its person.
        activity = activity_create(
            actor=people["owner"],
            type=kind,
            subject=subject + (f" with {contact[0]}" if contact and kind != "note" else ""),
            owner=person,
            location="Video call" if kind == "meeting" and index % 2 else "",
            body="Agenda: goals, timeline, next steps." if kind == "meeting" else "",
            contacts=contact,
            companies=pick(companies, index),
            deals=pick(deals, index) if index % 3 == 0 else [],
            leads=pick(leads, index) if index % 5 == 0 else [],
            **when,
        )
        if outcome:
            activity_complete(actor=people["owner"], activity=activity, outcome=outcome)
    # A meeting a few minutes after seeding, so the bell rings (and, with the console email
    # backend, the reminder email prints) within minutes of `make dev`.
    soon = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=4)
    activity_create(
        actor=people["owner"],
        type="meeting",
        subject="Kestrel tour: watch the bell",
        owner=people["owner"],
        start_at=soon,
        end_at=soon + timedelta(minutes=30),
        body="Reminders arrive in the bell at the top of every page, and by email.",
        contacts=pick(contacts, 0),
        reminders=[2, 0],
    )
