"""What reporting keeps: the organisation's reporting currency and exchange rates, and the
users' report subscriptions."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class ReportingSettings(models.Model):
    """One row per organisation: the currency reports sum money in."""

    base_currency = models.CharField(max_length=3, default="USD")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "reporting settings"

    def __str__(self) -> str:
        return self.base_currency

    @classmethod
    def current(cls) -> ReportingSettings:
        row, _ = cls.objects.get_or_create(pk=1)
        return row


class ExchangeRate(models.Model):
    """How much one unit of `currency` is worth in the reporting currency. A deal in a
    currency without a rate is never summed silently: reports list it as not converted."""

    currency = models.CharField(max_length=3, unique=True)
    rate = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        validators=[MinValueValidator(Decimal("0.00000001")), MaxValueValidator(Decimal("1e9"))],
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["currency"]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate}"


class Cadence(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class RunStatus(models.TextChoices):
    NEVER = "", "Not sent yet"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Failed, will retry"
    FAILED = "failed", "Failed"


class Subscription(models.Model):
    """A user's standing order for a report (or the dashboard) by email, built as that user
    (their permissions at the time of the run) on the organisation's reports queue."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    report = models.CharField(max_length=40)
    # The report's filters (period, owner, team, pipeline, grouping), as query parameters.
    params = models.JSONField(default=dict, blank=True)
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.WEEKLY)
    # Weekly: 0 = Monday. Monthly: day of the month (1-28). Hour in the user's time zone.
    weekday = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(6)])
    day = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(28)]
    )
    hour = models.PositiveSmallIntegerField(default=8, validators=[MaxValueValidator(23)])
    active = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(
        max_length=10, choices=RunStatus.choices, default=RunStatus.NEVER, blank=True
    )
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["report", "id"]

    def __str__(self) -> str:
        return f"{self.report} ({self.get_cadence_display()})"
