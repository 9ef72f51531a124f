"""What every CRM record type shares: custom field definitions, tags, saved views, timeline
entries and merges. Records name their type by an entity key (`contact`, `company`, and later
`deal`, `lead`, `activity`)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, GistIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class Entity(models.TextChoices):
    CONTACT = "contact", "Contact"
    COMPANY = "company", "Company"
    DEAL = "deal", "Deal"
    LEAD = "lead", "Lead"
    ACTIVITY = "activity", "Activity"


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    LONG_TEXT = "long_text", "Long text"
    NUMBER = "number", "Number"
    DECIMAL = "decimal", "Decimal"
    CURRENCY = "currency", "Currency"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    BOOLEAN = "boolean", "Yes / no"
    SELECT = "select", "Single select"
    MULTI_SELECT = "multi_select", "Multi select"
    URL = "url", "URL"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    USER = "user", "User"


class RecordBase(models.Model):
    """Columns every record type carries. `custom_fields` holds validated values keyed by each
    definition's key (GIN-indexed for `@>` filters); `search_text` is the lower-cased text the
    global search matches by trigram and full text."""

    custom_fields = models.JSONField(default=dict, blank=True)
    # The record's id in the system it was imported from; imports can match on it.
    external_id = models.CharField("external id", max_length=100, blank=True, default="")
    search_text = models.TextField(default="", blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class CustomField(models.Model):
    entity = models.CharField(max_length=20, choices=Entity.choices)
    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=20, choices=FieldType.choices)
    required = models.BooleanField(default=False)
    default = models.JSONField(null=True, blank=True)
    help_text = models.CharField(max_length=300, blank=True)
    options = models.JSONField(default=list, blank=True)
    order = models.PositiveIntegerField(default=0)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entity", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "key"], name="customfield_entity_key")
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_entity_display()})"


class Tag(models.Model):
    name = models.CharField(max_length=50)
    color = models.CharField(max_length=7, default="#64748b")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_ci")]

    def __str__(self) -> str:
        return self.name


class SavedView(models.Model):
    """A named list filter: the query string of a list page, its columns and ordering."""

    entity = models.CharField(max_length=20, choices=Entity.choices)
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    shared = models.BooleanField(default=False, help_text="Visible to everyone in the team.")
    query = models.CharField(max_length=2000, blank=True)
    columns = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class TimelineKind(models.TextChoices):
    NOTE = "note", "Note"
    CHANGE = "change", "Field change"
    LINK = "link", "Link"
    MERGE = "merge", "Merge"
    ACTIVITY = "activity", "Activity"


class TimelineEntry(models.Model):
    """Notes, links added or removed and merges on a record. Field changes come from the
    records' history tables; the timeline reads both."""

    entity = models.CharField(max_length=20, choices=Entity.choices)
    record_id = models.BigIntegerField()
    kind = models.CharField(max_length=20, choices=TimelineKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    body = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["entity", "record_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on {self.entity} {self.record_id}"


class Merge(models.Model):
    """One merge of records into a survivor, with what it moved, so it can be undone."""

    entity = models.CharField(max_length=20, choices=Entity.choices)
    survivor_id = models.BigIntegerField()
    merged_ids = models.JSONField(default=list)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    snapshot = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Merge of {self.merged_ids} into {self.entity} {self.survivor_id}"


class DuplicateDismissal(models.Model):
    """A pair a user said is not a duplicate; the duplicates page stops listing it."""

    entity = models.CharField(max_length=20, choices=Entity.choices)
    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "low_id", "high_id"], name="dismissal_pair")
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.low_id} and {self.high_id} are not duplicates"


def record_indexes(prefix: str) -> list[models.Index]:
    """The indexes every record table needs for custom-field filters and search."""
    from django.contrib.postgres.search import SearchVector

    return [
        GinIndex(fields=["custom_fields"], opclasses=["jsonb_path_ops"], name=f"{prefix}_cf_gin"),
        GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name=f"{prefix}_trgm"),
        GinIndex(SearchVector("search_text", config="simple"), name=f"{prefix}_fts"),
        models.Index(
            fields=["external_id"], name=f"{prefix}_external_id", condition=~Q(external_id="")
        ),
    ]


class SearchWord(models.Model):
    """Every word that appears in the organisation's records (names, titles, companies,
    cities; not emails or numbers). Typo-tolerant search looks misspelt words up here by
    trigram distance (a small table), then searches records by full text for the words found:
    fast on millions of records, unlike trigram similarity over the records themselves."""

    word = models.CharField(max_length=40, primary_key=True)

    class Meta:
        indexes = [GistIndex(fields=["word"], opclasses=["gist_trgm_ops"], name="searchword_trgm")]

    def __str__(self) -> str:
        return self.word
