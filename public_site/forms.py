from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tenants.provisioning import slug_check_available


class SignupForm(forms.Form):
    organisation = forms.CharField(label="Organisation name", max_length=200)
    slug = forms.CharField(label="Workspace address", max_length=40)
    full_name = forms.CharField(label="Your name", max_length=200)
    email = forms.EmailField(label="Work email")
    password = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].help_text = (
            "Lowercase letters, digits and hyphens, e.g. acme for "
            f"acme.{settings.KESTREL_BASE_DOMAIN}"
        )

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"].strip()
        slug_check_available(slug)
        return slug

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password = data.get("password")
        if password:
            try:
                validate_password(password)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


class FindWorkspaceForm(forms.Form):
    email = forms.EmailField(label="Your work email")
