"""Report subscriptions: when they run (in the subscriber's time zone), what they refuse, and a
run through the real scheduled-job path (the delivery task, `jobs.deliver_due`, the handler):
the email carries the CSV and a PDF with the subscriber's figures, the run is recorded and
scheduled again; a failed run is retried, shown, then recorded as a failed background job;
a deactivated subscriber gets nothing."""

from __future__ import annotations

import csv
import io
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone
from pypdf import PdfReader

from apps.audit.models import AuditEntry
from apps.core.models import FailedTask
from apps.deals.services import deal_create, pipeline_default
from apps.reports import registry
from apps.reports import subscriptions as subs
from apps.reports.models import Cadence, RunStatus, Subscription
from apps.reports.tasks import deliver_subscriptions
from tenants import jobs
from tenants.db import connection
from tenants.models import ScheduledJob
from tests.deals.conftest import ctx, people  # noqa: F401

KIND = subs.KIND


def job_of(sub: Subscription) -> ScheduledJob | None:
    return ScheduledJob.objects.filter(
        schema_name=connection.schema_name, kind=KIND, object_id=sub.pk
    ).first()


def make_due(sub: Subscription) -> None:
    ScheduledJob.objects.filter(
        schema_name=connection.schema_name, kind=KIND, object_id=sub.pk
    ).update(due_at=timezone.now() - timedelta(seconds=1))


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def attachments(message: Any) -> dict[str, tuple[bytes, str]]:
    found = {}
    for name, content, mimetype in message.attachments:
        found[name] = (content if isinstance(content, bytes) else content.encode(), mimetype)
    return found


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- when ------------------------------------------------------------------------------------


def _sub(user: Any, **fields: Any) -> Subscription:
    sub = Subscription(user=user, report="pipeline-by-stage", **fields)
    return sub


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # Sunday 15 March 2026, 12:00 UTC: Monday 08:00 in Berlin (CET, UTC+1) is 07:00 UTC.
        (datetime(2026, 3, 15, 12, tzinfo=UTC), datetime(2026, 3, 16, 7, tzinfo=UTC)),
        # Monday 07:00 UTC exactly: that run is not "after", so the next Monday.
        (datetime(2026, 3, 16, 7, tzinfo=UTC), datetime(2026, 3, 23, 7, tzinfo=UTC)),
        # Across the clock change (29 March): 08:00 CEST (UTC+2) is 06:00 UTC.
        (datetime(2026, 3, 23, 8, tzinfo=UTC), datetime(2026, 3, 30, 6, tzinfo=UTC)),
    ],
)
def test_weekly_runs_at_the_hour_of_the_subscribers_zone(
    people: Any,  # noqa: F811
    after: datetime,
    expected: datetime,
) -> None:
    people.owner.time_zone = "Europe/Berlin"
    sub = _sub(people.owner, cadence=Cadence.WEEKLY, weekday=0, hour=8)
    assert subs.next_run(sub, after) == expected


def test_daily_and_monthly_runs(people: Any) -> None:  # noqa: F811
    people.owner.time_zone = "America/New_York"
    daily = _sub(people.owner, cadence=Cadence.DAILY, hour=7)
    # 10:00 UTC on 1 July is 06:00 in New York (EDT): today at 07:00 local, 11:00 UTC.
    assert subs.next_run(daily, datetime(2026, 7, 1, 10, tzinfo=UTC)) == datetime(
        2026, 7, 1, 11, tzinfo=UTC
    )
    assert subs.next_run(daily, datetime(2026, 7, 1, 11, tzinfo=UTC)) == datetime(
        2026, 7, 2, 11, tzinfo=UTC
    )
    monthly = _sub(people.owner, cadence=Cadence.MONTHLY, day=28, hour=0)
    # 28 January 00:00 in New York (EST) is 05:00 UTC; after it, 28 February.
    assert subs.next_run(monthly, datetime(2026, 1, 20, tzinfo=UTC)) == datetime(
        2026, 1, 28, 5, tzinfo=UTC
    )
    assert subs.next_run(monthly, datetime(2026, 1, 28, 5, tzinfo=UTC)) == datetime(
        2026, 2, 28, 5, tzinfo=UTC
    )
    # December rolls into January of the next year.
    assert subs.next_run(monthly, datetime(2026, 12, 29, tzinfo=UTC)) == datetime(
        2027, 1, 28, 5, tzinfo=UTC
    )


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"report": "nope"}, "report", "There is no report 'nope'"),
        ({"cadence": "hourly"}, "cadence", "Choose how often"),
        ({"hour": 24}, "hour", "0 to 23"),
        ({"hour": "8.5"}, "hour", "0 to 23"),
        ({"weekday": 7}, "weekday", "0 (Monday) to 6 (Sunday)"),
        ({"day": 31}, "day", "1 to 28"),
        ({"params": {"colour": "red"}}, "params", "Unknown filter 'colour'"),
        ({"params": {"period": "fortnight"}}, "params", "Unknown period 'fortnight'"),
        ({"params": {"pipeline": "999999"}}, "params", "There is no pipeline with id 999999"),
        ({"params": "period=last_week"}, "params", "as an object of query parameters"),
    ],
)
def test_subscribe_refuses_with_clear_words(
    people: Any,  # noqa: F811
    fields: dict[str, Any],
    field: str,
    words: str,
) -> None:
    arguments = {"report": "pipeline-by-stage", "cadence": Cadence.WEEKLY, **fields}
    with pytest.raises(ValidationError) as caught:
        subs.subscribe(actor=people.rep, **arguments)
    assert field in caught.value.message_dict
    assert any(words in m for m in caught.value.message_dict[field]), caught.value.message_dict
    assert not Subscription.objects.exists()
    assert not ScheduledJob.objects.filter(kind=KIND).exists()


def test_a_custom_range_is_kept_as_the_reports_read_it(people: Any) -> None:  # noqa: F811
    sub = subs.subscribe(
        actor=people.rep,
        report="won-lost",
        params={"from": "2026-01-01", "to": "2026-03-31"},
        cadence="monthly",
    )
    assert sub.params == {"period": "custom", "start": "2026-01-01", "end": "2026-03-31"}
    assert subs.filters_words(sub)[0] == "Period: 2026-01-01 to 2026-03-31"
    with pytest.raises(ValidationError) as caught:
        subs.subscribe(
            actor=people.rep,
            report="won-lost",
            params={"from": "2026-04-01", "to": "2026-03-01"},
            cadence="daily",
        )
    assert "before its first day" in str(caught.value)


def test_subscribe_schedules_a_job_at_the_next_run_and_is_audited(people: Any) -> None:  # noqa: F811
    sub = subs.subscribe(
        actor=people.rep,
        report="pipeline-by-stage",
        params={"period": "this_month"},
        cadence="daily",
    )
    job = job_of(sub)
    assert job is not None and sub.next_run_at is not None
    assert job.due_at == sub.next_run_at > timezone.now()
    entry = AuditEntry.objects.get(action="report_subscription.created")
    assert entry.actor == people.rep and entry.target_id == str(sub.pk)
    assert entry.detail["report"] == "pipeline-by-stage"


def test_only_the_subscriber_changes_sends_or_deletes(people: Any) -> None:  # noqa: F811
    sub = subs.subscribe(actor=people.rep, report="pipeline-by-stage", cadence="weekly")
    # An Admin sees every subscription, but does not change someone else's.
    assert subs.subscription_get(user=people.admin, pk=sub.pk) == sub
    for attempt in (
        lambda: subs.update(actor=people.admin, sub=sub, hour=9),
        lambda: subs.send_now(actor=people.admin, sub=sub),
        lambda: subs.delete(actor=people.admin, sub=sub),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    # Another rep does not even see it.
    assert sub not in subs.subscription_list(user=people.rep2)
    sub.refresh_from_db()
    assert sub.hour == 8


def test_update_pause_resume_and_delete_keep_the_job_in_step(people: Any) -> None:  # noqa: F811
    sub = subs.subscribe(actor=people.rep, report="pipeline-by-stage", cadence="weekly", hour=8)
    sub = subs.update(actor=people.rep, sub=sub, cadence="monthly", day=3, hour=18)
    job = job_of(sub)
    assert job is not None and job.due_at == sub.next_run_at
    assert sub.next_run_at is not None
    assert sub.next_run_at.astimezone(UTC).day == 3 and sub.next_run_at.hour == 18  # rep: UTC
    sub = subs.update(actor=people.rep, sub=sub, active=False)
    assert job_of(sub) is None and sub.next_run_at is None
    with pytest.raises(ValidationError):
        subs.send_now(actor=people.rep, sub=sub)
    sub = subs.update(actor=people.rep, sub=sub, active=True)
    assert job_of(sub) is not None
    subs.delete(actor=people.rep, sub=sub)
    assert job_of(sub) is None and not Subscription.objects.filter(pk=sub.pk).exists()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"report_subscription.updated", "report_subscription.deleted"} <= actions


# --- running ---------------------------------------------------------------------------------


@pytest.fixture
def deals(people: Any) -> Any:  # noqa: F811
    """The owner's deal worth 7,000.00 and the rep's worth 1,250.00, both open."""
    pipeline_default()
    deal_create(actor=people.owner, title="Owner's deal", value="7000", owner=people.owner)
    deal_create(actor=people.rep, title="Rep's deal", value="1250", owner=people.rep)
    return people


def test_a_due_subscription_is_emailed_with_csv_and_pdf_as_the_subscriber(deals: Any) -> None:
    deals.rep.time_zone = "Europe/Berlin"
    deals.rep.save(update_fields=["time_zone"])
    sub = subs.subscribe(
        actor=deals.rep,
        report="pipeline-by-stage",
        params={"period": "this_month"},
        cadence="weekly",
    )
    make_due(sub)
    mail.outbox.clear()

    assert deliver_subscriptions() == 1

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [deals.rep.email]
    assert "Alpha Ltd" in message.from_email
    assert message.subject.startswith("Pipeline by stage")
    html = str(message.alternatives[0][0])  # type: ignore[attr-defined]
    assert "1,250.00" in html and "Every Monday at 08:00 (Europe/Berlin)" in message.body
    assert (
        "alpha.localhost" in message.body
        and "/reports/pipeline-by-stage/?period=this_month" in message.body
    )
    assert "/reports/subscriptions/" in message.body  # where to change or stop it
    files = attachments(message)
    csv_name = next(name for name in files if name.endswith(".csv"))
    pdf_name = next(name for name in files if name.endswith(".pdf"))
    assert files[csv_name][1] == "text/csv" and files[pdf_name][1] == "application/pdf"
    rows = list(csv.reader(io.StringIO(files[csv_name][0].decode("utf-8-sig"))))
    assert rows[0][0] == "Stage" and rows[-1][0] == "Total"
    # Built as the rep: their deal only, never the owner's.
    assert "1250.00" in rows[-1] and "7000.00" not in rows[-1]
    text = pdf_text(files[pdf_name][0])
    assert "Pipeline by stage" in text and "1,250.00" in text
    assert "7,000.00" not in text and "8,250.00" not in text
    rep_report = registry.build("pipeline", deals.rep, {"period": "this_month"}, cached=False)
    for figure in rep_report.figures:
        if figure.kind == "money":
            assert f"{figure.value:,.2f}" in text

    sub.refresh_from_db()
    assert sub.last_status == RunStatus.SENT and sub.last_error == ""
    assert sub.last_run_at is not None and sub.next_run_at is not None
    assert sub.next_run_at > timezone.now()
    job = job_of(sub)
    assert job is not None and job.due_at == sub.next_run_at and job.attempts == 0
    # Nothing is due any more: a second delivery sends nothing.
    assert deliver_subscriptions() == 0 and len(mail.outbox) == 1


def test_an_admin_subscriber_gets_every_deal(deals: Any) -> None:
    sub = subs.subscribe(actor=deals.owner, report="pipeline-by-stage", cadence="daily")
    make_due(sub)
    mail.outbox.clear()
    deliver_subscriptions()
    text = pdf_text(next(c for n, c, _ in mail.outbox[0].attachments if n.endswith(".pdf")))
    assert "8,250.00" in text


def test_send_now_runs_at_once_and_keeps_the_schedule(deals: Any) -> None:
    sub = subs.subscribe(actor=deals.rep, report="dashboard", cadence="weekly", weekday=3)
    regular = sub.next_run_at
    mail.outbox.clear()
    subs.send_now(actor=deals.rep, sub=sub)
    assert deliver_subscriptions() == 1
    assert len(mail.outbox) == 1
    sub.refresh_from_db()
    assert sub.last_status == RunStatus.SENT and sub.next_run_at == regular
    assert AuditEntry.objects.filter(action="report_subscription.sent_now").exists()


def test_a_deactivated_subscriber_gets_nothing(deals: Any) -> None:
    sub = subs.subscribe(actor=deals.rep, report="pipeline-by-stage", cadence="daily")
    deals.rep.is_active = False
    deals.rep.save(update_fields=["is_active"])
    make_due(sub)
    mail.outbox.clear()
    deliver_subscriptions()
    assert mail.outbox == []
    sub.refresh_from_db()
    assert sub.last_status == RunStatus.NEVER
    assert "deactivated" in sub.last_error
    assert job_of(sub) is not None  # should they come back, it goes on


def test_a_failed_run_retries_then_is_recorded_and_scheduled_again(deals: Any) -> None:
    sub = subs.subscribe(actor=deals.rep, report="pipeline-by-stage", cadence="weekly")
    regular = sub.next_run_at
    make_due(sub)
    unreachable = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": closed_port(),
        "EMAIL_TIMEOUT": 2,
    }
    with override_settings(**unreachable):
        deliver_subscriptions()
    sub.refresh_from_db()
    job = job_of(sub)
    assert job is not None and job.attempts == 1 and job.due_at > timezone.now()
    assert sub.last_status == RunStatus.RETRYING
    assert "ConnectionRefused" in sub.last_error
    assert sub.next_run_at == job.due_at  # the retry is the next run shown
    assert not FailedTask.objects.filter(job_kind=KIND).exists()

    # The last allowed attempt fails too: the job machinery gives up and records it.
    ScheduledJob.objects.filter(pk=job.pk).update(
        attempts=jobs.MAX_ATTEMPTS - 1, due_at=timezone.now() - timedelta(seconds=1)
    )
    with override_settings(**unreachable):
        deliver_subscriptions()
    failed = FailedTask.objects.get(job_kind=KIND, object_id=sub.pk)
    assert failed.task_name == subs.TASK and "ConnectionRefused" in failed.error
    sub.refresh_from_db()
    assert sub.last_status == RunStatus.FAILED and "ConnectionRefused" in sub.last_error
    # The subscription goes on: due again at its next regular run.
    job = job_of(sub)
    assert job is not None and job.attempts == 0 and job.due_at == sub.next_run_at == regular

    # The mail server is back: the next run is sent and clears the error.
    make_due(sub)
    mail.outbox.clear()
    deliver_subscriptions()
    assert len(mail.outbox) == 1
    sub.refresh_from_db()
    assert sub.last_status == RunStatus.SENT and sub.last_error == ""


def test_demo_seed_gives_the_owner_mondays_pipeline(people: Any) -> None:  # noqa: F811
    from apps.reports import demo

    pipeline_default()
    sub = demo.seed(people.owner)
    assert (sub.report, sub.cadence, sub.weekday, sub.hour) == ("pipeline-by-stage", "weekly", 0, 8)
    assert job_of(sub) is not None
    assert demo.seed(people.owner) == sub  # seeding again adds nothing
    assert Subscription.objects.filter(user=people.owner).count() == 1


def test_a_report_that_no_longer_exists_is_shown_as_the_reason(deals: Any) -> None:
    sub = subs.subscribe(actor=deals.rep, report="pipeline-by-stage", cadence="daily")
    Subscription.objects.filter(pk=sub.pk).update(report="gone")
    make_due(sub)
    mail.outbox.clear()
    deliver_subscriptions()
    assert mail.outbox == []
    sub.refresh_from_db()
    assert sub.last_status == RunStatus.RETRYING
    assert "There is no report 'gone' any more." in sub.last_error


def test_filters_in_words_name_people_pipelines_and_groupings(people: Any) -> None:  # noqa: F811
    pipeline = pipeline_default()
    sub = subs.subscribe(
        actor=people.owner,
        report="won-lost",
        params={
            "period": "last_quarter",
            "owner": str(people.rep.pk),
            "pipeline": pipeline.pk,
            "group": "owner",
        },
        cadence="monthly",
    )
    group_label = dict(registry.get("won-lost").groups)["owner"]
    assert subs.filters_words(sub) == [
        "Period: Last quarter",
        f"Owner: {people.rep.get_full_name()}",
        f"Pipeline: {pipeline.name}",
        f"Grouped by: {group_label}",
    ]
