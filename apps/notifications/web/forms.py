"""The notification settings form: email per kind, and default reminders as presets."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.activities.reminders import PRESETS as REMINDER_PRESETS
from apps.activities.reminders import describe as minutes_label

from ..models import NotificationSettings


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
