"""A year of sales history for the demo organisation, so the reports show trends at once:
about eighty deals closed month by month over the last twelve months (won and lost with
reasons, a few reopened and then won, some in euros and pounds), open deals expected to close
in the next three months, about eighty leads from every source and campaign (some qualified,
some converted into deals that were later won or lost) and the calls, meetings and emails
that went with them (done with outcomes, a few tasks overdue).

Everything is made through the real services, as the demo team (each person their own
records), then dated back: the services stamp "now", so creation, stage moves (with the
time spent in each stage), won and lost dates, conversions and activity dates are rewritten
to the planned, mutually consistent moments. Dates are relative to today, in the demo
owner's time zone, so this month, last month and this quarter always have closed deals.
A fixed random seed makes the history the same on every run. Every record made here carries
an external id starting with `demo-history`; seeding again does nothing once one exists."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import User
from apps.activities.models import Activity
from apps.activities.services import activity_create
from apps.companies.models import Company
from apps.contacts.models import Contact
from apps.core import visibility
from apps.leads.conversion import lead_convert
from apps.leads.models import Lead, LeadSource
from apps.leads.services import lead_create
from apps.records.models import TimelineEntry
from apps.reports.cache import reports_changed
from apps.reports.periods import zone

from .models import Deal, DealStageChange, LostReason, Pipeline, Stage, StageKind
from .services import deal_create, deal_move

MARK = "demo-history"
SEED = 2026
MONTHS = 12
# Who sells how much: (person, share of the deals).
SELLERS = [("lena", 30), ("tom", 25), ("owner", 25), ("maya", 20)]
PRODUCTS = [
    "annual licence",
    "support renewal",
    "onboarding package",
    "seat expansion",
    "analytics add-on",
    "training days",
    "data migration",
    "premium support",
    "API access",
    "multi-year renewal",
    "security review",
    "regional rollout",
]
VALUES = [3600, 4800, 7200, 9600, 12000, 15000, 18000, 24000, 30000, 36000, 48000, 64000, 85000]
REASONS = [("Price", 30), ("Lost to a competitor", 25), ("No budget", 20), ("No decision", 15)]
REASONS += [("Timing", 10)]
DEAL_SOURCES = ["Inbound", "Outbound", "Referral", "Partner"]
# Companies the history's leads work at (none of the other demo records use these names).
LEAD_COMPANIES = [
    "Blue Yonder Airlines",
    "Coho Winery",
    "Fourth Coffee",
    "Alpine Ski House",
    "Lucerne Publishing",
    "Trey Research",
    "Humongous Insurance",
    "Wide World Importers",
    "Relecloud",
    "VanArsdel",
    "Margie's Travel",
    "Bellows College",
    "Munson's Pickles",
    "Graphic Design Institute",
    "City Power & Light",
    "Southridge Video",
]
FIRST_NAMES = ["Aisha", "Bruno", "Carmen", "Dev", "Elif", "Finn", "Grace", "Hugo", "Ivy", "Jamal"]
FIRST_NAMES += ["Kasia", "Luis", "Mei", "Nadia", "Omar", "Paula", "Quinn", "Rafael", "Sana"]
LAST_NAMES = ["Adeyemi", "Bauer", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallo", "Haddad"]
LAST_NAMES += ["Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Oyelaran"]
LEAD_TITLES = ["Head of Sales", "Operations Manager", "CTO", "Procurement Lead", "COO", "Founder"]
# source: (share, [(utm source, medium)], campaigns by quarter of the year)
LEAD_SOURCES: dict[str, tuple[int, list[tuple[str, str]], list[str]]] = {
    "Website": (
        40,
        [("google", "cpc"), ("linkedin", "social"), ("newsletter", "email"), ("google", "organic")],
        ["winter-webinar", "spring-sale", "summer-roadshow", "gov-webinar"],
    ),
    "Referral": (20, [], []),
    "Event": (15, [], ["saastr-2026", "retail-expo", "cloud-summit", "saastr-2026"]),
    "Cold call": (10, [], []),
    "Partner": (15, [("partner-portal", "referral")], ["q1-partners", "q2-partners"]),
}


@dataclass
class Plan:
    """One deal's story: created at `created`, then `steps` (stage, reason) at `times`."""

    deal: Deal
    created: datetime
    steps: list[tuple[Stage, LostReason | None]] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)


class _History:
    def __init__(self, people: dict[str, User], now: datetime) -> None:
        self.rng = random.Random(SEED)  # noqa: S311 - made-up demo data, not secrets
        self.people = people
        self.owner = people["owner"]
        self.now = now
        self.tz = zone(self.owner.time_zone)
        self.today = now.astimezone(self.tz).date()
        self.started = now
        self.sales = Pipeline.objects.get(is_default=True)
        self.partnerships = Pipeline.objects.filter(name="Partnerships").first()
        self.reasons = {r.name: r for r in LostReason.objects.filter(archived=False)}
        self.plans: list[Plan] = []
        self.count = {"deal": 0, "lead": 0, "activity": 0}
        self.companies = {
            who: list(visibility.visible(Company.objects.all(), user).order_by("pk"))
            for who, user in people.items()
        }

    # Time ---------------------------------------------------------------------------------

    def month(self, back: int) -> tuple[datetime, datetime]:
        """The month `back` months ago, in the owner's time zone (this month: up to now)."""
        year, month = self.today.year, self.today.month - back
        while month < 1:
            year, month = year - 1, month + 12
        start = datetime.combine(date(year, month, 1), time.min, tzinfo=self.tz)
        if back == 0:
            return start, self.now
        following = date(year + (month == 12), month % 12 + 1, 1)
        return start, datetime.combine(following, time.min, tzinfo=self.tz)

    def between(self, start: datetime, end: datetime, low: float = 0.05, high: float = 0.95) -> Any:
        return start + (end - start) * self.rng.uniform(low, high)

    def office_hours(self, moment: datetime, low: datetime, high: datetime) -> datetime:
        """`moment` moved to a working hour of its day, when that stays within low..high."""
        local = moment.astimezone(self.tz)
        hour, minute = self.rng.randint(9, 16), self.rng.choice([0, 15, 30, 45])
        moved = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return moved if low < moved < high else moment

    def spread(self, start: datetime, end: datetime, n: int) -> list[datetime]:
        """`n` moments after `start`, the last at `end`, with uneven gaps between them."""
        weights = [self.rng.uniform(0.4, 1.6) for _ in range(n)]
        total, moments, running = sum(weights), [], 0.0
        for w in weights:
            running += w
            moments.append(start + (end - start) * (running / total))
        return moments

    # Choices ------------------------------------------------------------------------------

    def weighted(self, options: list[tuple[str, int]]) -> str:
        return self.rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]

    def value(self) -> Decimal:
        base = self.rng.choice(VALUES) * self.rng.uniform(0.8, 1.25)
        return Decimal(round(base / 100) * 100)

    def reason(self) -> LostReason | None:
        return self.reasons.get(self.weighted(REASONS)) or next(iter(self.reasons.values()), None)

    def member(self, pk: int) -> User:
        return next(u for u in self.people.values() if u.pk == pk)

    def mark(self, kind: str) -> str:
        self.count[kind] += 1
        return f"{MARK}:{kind}:{self.count[kind]}"

    # Deals --------------------------------------------------------------------------------

    def new_deal(self, who: str, created: datetime, outcome: str, closed: datetime | None) -> None:
        person = self.people[who]
        pipeline = self.sales
        if self.partnerships is not None and self.rng.random() < 0.15:
            pipeline = self.partnerships
        company = self.rng.choice(self.companies[who]) if self.companies[who] else None
        contacts = (
            list(visibility.visible(Contact.objects.filter(companies=company), person)[:1])
            if company
            else []
        )
        roll = self.rng.random()
        currency = "EUR" if roll < 0.1 else "GBP" if roll < 0.18 else "USD"
        if company is not None and company.name == "Umbrella Health":
            currency = "EUR"
        name = company.name if company else "New customer"
        expected = (closed or self.now).astimezone(self.tz).date()
        if outcome == "open":
            expected = self.today + timedelta(days=self.rng.randint(4, 88))
        deal = deal_create(
            actor=person,
            title=f"{name} {self.rng.choice(PRODUCTS)}",
            value=self.value(),
            currency=currency,
            pipeline=pipeline,
            owner=person,
            companies=[company] if company else [],
            contacts=contacts,
            expected_close=expected,
            custom_fields={"source": self.rng.choice(DEAL_SOURCES)},
        )
        self.play(deal, person, created, outcome, closed)

    def play(
        self, deal: Deal, actor: User, created: datetime, outcome: str, closed: datetime | None
    ) -> None:
        """Move `deal` (in its pipeline's first stage) along its story through the service,
        remembering when each move happened."""
        stages = list(deal.pipeline.stages.all())
        opened = [s for s in stages if s.kind == StageKind.OPEN]
        won = next(s for s in stages if s.kind == StageKind.WON)
        lost = next(s for s in stages if s.kind == StageKind.LOST)
        later = opened[1:]
        steps: list[tuple[Stage, LostReason | None]] = []
        if outcome == "won":
            if len(later) > 2 and self.rng.random() < 0.3:
                later.pop(self.rng.randrange(len(later) - 1))  # skipped a stage
            steps = [*_through(later), (won, None)]
        elif outcome == "lost":
            steps = [*_through(later[: self.rng.randint(0, len(later))]), (lost, self.reason())]
        elif outcome == "reopened":
            at = self.rng.randint(1, len(later))
            steps = [*_through(later[:at]), (lost, self.reason())]
            steps += [*_through(later[at - 1 :]), (won, None)]
        else:
            steps = _through(later[: self.rng.randint(0, len(later))])
        end = closed or self.now - timedelta(days=self.rng.uniform(1, 12))
        if closed is None and end <= created:
            end = created + (self.now - created) / 2
        times = self.spread(created, end, len(steps)) if steps else []
        for stage, reason in steps:
            deal = deal_move(actor=actor, deal=deal, stage=stage, lost_reason=reason)
        self.plans.append(Plan(deal=deal, created=created, steps=steps, times=times))

    def closed_deals(self) -> None:
        """Each month: a few won (one in four months, one reopened after being lost first)
        and a few lost, each after a sales cycle of weeks."""
        sellers = [(w, n) for w, n in SELLERS if w in self.people]
        for back in range(MONTHS):
            start, end = self.month(back)
            wins = self.rng.randint(3, 4) if back < 2 else self.rng.randint(2, 3)
            outcomes = ["won"] * wins + ["lost"] * self.rng.randint(1, 3)
            if back in (2, 7):
                outcomes.append("reopened")
            for outcome in outcomes:
                closed = self.between(start, end)
                days = self.rng.uniform(6, 60) if outcome == "lost" else self.rng.uniform(10, 80)
                self.new_deal(
                    self.weighted(sellers), closed - timedelta(days=days), outcome, closed
                )

    def open_deals(self) -> None:
        """Deals still being worked: opened weeks ago, expected to close in the next three
        months."""
        sellers = [(w, n) for w, n in SELLERS if w in self.people]
        for _ in range(12):
            created = self.now - timedelta(days=self.rng.uniform(12, 75))
            self.new_deal(self.weighted(sellers), created, "open", None)

    # Leads --------------------------------------------------------------------------------

    def leads(self) -> None:
        """Leads month by month from every source; older ones were worked (qualified,
        disqualified, converted into deals that went on to win or lose)."""
        sources = {s.name: s for s in LeadSource.objects.all()}
        shares = [(name, spec[0]) for name, spec in LEAD_SOURCES.items() if name in sources]
        # Leads that convert belong to people who keep their own customer companies.
        converters = [w for w in ("owner", "maya", "tom") if w in self.people]
        everyone = [(w, n) for w, n in SELLERS if w in self.people]
        for back in range(MONTHS):
            start, end = self.month(back)
            for _ in range(self.rng.randint(5, 8)):
                created = self.office_hours(self.between(start, end), start, end)
                age = (self.now - created).days
                source = self.weighted(shares) if shares else ""
                _share, utms, campaigns = LEAD_SOURCES.get(source, (0, [], []))
                utm = self.rng.choice(utms) if utms else ("", "")
                quarter = (created.astimezone(self.tz).month - 1) // 3
                campaign = campaigns[quarter % len(campaigns)] if campaigns else ""
                who = self.weighted(everyone)
                convert = age > 12 and self.rng.random() < 0.35
                if convert:
                    who = self.rng.choice(converters)
                roll = self.rng.random()
                status = "new"
                if convert or (age > 5 and roll < 0.2):
                    status = "qualified"
                elif age > 7 and roll < 0.5:
                    status = "unqualified"
                elif age > 2 and roll < 0.8:
                    status = "contacted"
                first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
                company = self.rng.choice(LEAD_COMPANIES)
                domain = "".join(ch for ch in company.lower() if ch.isalnum())
                person = self.people[who]
                lead = lead_create(
                    actor=person,
                    owner=person,
                    first_name=first,
                    last_name=last,
                    email=f"{first.lower()}.{last.lower()}@{domain}.example",
                    company_name=company,
                    title=self.rng.choice(LEAD_TITLES),
                    source=source or None,
                    status=status,
                    utm_source=utm[0],
                    utm_medium=utm[1],
                    utm_campaign=campaign,
                    landing_page="https://www.demo-sales.example/pricing" if utm[0] else "",
                    custom_fields={"score": self.rng.randint(20, 95)},
                    tags=["Inbound"] if source == "Website" else [],
                    allow_duplicate=True,
                )
                converted = None
                if convert:
                    converted = created + timedelta(days=self.rng.uniform(2, min(20, age - 5)))
                    self.convert(lead, person, company, converted)
                Lead.all_objects.filter(pk=lead.pk).update(
                    created_at=created,
                    updated_at=converted or created,
                    converted_at=converted,
                    external_id=self.mark("lead"),
                )
                _history_dates(Lead, lead.pk, [created, converted or created])

    def convert(self, lead: Lead, person: User, company: str, at: datetime) -> None:
        result = lead_convert(
            actor=person,
            lead=lead,
            create_deal=True,
            deal={"title": f"{company} {self.rng.choice(PRODUCTS)}", "value": str(self.value())},
        )
        made: Q = Q(entity="lead", record_id=lead.pk) | Q(
            entity="contact", record_id=result.contact.pk
        )
        Contact.objects.filter(pk=result.contact.pk).update(created_at=at, updated_at=at)
        _history_dates(Contact, result.contact.pk, [at])
        if result.company is not None and result.company.created_at >= self.started:
            Company.objects.filter(pk=result.company.pk).update(created_at=at, updated_at=at)
            _history_dates(Company, result.company.pk, [at])
            made |= Q(entity="company", record_id=result.company.pk)
        if result.deal is not None:
            made |= Q(entity="deal", record_id=result.deal.pk)
            cycle = timedelta(days=self.rng.uniform(14, 70))
            roll = self.rng.random()
            if at + cycle < self.now - timedelta(days=1) and roll < 0.8:
                outcome = "won" if roll < 0.5 else "lost"
                Deal.objects.filter(pk=result.deal.pk).update(
                    expected_close=(at + cycle).astimezone(self.tz).date()
                )
                self.play(result.deal, person, at, outcome, at + cycle)
            else:
                Deal.objects.filter(pk=result.deal.pk).update(
                    expected_close=self.today + timedelta(days=self.rng.randint(10, 80))
                )
                self.play(result.deal, person, at, "open", None)
        TimelineEntry.objects.filter(made, created_at__gte=self.started).update(created_at=at)

    # Dating back --------------------------------------------------------------------------

    def date_deals(self) -> None:
        changes: list[DealStageChange] = []
        for plan in self.plans:
            moments = [plan.created, *plan.times]
            final = plan.steps[-1][0].kind if plan.steps else StageKind.OPEN
            Deal.objects.filter(pk=plan.deal.pk).update(
                created_at=plan.created,
                updated_at=moments[-1],
                stage_entered_at=moments[-1],
                won_at=moments[-1] if final == StageKind.WON else None,
                lost_at=moments[-1] if final == StageKind.LOST else None,
                external_id=self.mark("deal"),
            )
            rows = list(DealStageChange.objects.filter(deal=plan.deal).order_by("pk"))
            for index, (row, moment) in enumerate(zip(rows, moments, strict=False)):
                row.changed_at = moment
                row.seconds_in_previous = (
                    int((moment - moments[index - 1]).total_seconds()) if index else None
                )
                changes.append(row)
            _history_dates(Deal, plan.deal.pk, moments)
        DealStageChange.objects.bulk_update(changes, ["changed_at", "seconds_in_previous"])

    def date_the_board(self) -> None:
        """The board's deals (apps.deals.demo) were opened weeks before they reached their
        stage, and closed ones closed when they entered Won or Lost."""
        changes: list[DealStageChange] = []
        for deal in Deal.objects.exclude(external_id__startswith=MARK).order_by("pk"):
            rows = list(DealStageChange.objects.filter(deal=deal).order_by("pk"))
            entered = deal.stage_entered_at or deal.created_at
            if len(rows) not in (1, 2) or entered >= deal.created_at:
                continue  # not one of them: its dates already agree
            # Created in the stage it is in, or moved there once after a few weeks.
            created = entered
            if len(rows) == 2:
                created = entered - timedelta(days=self.rng.uniform(12, 45))
                rows[1].changed_at = entered
                rows[1].seconds_in_previous = int((entered - created).total_seconds())
            rows[0].changed_at = created
            changes += rows
            Deal.objects.filter(pk=deal.pk).update(
                created_at=created,
                won_at=entered if deal.status == StageKind.WON else None,
                lost_at=entered if deal.status == StageKind.LOST else None,
            )
            _history_dates(Deal, deal.pk, [created, entered][-len(rows) :])
        DealStageChange.objects.bulk_update(changes, ["changed_at", "seconds_in_previous"])

    # Activities ---------------------------------------------------------------------------

    def activities(self) -> None:
        """One or two done activities per deal during its life, a call for some leads, and a
        few tasks on open deals that are overdue."""
        kinds = [
            (
                "call",
                "Discovery call",
                20,
                ["connected", "connected", "no_answer", "left_voicemail"],
            ),
            ("meeting", "Product demo", 45, ["completed", "completed", "no_show", "rescheduled"]),
            ("email", "Sent the proposal", 0, ["completed"]),
            ("call", "Pricing follow-up", 15, ["connected", "busy", "no_answer"]),
            ("meeting", "Negotiation meeting", 60, ["completed"]),
        ]
        for plan in self.plans:
            deal = plan.deal
            end = plan.times[-1] if plan.times else self.now - timedelta(hours=2)
            for _ in range(self.rng.choice([1, 1, 1, 2])):
                kind, subject, minutes, outcomes = self.rng.choice(kinds)
                at = self.office_hours(self.between(plan.created, end), plan.created, end)
                self.activity(
                    self.member(deal.owner_id),
                    kind,
                    f"{subject}: {deal.title}",
                    at,
                    minutes,
                    self.rng.choice(outcomes),
                    plan.created,
                    deals=[deal],
                    contacts=list(deal.contacts.all()[:1]),
                )
        for lead in Lead.objects.filter(external_id__startswith=MARK).order_by("pk")[::5]:
            end = min(lead.created_at + timedelta(days=10), self.now - timedelta(hours=1))
            if end <= lead.created_at:
                continue
            at = self.office_hours(self.between(lead.created_at, end), lead.created_at, end)
            self.activity(
                self.member(lead.owner_id),
                "call",
                f"Intro call with {lead.first_name} {lead.last_name}",
                at,
                15,
                self.rng.choice(["connected", "no_answer", "left_voicemail", "connected"]),
                lead.created_at,
                leads=[lead],
            )
        open_plans = [p for p in self.plans if p.deal.status == "open"]
        for plan in open_plans[:7]:
            due = self.now - timedelta(days=self.rng.uniform(1, 16))
            due = self.office_hours(due, plan.created, self.now - timedelta(hours=1))
            self.activity(
                self.member(plan.deal.owner_id),
                "task",
                f"Chase the signed order form: {plan.deal.title}",
                due,
                0,
                "",
                plan.created,
                deals=[plan.deal],
            )

    def activity(
        self,
        person: User,
        kind: str,
        subject: str,
        at: datetime,
        minutes: int,
        outcome: str,
        earliest: datetime,
        **links: Any,
    ) -> None:
        done = bool(outcome)
        if kind == "meeting" or minutes:
            when: dict[str, Any] = {
                "start_at": at,
                "end_at": at + timedelta(minutes=minutes or 30),
            }
            finished = when["end_at"]
        else:
            when = {"due_at": at}
            finished = at + timedelta(minutes=self.rng.randint(5, 90))
        activity = activity_create(
            actor=person,
            type=kind,
            subject=subject,
            owner=person,
            done=done,
            outcome=outcome,
            reminders=[],
            **when,
            **links,
        )
        created = max(earliest, at - timedelta(days=self.rng.uniform(0.5, 6)))
        done_at = min(finished, self.now - timedelta(minutes=1)) if done else None
        Activity.objects.filter(pk=activity.pk).update(
            created_at=created,
            updated_at=done_at or created,
            done_at=done_at,
            external_id=self.mark("activity"),
        )
        _history_dates(Activity, activity.pk, [created])


def _through(stages: list[Stage]) -> list[tuple[Stage, LostReason | None]]:
    return [(stage, None) for stage in stages]


def _history_dates(model: Any, pk: int, moments: list[datetime]) -> None:
    """Date the record's history entries (one per save, oldest first) at `moments`; any
    later entries take the last moment."""
    history = getattr(model, "history", None)
    if history is None:
        return
    rows = list(history.model.objects.filter(id=pk).order_by("history_id"))
    for index, row in enumerate(rows):
        row.history_date = moments[min(index, len(moments) - 1)]
    history.model.objects.bulk_update(rows, ["history_date"])


def seed_sales_history() -> None:
    """Idempotent: does nothing once a deal of this history exists (or without the demo's
    owner and pipelines)."""
    if Deal.objects.filter(external_id__startswith=MARK).exists():
        return
    # Roles come from groups: fetched once, not on every permission check.
    members = User.objects.filter(is_active=True).prefetch_related("groups")
    people = {u.email.split("@")[0]: u for u in members}
    if "owner" not in people or not Pipeline.objects.filter(is_default=True).exists():
        return
    for name in ("lena", "tom", "maya"):
        people.setdefault(name, people["owner"])
    history = _History(people, timezone.now())
    history.date_the_board()
    history.closed_deals()
    history.open_deals()
    history.leads()
    history.date_deals()
    history.activities()
    reports_changed()
