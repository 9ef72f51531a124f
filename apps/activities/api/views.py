"""`/api/v1/activities/`: thin views over the activities selectors and services."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import User
from apps.records.api.base import (
    CustomFieldsField,
    RecordViewSet,
    TagNamesField,
    plain_fields,
    run_service,
)

from .. import selectors, services
from ..models import Activity, ActivityType, CalendarFeed, Outcome, Reminder
from ..reminders import MAX_MINUTES, MAX_REMINDERS

LINKS = ("contacts", "companies", "deals", "leads")
LINK_COLUMNS = {
    "contacts": "contact_id",
    "companies": "company_id",
    "deals": "deal_id",
    "leads": "lead_id",
}
# The linked models whose default manager hides merged-away records.
LIVE_LINKS = ("contacts", "companies", "leads")


class IdList(serializers.ListField):
    """Written as a list of ids; read by `ActivitySerializer.to_representation`."""

    child = serializers.IntegerField(min_value=1)

    def to_representation(self, data: Any) -> list[Any]:
        return []


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    type = serializers.ChoiceField(choices=ActivityType.choices, required=False)
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="The person the activity is assigned to (the same as `owner`).",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False, allow_blank=True)
    contacts = IdList(required=False, max_length=100)
    companies = IdList(required=False, max_length=100)
    deals = IdList(required=False, max_length=100)
    leads = IdList(required=False, max_length=100)
    tags = TagNamesField(required=False, max_length=50)
    custom_fields = CustomFieldsField(required=False)
    reminders = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_MINUTES),
        required=False,
        max_length=MAX_REMINDERS,
        help_text=(
            "Reminders to the assignee, in minutes before the start (or due) moment; 0 is at"
            " the time. Omitted on create: the assignee's default reminders for meetings,"
            " calls and tasks. [] removes them."
        ),
    )

    class Meta:
        model = Activity
        fields = [
            "id",
            "type",
            "subject",
            "body",
            "due_at",
            "start_at",
            "end_at",
            "all_day",
            "scheduled_at",
            "done",
            "done_at",
            "outcome",
            "location",
            "assignee",
            "owner",
            "contacts",
            "companies",
            "deals",
            "leads",
            "tags",
            "custom_fields",
            "reminders",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "scheduled_at", "done_at", "created_at", "updated_at"]
        extra_kwargs = {"subject": {"required": False}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        assignee = attrs.pop("assignee", None)
        if assignee is not None:
            if attrs.get("owner") not in (None, assignee):
                raise serializers.ValidationError(
                    {"assignee": "assignee and owner name the same person; give one."}
                )
            attrs["owner"] = assignee
        if self.instance is None:
            for name in ("type", "subject"):
                if not attrs.get(name):
                    raise serializers.ValidationError({name: "This field is required."})
        return attrs

    def to_representation(self, instance: Activity) -> dict[str, Any]:
        data = plain_fields(instance, PLAIN_FIELDS)
        for name in ("due_at", "start_at", "end_at", "scheduled_at", "done_at"):
            value = getattr(instance, name)
            data[name] = value.isoformat().replace("+00:00", "Z") if value else None
        data["assignee"] = instance.owner_id
        related = getattr(instance, "api_related", None)
        if related is not None:
            data.update(related)
        else:
            for name in LINKS:
                data[name] = sorted(r.pk for r in getattr(instance, name).all())
            data["tags"] = sorted(t.name for t in instance.tags.all())
            data["reminders"] = sorted(r.minutes_before for r in instance.reminders.all())
        return {name: data[name] for name in self.Meta.fields}


PLAIN_FIELDS = [
    name
    for name in ActivitySerializer.Meta.fields
    if name
    not in (*LINKS, "tags", "reminders", "assignee", "due_at", "start_at", "end_at", "done_at")
]


class CompleteSerializer(serializers.Serializer[dict[str, Any]]):
    done = serializers.BooleanField(default=True)
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False, allow_blank=True)


class RescheduleSerializer(serializers.Serializer[dict[str, Any]]):
    start_at = serializers.DateTimeField()
    end_at = serializers.DateTimeField(required=False, allow_null=True)
    all_day = serializers.BooleanField(required=False, allow_null=True, default=None)


class ActivityViewSet(RecordViewSet):
    """Activities (tasks, notes, meetings, calls, logged emails). Filters: `search`, `tag`,
    `owner`/`assignee` (an id or `me`), `type`, `done`, `scheduled_at__gte`/`__lt`,
    `contact_id`, `company_id`, `deal_id`, `lead_id`, `cf_<key>`; `ordering`."""

    entity = "activity"
    scope_resource = "activities"
    serializer_class = ActivitySerializer

    def select(self, params: Any = None, *, related: bool = True) -> Any:
        return selectors.activity_list(user=self.request.user, params=params, related=related)

    def attach_related(self, records: list[Any]) -> None:
        ids = [r.pk for r in records]
        related: dict[int, dict[str, list[Any]]] = {
            pk: {name: [] for name in (*LINKS, "tags", "reminders")} for pk in ids
        }
        for name, column in LINK_COLUMNS.items():
            through = getattr(Activity, name).through
            for pk, value in (
                through.objects.filter(activity_id__in=ids)
                .order_by(column)
                .values_list("activity_id", column)
            ):
                related[pk][name].append(value)
        for pk, value in (
            Activity.tags.through.objects.filter(activity_id__in=ids)
            .order_by("tag__name")
            .values_list("activity_id", "tag__name")
        ):
            related[pk]["tags"].append(value)
        for pk, value in (
            Reminder.objects.filter(activity_id__in=ids)
            .order_by("minutes_before")
            .values_list("activity_id", "minutes_before")
        ):
            related[pk]["reminders"].append(value)
        for record in records:
            record.api_related = related[record.pk]

    def fetch(self, pk: Any) -> Activity:
        return selectors.activity_get(user=self.request.user, pk=pk)

    def fetch_to_change(self, pk: Any) -> Activity:
        return selectors.activity_get(user=self.request.user, pk=pk, related=False)

    def fetch_shown(self, pk: Any) -> Activity:
        # As the linked records' default managers show them (merged-away contacts,
        # companies and leads left out), each list sorted as `to_representation` sorts it.
        record = selectors.activity_get(user=self.request.user, pk=pk, related=False)
        related: dict[str, list[Any]] = {}
        for name, column in LINK_COLUMNS.items():
            rows = getattr(Activity, name).through.objects.filter(activity_id=record.pk)
            if name in LIVE_LINKS:
                rows = rows.filter(**{f"{column[: -len('_id')]}__merged_into__isnull": True})
            related[name] = list(rows.order_by(column).values_list(column, flat=True))
        related["tags"] = list(
            Activity.tags.through.objects.filter(activity_id=record.pk)
            .order_by("tag__name")
            .values_list("tag__name", flat=True)
        )
        related["reminders"] = list(
            Reminder.objects.filter(activity_id=record.pk)
            .order_by("minutes_before")
            .values_list("minutes_before", flat=True)
        )
        record.api_related = related  # type: ignore[attr-defined]
        return record

    def service_create(self, allow_duplicate: bool = True, **data: Any) -> Activity:
        return services.activity_create(actor=self.request.user, **data)

    def service_update(self, record: Any, allow_duplicate: bool = True, **data: Any) -> Activity:
        return services.activity_update(actor=self.request.user, activity=record, **data)

    def service_delete(self, record: Any) -> None:
        services.activity_delete(actor=self.request.user, activity=record)

    def service_share(self, record: Any, **data: Any) -> None:
        services.activity_share(actor=self.request.user, activity=record, **data)

    def service_merge(self, survivor: Any, merged: list[Any], values: dict[str, int]) -> Any:
        raise PermissionDenied("Activities cannot be merged.")

    def duplicate_pairs(self) -> list[dict[str, Any]]:
        return []

    @extend_schema(
        summary="Mark done (with an outcome) or open again",
        request=CompleteSerializer,
        responses=ActivitySerializer,
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        activity = self.get_object()
        incoming = CompleteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        run_service(
            lambda: services.activity_complete(
                actor=request.user,
                activity=activity,
                done=data["done"],
                outcome=data.get("outcome", ""),
            )
        )
        return Response(self.get_serializer(self.fetch(activity.pk)).data)

    @extend_schema(
        summary="Move to a new start (and end); a timed activity keeps its length",
        request=RescheduleSerializer,
        responses=ActivitySerializer,
    )
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, pk: str | None = None) -> Response:
        activity = self.get_object()
        incoming = RescheduleSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        run_service(
            lambda: services.activity_reschedule(
                actor=request.user,
                activity=activity,
                start_at=data["start_at"],
                end_at=data.get("end_at"),
                all_day=data.get("all_day"),
            )
        )
        return Response(self.get_serializer(self.fetch(activity.pk)).data)

    @extend_schema(
        summary="Your private iCalendar feed: GET shows whether it exists, POST makes a new "
        "URL (the old one stops working), DELETE revokes it",
        request=None,
        responses=inline_serializer(
            "CalendarFeed",
            {
                "active": serializers.BooleanField(),
                "prefix": serializers.CharField(allow_null=True),
                "url": serializers.CharField(allow_null=True),
            },
        ),
    )
    @action(
        detail=False,
        methods=["get", "post", "delete"],
        url_path="calendar-feed",
        pagination_class=None,
        filter_backends=[],
    )
    def calendar_feed(self, request: Request) -> Response:
        if request.method == "POST":
            feed, token = run_service(lambda: services.calendar_feed_create(actor=request.user))
            url = request.build_absolute_uri(reverse("activities:feed", args=[token]))
            return Response(
                {"active": True, "prefix": feed.prefix, "url": url},
                status=status.HTTP_201_CREATED,
            )
        if request.method == "DELETE":
            services.calendar_feed_revoke(actor=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        feed = CalendarFeed.objects.filter(user_id=getattr(request.user, "pk", 0) or 0).first()
        return Response(
            {"active": feed is not None, "prefix": feed.prefix if feed else None, "url": None}
        )
