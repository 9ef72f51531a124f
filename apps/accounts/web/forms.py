from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from ..models import User
from ..roles import Role

LOCALES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("it", "Italiano"),
    ("nl", "Nederlands"),
    ("pt", "Português"),
]


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.REP)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(label="Your name", max_length=200)
    password = forms.CharField(label="Choose a password", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        try:
            validate_password(password, User(email=self.email))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return password


class ProfileForm(forms.ModelForm):  # type: ignore[type-arg,unused-ignore]  # not subscriptable at run time
    time_zone = forms.ChoiceField(choices=[(z, z) for z in sorted(zoneinfo.available_timezones())])
    locale = forms.ChoiceField(choices=LOCALES, label="Language")

    class Meta:
        model = User
        fields = ["full_name", "time_zone", "locale"]


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    manager = forms.ModelChoiceField(queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = User.objects.filter(is_active=True)  # type: ignore[attr-defined]


class TeamMembersForm(forms.Form):
    manager = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        active = User.objects.filter(is_active=True)
        self.fields["manager"].queryset = active  # type: ignore[attr-defined]
        self.fields["members"].queryset = active  # type: ignore[attr-defined]
