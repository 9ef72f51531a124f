"""Form pieces every record type shares: custom fields as form fields, tags as a comma list."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.models import Team, User

from .. import customfields
from ..models import CustomField, FieldType, Tag


def _choices(field: CustomField) -> list[tuple[str, str]]:
    return [(o, o) for o in field.options]


def form_field(field: CustomField) -> forms.Field:
    """The Django form field for a custom field definition (validation stays in the
    service: the form only collects text)."""
    common: dict[str, Any] = {
        "label": field.label,
        "required": False,
        "help_text": field.help_text + (" (required)" if field.required else ""),
    }
    kind = field.type
    if kind == FieldType.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if kind == FieldType.BOOLEAN:
        return forms.ChoiceField(choices=[("", "—"), ("true", "Yes"), ("false", "No")], **common)
    if kind == FieldType.SELECT:
        return forms.ChoiceField(choices=[("", "—"), *_choices(field)], **common)
    if kind == FieldType.MULTI_SELECT:
        return forms.MultipleChoiceField(
            choices=_choices(field), widget=forms.CheckboxSelectMultiple, **common
        )
    if kind == FieldType.USER:
        users = [(str(u.pk), u.get_full_name()) for u in User.objects.filter(is_active=True)]
        return forms.ChoiceField(choices=[("", "—"), *users], **common)
    widgets: dict[str, forms.Widget] = {
        FieldType.DATE: forms.DateInput(attrs={"type": "date"}),
        FieldType.DATETIME: forms.DateTimeInput(attrs={"type": "datetime-local"}),
        FieldType.NUMBER: forms.TextInput(attrs={"inputmode": "decimal"}),
        FieldType.DECIMAL: forms.TextInput(attrs={"inputmode": "decimal"}),
        FieldType.CURRENCY: forms.TextInput(attrs={"inputmode": "decimal"}),
        FieldType.EMAIL: forms.EmailInput(),
        FieldType.URL: forms.URLInput(),
        FieldType.PHONE: forms.TextInput(attrs={"type": "tel"}),
    }
    widget = widgets.get(kind, forms.TextInput())
    return forms.CharField(widget=widget, max_length=10_000, **common)


def _initial(field: CustomField, value: Any) -> Any:
    if value is None:
        return None
    if field.type == FieldType.BOOLEAN:
        return "true" if value else "false"
    if field.type == FieldType.DATETIME:
        return str(value)[:16]
    return value


class RecordForm(forms.Form):
    """Adds the entity's custom fields (`cf_<key>`) and a `tags` field to a record form."""

    entity = ""
    tags = forms.CharField(
        required=False, help_text="Comma-separated; new tags are created.", max_length=2000
    )

    def __init__(self, *args: Any, record: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.custom = customfields.definitions(self.entity)
        for field in self.custom:
            name = f"cf_{field.key}"
            self.fields[name] = form_field(field)
            if record is not None:
                self.initial[name] = _initial(field, record.custom_fields.get(field.key))
            elif field.default is not None:
                self.initial[name] = _initial(field, field.default)
        if record is not None:
            self.initial["tags"] = ", ".join(t.name for t in record.tags.all())
        self.fields["tags"].widget.attrs["list"] = "tag-names"

    def custom_values(self) -> dict[str, Any]:
        return {f.key: self.cleaned_data.get(f"cf_{f.key}") for f in self.custom}

    def tag_names(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Put a service's ValidationError next to the fields it names."""
        for key, messages in errors.items():
            name = key.replace("custom_fields.", "cf_")
            if name == "emails":
                name = "emails" if "emails" in self.fields else "email"
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)

    @staticmethod
    def all_tags() -> list[str]:
        return list(Tag.objects.values_list("name", flat=True))


class ShareForm(forms.Form):
    who = forms.ChoiceField(label="Share with")
    level = forms.ChoiceField(choices=[("view", "Can view"), ("edit", "Can edit")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = [(f"user:{u.pk}", u.get_full_name()) for u in User.objects.filter(is_active=True)]
        teams = [(f"team:{t.pk}", f"Team {t.name}") for t in Team.objects.all()]
        self.fields["who"].choices = [("", "Choose…"), *users, *teams]  # type: ignore[attr-defined]

    def target(self) -> dict[str, Any]:
        kind, _, pk = self.cleaned_data["who"].partition(":")
        return (
            {"user": User.objects.get(pk=pk)}
            if kind == "user"
            else {"team": Team.objects.get(pk=pk)}
        )


def split_lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]
