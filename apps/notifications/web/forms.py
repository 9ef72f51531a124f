"""The notification settings form: email per kind, and default reminders as presets."""

from __future__ import annotations

from typing import Any

from django import forms

from ..models import NotificationSettings

# (minutes before, label): the presets a new activity's reminders are chosen from.
REMINDER_PRESETS: list[tuple[int, str]] = [
    (0, "At the time"),
    (5, "5 minutes before"),
    (10, "10 minutes before"),
    (15, "15 minutes before"),
    (30, "30 minutes before"),
    (60, "1 hour before"),
    (120, "2 hours before"),
    (1440, "1 day before"),
    (2880, "2 days before"),
    (10080, "1 week before"),
]


class NotificationSettingsForm(forms.Form):
    email_reminders = forms.BooleanField(required=False, label="Reminders of my activities")
    email_assignments = forms.BooleanField(
        required=False, label="Records assigned to me by someone else"
    )
    email_mentions = forms.BooleanField(required=False, label="Mentions of me in activities")
    default_reminders = forms.TypedMultipleChoiceField(
        required=False,
        coerce=int,
        choices=[(str(minutes), label) for minutes, label in REMINDER_PRESETS],
        widget=forms.CheckboxSelectMultiple,
        label="Default reminders for my new activities",
        help_text="Choose up to 5. None means no reminder unless you add one.",
    )

    @classmethod
    def for_settings(cls, row: NotificationSettings, data: Any = None) -> NotificationSettingsForm:
        form = cls(
            data=data,
            initial={
                "email_reminders": row.email_reminders,
                "email_assignments": row.email_assignments,
                "email_mentions": row.email_mentions,
                "default_reminders": [str(m) for m in row.default_reminders or []],
            },
        )
        # Reminders saved through the API that are no preset still show, and can be unticked.
        presets = {minutes for minutes, _ in REMINDER_PRESETS}
        saved = [m for m in row.default_reminders or [] if m not in presets]
        field = form.fields["default_reminders"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = [
            (str(minutes), label)
            for minutes, label in sorted(
                [*REMINDER_PRESETS, *((m, minutes_label(m)) for m in saved)]
            )
        ]
        return form


def minutes_label(minutes: int) -> str:
    """'At the time', '45 minutes before', '1 hour before', '3 days before', ..."""
    if minutes == 0:
        return "At the time"
    for size, unit in ((10080, "week"), (1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''} before"
    return f"{minutes} minutes before"  # pragma: no cover - every whole number divides by 1
