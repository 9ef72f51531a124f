"""Contacts: people, with several emails and phones, linked to companies with a role."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from apps.companies.models import Address, LiveManager
from apps.records.models import RecordBase, Tag, record_indexes


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", "Subscriber"
    LEAD = "lead", "Lead"
    MQL = "mql", "Marketing qualified"
    SQL = "sql", "Sales qualified"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    EVANGELIST = "evangelist", "Evangelist"
    OTHER = "other", "Other"


class Contact(RecordBase, Address):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # The primary email and phone, kept beside the lists so a page of contacts is one query.
    email = models.CharField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True, db_index=True)
    title = models.CharField("job title", max_length=150, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contacts"
    )
    linkedin = models.URLField("LinkedIn", max_length=300, blank=True)
    twitter = models.CharField("X / Twitter", max_length=100, blank=True)
    website = models.URLField(max_length=300, blank=True)
    source = models.CharField(max_length=100, blank=True)
    lifecycle_stage = models.CharField(
        max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.LEAD
    )
    notes = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    companies = models.ManyToManyField(
        "companies.Company", through="ContactCompany", related_name="contacts", blank=True
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    history = HistoricalRecords(excluded_fields=["search_text", "updated_at", "created_at"])
    all_objects = models.Manager()
    objects = LiveManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        default_manager_name = "objects"
        indexes = [
            *record_indexes("contact"),
            models.Index(fields=["owner", "-created_at"], name="contact_owner_created"),
            models.Index(fields=["last_name", "first_name"], name="contact_name"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or f"Contact {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ContactEmail(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    email = models.CharField(max_length=254, db_index=True)
    label = models.CharField(max_length=30, blank=True)
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "email"], name="contactemail_unique")
        ]

    def __str__(self) -> str:
        return self.email


class ContactPhone(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(max_length=32, db_index=True)  # E.164
    label = models.CharField(max_length=30, blank=True)
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "number"], name="contactphone_unique")
        ]

    def __str__(self) -> str:
        return self.number


class ContactCompany(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="company_links")
    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="contact_links"
    )
    role = models.CharField(max_length=100, blank=True)
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "company"], name="contactcompany_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} at {self.company_id}"


class ContactUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Contact, on_delete=models.CASCADE)


class ContactGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Contact, on_delete=models.CASCADE)
