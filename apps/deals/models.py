"""Deals move through the ordered stages of a pipeline. Every stage change is kept
(`DealStageChange`) so time in stage and stage-to-stage conversion can be reported."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from apps.records.models import RecordBase, Tag, record_indexes

PERCENT = [MinValueValidator(0), MaxValueValidator(100)]


class Pipeline(models.Model):
    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(models.functions.Lower("name"), name="pipeline_name_unique_ci"),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="pipeline_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StageKind(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Stage(models.Model):
    """An ordered step of a pipeline. Won and lost stages are terminal: a deal in one is
    closed, with its won or lost date set."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(default=0, validators=PERCENT)
    kind = models.CharField(max_length=10, choices=StageKind.choices, default=StageKind.OPEN)
    # A deal untouched in this stage for longer is "rotting" and highlighted on the board.
    rotting_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["pipeline", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                "pipeline", models.functions.Lower("name"), name="stage_name_unique_ci"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN


class LostReason(models.Model):
    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(models.functions.Lower("name"), name="lostreason_unique_ci")
        ]

    def __str__(self) -> str:
        return self.name


class DealStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Deal(RecordBase):
    title = models.CharField(max_length=200)
    value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    # Kept equal to the stage's kind, so boards and reports filter on one indexed column.
    status = models.CharField(max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN)
    # None: the stage's probability applies.
    probability = models.PositiveSmallIntegerField(null=True, blank=True, validators=PERCENT)
    expected_close = models.DateField("expected close date", null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deals"
    )
    contacts = models.ManyToManyField("contacts.Contact", blank=True, related_name="deals")
    companies = models.ManyToManyField("companies.Company", blank=True, related_name="deals")
    tags = models.ManyToManyField(Tag, blank=True, related_name="deals")
    lost_reason = models.ForeignKey(
        LostReason, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    lost_note = models.CharField(max_length=500, blank=True)
    won_at = models.DateTimeField(null=True, blank=True)
    lost_at = models.DateTimeField(null=True, blank=True)
    # When the deal entered its current stage (rotting, time in stage).
    stage_entered_at = models.DateTimeField(null=True, blank=True)
    # Order of the card within its board column (lower first).
    position = models.FloatField(default=0)

    history = HistoricalRecords(
        excluded_fields=["search_text", "updated_at", "created_at", "position", "stage_entered_at"]
    )
    # Stage moves appear on the timeline as "Moved to <stage>" (apps.deals.timeline), not as
    # raw field changes.
    timeline_hidden = frozenset({"stage", "pipeline", "status", "won_at", "lost_at"})

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            *record_indexes("deal"),
            models.Index(fields=["owner", "-created_at"], name="deal_owner_created"),
            models.Index(fields=["stage", "position", "id"], name="deal_stage_position"),
            # The board: open deals, and closed ones by when they entered Won or Lost.
            models.Index(
                fields=["pipeline", "status", "stage_entered_at"], name="deal_pipeline_status_at"
            ),
            models.Index(fields=["status", "expected_close"], name="deal_status_close"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def effective_probability(self) -> int:
        return self.probability if self.probability is not None else self.stage.probability

    @property
    def weighted_value(self) -> Decimal:
        return (self.value * self.effective_probability / 100).quantize(Decimal("0.01"))


class DealStageChange(models.Model):
    """One move of a deal into a stage (the first row is its creation)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept (empty) when an Admin deletes the stage, so the deal's history stays whole.
    to_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries"
    )
    changed_at = models.DateTimeField(db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Seconds the deal spent in `from_stage` before this move.
    seconds_in_previous = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["deal", "changed_at"], name="dealstage_deal_at"),
            models.Index(fields=["to_stage", "changed_at"], name="dealstage_stage_at"),
        ]

    def __str__(self) -> str:
        return f"{self.deal_id} → {self.to_stage_id}"


class DealUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Deal, on_delete=models.CASCADE)


class DealGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Deal, on_delete=models.CASCADE)
