"""What a person is told about: a reminder falling due, a record assigned to them, a mention in
an activity. One row per person and event; `dedupe_key` (when given) makes the same event
impossible to record twice, whoever races to record it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NotificationKind(models.TextChoices):
    REMINDER = "reminder", "Reminder"
    ASSIGNMENT = "assignment", "Assignment"
    MENTION = "mention", "Mention"


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    # A path on the organisation's own host (e.g. "/deals/12/"); never an absolute URL.
    url = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=160, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


def default_reminders() -> list[int]:
    return [15]


class NotificationSettings(models.Model):
    """A person's choices: which kinds also come by email, and the reminders (minutes before)
    a new activity of theirs starts with. No row means every default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    email_reminders = models.BooleanField(default=True)
    email_assignments = models.BooleanField(default=True)
    email_mentions = models.BooleanField(default=True)
    default_reminders = models.JSONField(default=default_reminders, blank=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.user_id}"

    def wants_email(self, kind: str) -> bool:
        return bool(
            {
                NotificationKind.REMINDER: self.email_reminders,
                NotificationKind.ASSIGNMENT: self.email_assignments,
                NotificationKind.MENTION: self.email_mentions,
            }.get(NotificationKind(kind), False)
        )
