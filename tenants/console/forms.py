from __future__ import annotations

from django import forms

from tenants.models import Plan
from tenants.provisioning import slug_check_available


class TenantCreateForm(forms.Form):
    name = forms.CharField(label="Organisation name", max_length=200)
    slug = forms.CharField(label="Address (subdomain)", max_length=40)
    owner_email = forms.EmailField(label="Owner email")
    owner_password = forms.CharField(
        label="Owner password",
        required=False,
        strip=False,
        widget=forms.PasswordInput,
        help_text="Optional; without one the owner cannot sign in until a password is set.",
    )
    plan = forms.ChoiceField(choices=Plan.choices, initial=Plan.FREE)

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"].strip()
        slug_check_available(slug)
        return slug


class TenantDeleteForm(forms.Form):
    confirmation = forms.CharField(
        label="Type the organisation's address to confirm", max_length=40
    )


class SuspendForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False)
