"""Leads: prospects not yet qualified, arriving by hand, by API or from the website's web
forms with their campaign (UTM) values. Conversion turns one into a contact, a company and
optionally a deal in one transaction."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from apps.companies.models import LiveManager
from apps.records.models import RecordBase, Tag, record_indexes


class LeadSource(models.Model):
    """The editable list of where leads come from (Settings → Lead sources)."""

    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(models.functions.Lower("name"), name="leadsource_unique_ci")
        ]

    def __str__(self) -> str:
        return self.name


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    UNQUALIFIED = "unqualified", "Unqualified"
    CONVERTED = "converted", "Converted"


class Lead(RecordBase):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True, db_index=True)
    company_name = models.CharField(max_length=200, blank=True)
    title = models.CharField("job title", max_length=150, blank=True)
    source = models.ForeignKey(
        LeadSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="leads"
    )
    notes = models.TextField(blank=True)
    utm_source = models.CharField("UTM source", max_length=200, blank=True)
    utm_medium = models.CharField("UTM medium", max_length=200, blank=True)
    utm_campaign = models.CharField("UTM campaign", max_length=200, blank=True)
    utm_term = models.CharField("UTM term", max_length=200, blank=True)
    utm_content = models.CharField("UTM content", max_length=200, blank=True)
    referrer = models.URLField(max_length=1000, blank=True)
    landing_page = models.URLField(max_length=1000, blank=True)
    web_form = models.ForeignKey(
        "WebForm", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="leads")
    converted_at = models.DateTimeField(null=True, blank=True)
    converted_contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    converted_company = models.ForeignKey(
        "companies.Company",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    converted_deal = models.ForeignKey(
        "deals.Deal", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
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
            *record_indexes("lead"),
            models.Index(fields=["owner", "-created_at"], name="lead_owner_created"),
            models.Index(fields=["status", "-created_at"], name="lead_status_created"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.company_name or f"Lead {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class AssignmentRule(models.TextChoices):
    FIXED = "fixed", "Always the same owner"
    ROUND_ROBIN = "round_robin", "Round-robin among users"


class WebForm(models.Model):
    """A lead capture form an Admin builds; served on the tenant's subdomain at
    `/f/<public_id>/` and embeddable on any website."""

    name = models.CharField(max_length=100)
    public_id = models.SlugField(max_length=32, unique=True)
    title = models.CharField(max_length=200, blank=True)
    intro = models.TextField(blank=True)
    submit_label = models.CharField(max_length=50, default="Send")
    thank_you_message = models.TextField(default="Thank you! We will be in touch soon.")
    redirect_url = models.URLField(max_length=1000, blank=True)
    source = models.ForeignKey(
        LeadSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignment = models.CharField(
        max_length=20, choices=AssignmentRule.choices, default=AssignmentRule.FIXED
    )
    fixed_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    round_robin_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+"
    )
    # How many leads round-robin has assigned so far; the next goes to users[n % len(users)].
    round_robin_counter = models.PositiveIntegerField(default=0)
    tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    active = models.BooleanField(default=True)
    submissions = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebFormField(models.Model):
    """One field of a web form: a lead field (`first_name`, `email`, ...) or a lead custom
    field (`cf_<key>`)."""

    form = models.ForeignKey(WebForm, on_delete=models.CASCADE, related_name="fields")
    target = models.CharField(max_length=60)
    label = models.CharField(max_length=100)
    required = models.BooleanField(default=False)
    placeholder = models.CharField(max_length=100, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["form", "target"], name="webformfield_unique")
        ]

    def __str__(self) -> str:
        return self.label


class LeadUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Lead, on_delete=models.CASCADE)


class LeadGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Lead, on_delete=models.CASCADE)
