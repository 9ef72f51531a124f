"""Report subscriptions: a person asks for a report (or the dashboard) by email every day,
week or month at an hour of their own time zone.

Each active subscription is one scheduled job (`tenants.jobs`, kind "report_subscription",
object id = the subscription's id) due at its next run, written in the same transaction as
the subscription. The dispatcher sends the organisation's delivery task to its reports queue
(`tasks.deliver_subscriptions`); the job's handler, `run()`, builds the report as the
subscriber may see it at that moment, emails it with the CSV and the PDF, and returns the next
run, which keeps the job. A run that raises is retried with backoff by the job machinery
(the subscription shows "Failed, will retry" and the error); when the retries are spent the
organisation's Admins see a failed background job, the subscription shows "Failed", and it
is scheduled again for its next regular run.

Who sees what: everyone their own subscriptions; Owners and Admins every subscription of the
organisation (to see who receives what), but only its subscriber changes, sends or deletes
one. A deactivated subscriber is sent nothing."""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import ADMIN_ROLES
from apps.audit.services import audit_record
from apps.records.services import actor_label, actor_user
from tenants import jobs
from tenants.db import connection

from . import exporting, periods, registry
from .models import Cadence, RunStatus, Subscription

logger = logging.getLogger(__name__)

KIND = "report_subscription"
TASK = "reports.tasks.deliver_subscriptions"
TENANT_URLCONF = "config.urls_tenant"
# Query parameters a subscription may keep (those the reports understand).
PARAM_KEYS = ("period", "start", "end", "from", "to", "owner", "team", "pipeline", "group")
WEEKDAYS = list(enumerate(calendar.day_name))  # 0 = Monday
MAX_ERROR = 500
# Failed runs older than this are not looked at again when showing outcomes.
FAILURE_LOOKBACK = dt.timedelta(days=7)


# --- reading ---------------------------------------------------------------------------------


def may_see_all(user: Any) -> bool:
    return bool(getattr(user, "is_admin", False)) or getattr(user, "role", None) in ADMIN_ROLES


def subscription_list(*, user: Any) -> QuerySet[Subscription]:
    """The subscriptions `user` may see: their own, or every one for Owners and Admins (an API
    key: as its own role, for the person who made it)."""
    person = actor_user(user)
    if person is None or person.pk is None:
        return Subscription.objects.none()
    found = Subscription.objects.select_related("user")
    if not may_see_all(user):
        found = found.filter(user_id=person.pk)
    return found.order_by("report", "id")


def subscription_get(*, user: Any, pk: Any) -> Subscription:
    """One subscription `user` may see, else Http404 (as for one that does not exist)."""
    try:
        return subscription_list(user=user).get(pk=int(pk))
    except (Subscription.DoesNotExist, TypeError, ValueError):
        raise Http404("There is no such subscription.") from None


def _own(actor: Any, sub: Subscription) -> User:
    """The acting person, who must be the subscriber: nobody else changes, sends or deletes a
    subscription (an Admin who sees it included)."""
    person = actor_user(actor)
    if person is None or person.pk != sub.user_id:
        raise PermissionDenied("Only its subscriber can change, send or delete a subscription.")
    return person


# --- when ------------------------------------------------------------------------------------


def next_run(sub: Subscription, after: dt.datetime) -> dt.datetime:
    """The first run strictly after `after`: at `hour` o'clock in the subscriber's time zone,
    every day, every `weekday` (0 = Monday) or on the `day` of every month. An hour that a
    clock change skips is sent at the same UTC offset as before the change (an hour late)."""
    tz = periods.zone(getattr(sub.user, "time_zone", None))
    local = after.astimezone(tz)
    hour = dt.time(int(sub.hour))

    def at(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, hour, tzinfo=tz).astimezone(dt.UTC)

    today = local.date()
    if sub.cadence == Cadence.DAILY:
        candidate = at(today)
        return candidate if candidate > after else at(today + dt.timedelta(days=1))
    if sub.cadence == Cadence.WEEKLY:
        ahead = (int(sub.weekday) - today.weekday()) % 7
        candidate = at(today + dt.timedelta(days=ahead))
        return candidate if candidate > after else at(today + dt.timedelta(days=ahead + 7))
    # Monthly: day 1-28 exists in every month.
    candidate = at(today.replace(day=int(sub.day)))
    if candidate > after:
        return candidate
    following = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=int(sub.day))
    return at(following)


def schedule_words(sub: Subscription) -> str:
    """ "Every Monday at 08:00 (Europe/Berlin)"."""
    zone = getattr(sub.user, "time_zone", None) or "UTC"
    at = f"{int(sub.hour):02d}:00 ({zone})"
    if sub.cadence == Cadence.DAILY:
        return f"Every day at {at}"
    if sub.cadence == Cadence.WEEKLY:
        return f"Every {calendar.day_name[int(sub.weekday)]} at {at}"
    return f"Monthly on day {int(sub.day)} at {at}"


def report_title(name: str) -> str:
    try:
        return registry.get(name).title
    except Http404:
        return name


def filters_words(sub: Subscription) -> list[str]:
    """The subscription's filters as a reader says them: the period first."""
    params = sub.params or {}
    key = params.get("period") or ""
    if key == "custom":
        first = f"{params.get('start', '?')} to {params.get('end', '?')}"
        words = [f"Period: {first}"]
    else:
        try:
            default = registry.get(sub.report).default_period
        except Http404:
            default = periods.DEFAULT
        words = [f"Period: {periods.LABELS.get(key or default, key or default)}"]
    return words + exporting.filters_in_words(params, sub.report)


# --- validation ------------------------------------------------------------------------------


def _number(value: Any, field: str, low: int, high: int, message: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ValidationError({field: message})
    if not low <= number <= high:
        raise ValidationError({field: message})
    return number


def _clean_params(params: Any) -> dict[str, str]:
    if params in (None, ""):
        return {}
    if not isinstance(params, Mapping):
        raise ValidationError(
            {
                "params": 'Give the filters as an object of query parameters, e.g. {"period": '
                '"last_week", "pipeline": "2"}.'
            }
        )
    clean: dict[str, str] = {}
    for key, value in params.items():
        if key not in PARAM_KEYS:
            raise ValidationError(
                {"params": f"Unknown filter {key!r}: use {', '.join(PARAM_KEYS)}."}
            )
        if value in (None, ""):
            continue
        if not isinstance(value, str | int):
            raise ValidationError({"params": f"The filter {key!r} must be a single value."})
        clean[key] = str(value).strip()[:100]
    # Kept as the reports read them: `from`/`to` as start/end, a range implying "custom".
    return {key: str(value) for key, value in registry.normalise(clean).items()}


def clean(
    *,
    user: User,
    report: Any,
    params: Any,
    cadence: Any,
    weekday: Any = 0,
    day: Any = 1,
    hour: Any = 8,
) -> dict[str, Any]:
    """The subscription's fields, checked; ValidationError names the first wrong one. The
    report is built once as `user` with the filters, so a filter it refuses (an unknown
    period, an end before the start, a pipeline that does not exist) is refused here with
    the report's own words, not at the first run."""
    name = registry.canonical(str(report or "").strip())
    known = [d.name for d in registry.all_reports()]
    if name not in known:
        raise ValidationError(
            {"report": f"There is no report {name!r}: choose one of {', '.join(known)}."}
        )
    if cadence not in Cadence.values:
        raise ValidationError(
            {"cadence": f"Choose how often: {', '.join(str(v) for v in Cadence.values)}."}
        )
    fields: dict[str, Any] = {
        "report": name,
        "params": _clean_params(params),
        "cadence": str(cadence),
        "hour": _number(hour, "hour", 0, 23, "The hour is a whole number from 0 to 23."),
        "weekday": _number(
            weekday if weekday not in (None, "") else 0,
            "weekday",
            0,
            6,
            "The weekday is 0 (Monday) to 6 (Sunday).",
        ),
        "day": _number(
            day if day not in (None, "") else 1,
            "day",
            1,
            28,
            "The day of the month is 1 to 28 (a day every month has).",
        ),
    }
    if not user.email:
        raise ValidationError("Your account has no email address to send the report to.")
    try:
        registry.build(name, user, fields["params"], cached=True)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise ValidationError(
                {"params": [f"{key}: {m}" for key, ms in exc.message_dict.items() for m in ms]}
            ) from exc
        raise ValidationError({"params": exc.messages}) from exc
    return fields


def _described(sub: Subscription) -> dict[str, Any]:
    return {
        "report": sub.report,
        "params": sub.params,
        "cadence": sub.cadence,
        "weekday": sub.weekday,
        "day": sub.day,
        "hour": sub.hour,
        "active": sub.active,
    }


def _reschedule(sub: Subscription, *, now: dt.datetime | None = None) -> None:
    """Keep the subscription's job in step with it (inside the caller's transaction)."""
    if sub.active:
        sub.next_run_at = next_run(sub, now or timezone.now())
        jobs.schedule(kind=KIND, object_id=sub.pk, due_at=sub.next_run_at)
    else:
        sub.next_run_at = None
        jobs.unschedule(kind=KIND, object_id=sub.pk)
    sub.save(update_fields=["next_run_at"])


# --- writing ---------------------------------------------------------------------------------


def subscribe(
    *,
    actor: Any,
    report: Any,
    params: Any = None,
    cadence: Any = Cadence.WEEKLY,
    weekday: Any = 0,
    day: Any = 1,
    hour: Any = 8,
    now: dt.datetime | None = None,
    ip_address: str | None = None,
) -> Subscription:
    """Subscribe the acting person (an API key: the person who made it) to `report`."""
    user = actor_user(actor)
    if user is None or not user.is_active:
        raise PermissionDenied("Only a person can subscribe to a report.")
    fields = clean(
        user=user,
        report=report,
        params=params,
        cadence=cadence,
        weekday=weekday,
        day=day,
        hour=hour,
    )
    with transaction.atomic():
        sub = Subscription.objects.create(user=user, **fields)
        sub.user = user
        _reschedule(sub, now=now)
        audit_record(
            action="report_subscription.created",
            actor=user,
            actor_label=actor_label(actor),
            ip_address=ip_address,
            target=sub,
            detail=_described(sub),
        )
    return sub


def update(
    *,
    actor: Any,
    sub: Subscription,
    now: dt.datetime | None = None,
    ip_address: str | None = None,
    **changes: Any,
) -> Subscription:
    """Change any of report, params, cadence, weekday, day, hour, active; the next run is
    worked out again."""
    user = _own(actor, sub)
    allowed = {"report", "params", "cadence", "weekday", "day", "hour", "active"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError({unknown[0]: "This cannot be changed."})
    merged = {**_described(sub), **changes}
    fields = clean(
        user=user,
        report=merged["report"],
        params=merged["params"],
        cadence=merged["cadence"],
        weekday=merged["weekday"],
        day=merged["day"],
        hour=merged["hour"],
    )
    fields["active"] = bool(merged["active"])
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().select_related("user").get(pk=sub.pk)
        before = _described(locked)
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
        _reschedule(locked, now=now)
        after = _described(locked)
        audit_record(
            action="report_subscription.updated",
            actor=user,
            actor_label=actor_label(actor),
            ip_address=ip_address,
            target=locked,
            detail={"changes": {k: [before[k], after[k]] for k in after if before[k] != after[k]}},
        )
    return locked


def delete(*, actor: Any, sub: Subscription, ip_address: str | None = None) -> None:
    user = _own(actor, sub)
    with transaction.atomic():
        jobs.unschedule(kind=KIND, object_id=sub.pk)
        audit_record(
            action="report_subscription.deleted",
            actor=user,
            actor_label=actor_label(actor),
            ip_address=ip_address,
            target=sub,
            detail=_described(sub),
        )
        sub.delete()


def send_now(*, actor: Any, sub: Subscription, ip_address: str | None = None) -> Subscription:
    """Queue a run at once (the job is due now; the regular schedule goes on after it)."""
    user = _own(actor, sub)
    if not sub.active:
        raise ValidationError("This subscription is paused: resume it to send it.")
    now = timezone.now()
    with transaction.atomic():
        jobs.schedule(kind=KIND, object_id=sub.pk, due_at=now)
        Subscription.objects.filter(pk=sub.pk).update(next_run_at=now)
        sub.next_run_at = now
        audit_record(
            action="report_subscription.sent_now",
            actor=user,
            actor_label=actor_label(actor),
            ip_address=ip_address,
            target=sub,
            detail={"report": sub.report},
        )
    return sub


# --- running ---------------------------------------------------------------------------------


def _path(names: tuple[str, ...], fallback: str, *args: Any) -> str:
    for name in names:
        try:
            return reverse(name, args=args, urlconf=TENANT_URLCONF)
        except NoReverseMatch:
            continue
    return fallback


def report_path(name: str, params: Mapping[str, Any]) -> str:
    query = f"?{urlencode(params)}" if params else ""
    if name == "dashboard":
        path = _path(("reports:dashboard",), "/reports/")
    else:
        path = _path(("reports:detail",), f"/reports/{name}/", name)
    return path + query


def subscriptions_path() -> str:
    return _path(("reports:subscriptions",), "/reports/subscriptions/")


def build_email(sub: Subscription, *, now: dt.datetime) -> EmailMultiAlternatives:
    """The report as the subscriber may see it now, as an email with the CSV and the PDF."""
    from apps.core.urls_util import host_url, tenant_host
    from apps.notifications.email import current_tenant, sender

    user = sub.user
    try:
        report = registry.build(sub.report, user, sub.params, cached=True)
    except Http404:
        raise LookupError(f"There is no report {sub.report!r} any more.") from None
    tenant = current_tenant()
    host = tenant_host(tenant.slug)
    local_now = now.astimezone(periods.zone(user.time_zone))
    pdf = exporting.report_pdf(
        report,
        organisation=tenant.name,
        viewer=user.get_full_name(),
        generated_at=local_now,
    )
    period = getattr(report.period, "label", "")
    subject = f"{report.title}: {period}" if period else report.title
    context: dict[str, Any] = {
        "subscription": sub,
        "report": report,
        "organisation": tenant.name,
        "recipient_name": user.get_short_name(),
        "period": report.period,
        "previous": report.previous,
        "figures": exporting.figure_cells(report),
        "filters": exporting.filters_in_words(report.filters, report.name),
        "schedule": schedule_words(sub),
        "link": host_url(host, report_path(sub.report, sub.params or {})),
        "manage_link": host_url(host, subscriptions_path()),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("reports/email/report.txt", context),
        from_email=sender(tenant),
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string("reports/email/report.html", context), "text/html")
    message.attach(exporting.file_name(report, "csv"), exporting.report_csv(report), "text/csv")
    message.attach(exporting.file_name(report, "pdf"), pdf, exporting.PDF_TYPE)
    return message


def run(subscription_id: int) -> dt.datetime | None:
    """The job handler: send the subscription's report, record the run, and return when it
    is due again (None, and the job ends, for a subscription deleted or paused). Raises on
    any failure (the report cannot be built, the mail server refuses): the job machinery
    retries it, and `record_outcomes` shows the failure on the subscription."""
    sub = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=subscription_id)
        .first()
    )
    if sub is None or not sub.active:
        return None
    now = timezone.now()
    sub.next_run_at = next_run(sub, now)
    if not sub.user.is_active:
        # Someone who lost access gets nothing; should they come back, the schedule goes on.
        sub.last_error = f"Not sent on {now:%Y-%m-%d}: the account is deactivated."
        sub.save(update_fields=["next_run_at", "last_error"])
        return sub.next_run_at
    message = build_email(sub, now=now)
    sub.last_run_at = now
    sub.last_status = RunStatus.SENT
    sub.last_error = ""
    sub.save(update_fields=["next_run_at", "last_run_at", "last_status", "last_error"])
    # Last: a refused send raises and rolls the record of the run back with the job.
    message.send(fail_silently=False)
    return sub.next_run_at


def record_outcomes(*, now: dt.datetime | None = None) -> int:
    """Show on each subscription what the job machinery did with its failed runs: a job
    waiting to retry makes it "Failed, will retry" with the error; a run whose retries are
    spent (a FailedTask) makes it "Failed" and schedules its next regular run. Called by the
    delivery task after each batch. Returns how many subscriptions changed."""
    from apps.core.models import FailedTask
    from tenants.models import ScheduledJob

    moment = now or timezone.now()
    changed = 0
    waiting = ScheduledJob.objects.filter(
        schema_name=connection.schema_name, kind=KIND, attempts__gt=0
    ).values_list("object_id", "last_error", "due_at")
    for object_id, error, due_at in waiting:
        changed += (
            Subscription.objects.filter(pk=object_id)
            .exclude(last_status=RunStatus.RETRYING, last_error=error[:MAX_ERROR])
            .update(
                last_status=RunStatus.RETRYING,
                last_error=error[:MAX_ERROR],
                last_run_at=moment,
                next_run_at=due_at,
            )
        )
    failures = FailedTask.objects.filter(
        job_kind=KIND, created_at__gte=moment - FAILURE_LOOKBACK
    ).order_by("created_at")
    for failure in failures:
        if failure.object_id is None:
            continue
        sub = Subscription.objects.select_related("user").filter(pk=failure.object_id).first()
        if sub is None or (sub.last_run_at is not None and sub.last_run_at >= failure.created_at):
            continue  # already shown, or followed by a later run
        with transaction.atomic():
            sub.last_status = RunStatus.FAILED
            sub.last_error = failure.error[:MAX_ERROR]
            sub.last_run_at = failure.created_at
            sub.save(update_fields=["last_status", "last_error", "last_run_at"])
            queued = ScheduledJob.objects.filter(
                schema_name=connection.schema_name, kind=KIND, object_id=sub.pk
            ).exists()
            if not queued:  # (a "Send now" since the failure keeps its own run)
                _reschedule(sub, now=moment)
        changed += 1
    return changed
