"""Activities: tasks, notes, meetings, calls and logged emails, linked to any contacts,
companies, deals and leads. The assignee is the activity's owner (the visibility rule's
`owner`); `scheduled_at` is the moment the calendar and "My day" sort and filter by."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from apps.records.models import RecordBase, Tag, record_indexes


class ActivityType(models.TextChoices):
    TASK = "task", "Task"
    NOTE = "note", "Note"
    MEETING = "meeting", "Meeting"
    CALL = "call", "Call"
    EMAIL = "email", "Email"


class Outcome(models.TextChoices):
    NONE = "", "—"
    COMPLETED = "completed", "Completed"
    CONNECTED = "connected", "Connected"
    NO_ANSWER = "no_answer", "No answer"
    LEFT_VOICEMAIL = "left_voicemail", "Left voicemail"
    BUSY = "busy", "Busy"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No show"


class Activity(RecordBase):
    type = models.CharField(max_length=10, choices=ActivityType.choices, default=ActivityType.TASK)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    # Tasks, calls and emails have a due moment; meetings a start and an end.
    due_at = models.DateTimeField(null=True, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    all_day = models.BooleanField(default=False)
    # start_at, else due_at, else created_at: kept by the services for indexed range queries.
    scheduled_at = models.DateTimeField(db_index=True)
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="activities",
        verbose_name="assignee",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    location = models.CharField(max_length=300, blank=True)
    contacts = models.ManyToManyField("contacts.Contact", blank=True, related_name="activities")
    companies = models.ManyToManyField("companies.Company", blank=True, related_name="activities")
    deals = models.ManyToManyField("deals.Deal", blank=True, related_name="activities")
    leads = models.ManyToManyField("leads.Lead", blank=True, related_name="activities")
    tags = models.ManyToManyField(Tag, blank=True, related_name="activities")

    history = HistoricalRecords(excluded_fields=["search_text", "updated_at", "created_at"])

    class Meta:
        ordering = ["scheduled_at", "id"]
        verbose_name_plural = "activities"
        indexes = [
            *record_indexes("activity"),
            # Reports group a period's activities by type, assignee or outcome from these two
            # alone (index-only scans), for everyone and for a set of owners.
            models.Index(
                fields=["owner", "scheduled_at"],
                name="activity_owner_when",
                include=["type", "done", "outcome"],
            ),
            models.Index(
                fields=["scheduled_at"],
                name="activity_when_cover",
                include=["type", "done", "outcome", "owner"],
            ),
            models.Index(fields=["owner", "done", "scheduled_at"], name="activity_owner_open"),
            # Reports: activities done in a period, and the open ones past their time.
            models.Index(
                fields=["done_at"], name="activity_done_at", condition=models.Q(done=True)
            ),
            models.Index(
                fields=["owner", "done_at"],
                name="activity_owner_done_at",
                condition=models.Q(done=True),
            ),
            models.Index(
                fields=["scheduled_at"], name="activity_open_when", condition=models.Q(done=False)
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_overdue(self) -> bool:
        from django.utils import timezone

        when = self.due_at or self.end_at or self.start_at
        return not self.done and when is not None and when < timezone.now()


class CalendarFeed(models.Model):
    """A user's private iCalendar feed. Only the token's SHA-256 is stored; revoking deletes
    the row, so the old URL answers 404 at once."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user_id} ({self.prefix}…)"


class ActivityUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Activity, on_delete=models.CASCADE)


class ActivityGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Activity, on_delete=models.CASCADE)


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    # Its moment had already passed when the activity was saved (nothing to remind of).
    SKIPPED = "skipped", "Skipped"
    # The activity was done (or lost its time) before the reminder fell due.
    CANCELLED = "cancelled", "Cancelled"


class Reminder(models.Model):
    """A reminder of an activity, `minutes_before` its start (or due) moment, to its assignee.
    The delivery schedule is a tenants.ScheduledJob written in the same transaction."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="reminders")
    minutes_before = models.PositiveIntegerField()
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders"
    )
    remind_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["minutes_before"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "minutes_before"], name="reminder_one_per_offset"
            )
        ]
        indexes = [models.Index(fields=["status", "remind_at"], name="reminder_due")]

    def __str__(self) -> str:
        return f"Reminder {self.minutes_before} min before {self.activity_id}"
