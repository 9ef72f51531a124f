"""The import pages' forms: the upload, and the column mapping with its options."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.records.models import Entity

from .. import fields as f
from ..models import ImportJob, MatchOn, Mode
from ..reading import max_file_bytes
from ..widgets import Locale

ACCEPT = ",".join(
    (".csv", ".txt", ".tsv", ".xlsx", ".json", "text/csv", "application/json",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
)  # fmt: skip

# The locales offered for reading dates and numbers; a job's own locale (taken from its
# uploader's profile) is added when it is none of these.
LOCALES = (
    ("en", "English (US)"),
    ("en-GB", "English (UK)"),
    ("de", "German"),
    ("fr", "French"),
    ("es", "Spanish"),
    ("it", "Italian"),
    ("nl", "Dutch"),
    ("pt", "Portuguese"),
    ("pl", "Polish"),
    ("sv", "Swedish"),
)


def megabytes(size: int) -> str:
    return f"{size / 1_048_576:.0f} MB"


def locale_choices(current: str = "") -> list[tuple[str, str]]:
    codes = [code for code, _ in LOCALES]
    offered = list(LOCALES)
    if current and current not in codes:
        offered.append((current, current))
    return [(code, _locale_label(code, name)) for code, name in offered]


def _locale_label(code: str, name: str) -> str:
    reading = Locale(code)
    example = "31/12/2026" if reading.day_first else "12/31/2026"
    return f"{name}: {example}, {reading.number_hint}"


class UploadForm(forms.Form):
    entity = forms.ChoiceField(label="Record type", choices=Entity.choices)
    file = forms.FileField(
        label="File to import",
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )
    mode = forms.ChoiceField(
        label="What to do with the rows",
        choices=Mode.choices,
        initial=Mode.UPSERT,
        widget=forms.RadioSelect,
    )

    def __init__(
        self, *args: Any, entities: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if entities is not None:
            # Only the record types this person may create records of.
            self._choice("entity").choices = entities
        self.fields["file"].help_text = (
            f"CSV, Excel (.xlsx) or JSON, up to {megabytes(max_file_bytes())}. "
            "The first row names the columns."
        )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = max_file_bytes()
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size / 1_048_576:.1f} MB; the limit is {megabytes(limit)}. "
                "Split it into smaller files.",
                code="file_too_large",
            )
        return upload

    def _choice(self, name: str) -> forms.ChoiceField:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field


def field_groups(spec: f.Spec) -> list[tuple[str, list[tuple[str, str]]]]:
    """The fields a column can go to, grouped as the mapping's <select> shows them."""
    plain: list[tuple[str, str]] = []
    custom: list[tuple[str, str]] = []
    links: list[tuple[str, str]] = []
    for item in spec.fields:
        if item.kind == f.CUSTOM:
            custom.append((item.name, item.label))
        elif item.kind in (f.LINK, f.TAGS) or item.name == "owner":
            links.append((item.name, item.label))
        else:
            plain.append((item.name, item.label))
    groups = [("Fields", plain), ("Custom fields", custom), ("Links", links)]
    return [(label, choices) for label, choices in groups if choices]


class MappingForm(forms.Form):
    """One <select> per column of the file (named `map-<n>`, as headers can be any text),
    plus what to match existing records on, the mode and the locale."""

    match_on = forms.ChoiceField(label="Match existing records on")
    mode = forms.ChoiceField(label="What to do with the rows", choices=Mode.choices)
    locale = forms.ChoiceField(label="Dates and numbers are written in")

    def __init__(self, *args: Any, job: ImportJob, spec: f.Spec, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {"match_on": job.match_on, "mode": job.mode, "locale": job.locale},
        )
        super().__init__(*args, **kwargs)
        self.job = job
        self.spec = spec
        choices: list[Any] = [("", "Don't import")]
        choices += [(group, list(options)) for group, options in field_groups(spec)]
        for index, header in enumerate(job.headers):
            self.fields[f"map-{index}"] = forms.ChoiceField(
                label=header,
                choices=choices,
                required=False,
                initial=job.mapping.get(header, ""),
            )
        match_labels = dict(MatchOn.choices)
        match_on = self.fields["match_on"]
        assert isinstance(match_on, forms.ChoiceField)
        match_on.choices = [(key, match_labels.get(key, key)) for key in ("none", *spec.match)]
        match_on.help_text = (
            "Rows whose value is already on a record update that record (or are skipped when "
            "only creating)."
        )
        locale = self.fields["locale"]
        assert isinstance(locale, forms.ChoiceField)
        locale.choices = locale_choices(job.locale)

    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"map-{index}"] for index in range(len(self.job.headers))]

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data.get(f"map-{index}") or ""
            for index, header in enumerate(self.job.headers)
        }
