"""Companies: organisations the team sells to. Like every record type: an owner, object
permissions in direct-foreign-key tables, custom fields, tags, history, one visibility rule."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from apps.records.models import RecordBase, Tag, record_indexes


class LiveManager(models.Manager):
    """Records not merged away: merged records stay, hidden, until their merge can no
    longer be undone."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(merged_into__isnull=True)


class Address(models.Model):
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True)

    class Meta:
        abstract = True


class CompanySize(models.TextChoices):
    S1 = "1-10", "1-10"
    S11 = "11-50", "11-50"
    S51 = "51-200", "51-200"
    S201 = "201-1000", "201-1,000"
    S1001 = "1001-5000", "1,001-5,000"
    S5001 = "5001+", "5,001+"


class Company(RecordBase, Address):
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True, db_index=True)
    industry = models.CharField(max_length=100, blank=True)
    size = models.CharField(max_length=20, choices=CompanySize.choices, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # Users are deactivated, never deleted, so a record always keeps its owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="companies"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="companies")
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    history = HistoricalRecords(excluded_fields=["search_text", "updated_at", "created_at"])
    all_objects = models.Manager()
    objects = LiveManager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "companies"
        default_manager_name = "objects"
        indexes = [
            *record_indexes("company"),
            models.Index(fields=["owner", "-created_at"], name="company_owner_created"),
        ]

    def __str__(self) -> str:
        return self.name


# Direct foreign keys (rather than guardian's generic table) keep sharing lookups indexed
# joins, so a list costs the same number of queries whatever its length.
class CompanyUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Company, on_delete=models.CASCADE)


class CompanyGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Company, on_delete=models.CASCADE)
