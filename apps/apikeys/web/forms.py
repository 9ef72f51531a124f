from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from apps.accounts.roles import Role

from ..scopes import parse_scopes


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “Website forms”.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ADMIN)
    scopes = forms.CharField(
        required=False,
        help_text="Optional, e.g. “contacts:read deals:write”. Empty: the role's full reach.",
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires in (days)",
        help_text="Optional; empty means it never expires.",
    )

    def clean_scopes(self) -> list[str]:
        try:
            return parse_scopes(self.cleaned_data["scopes"] or "")
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
