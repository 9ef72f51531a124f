"""`/api/v1/report-subscriptions/`: scheduled report emails. Everyone reaches their own (a
key: those of the person who made it); Owners and Admins read every one of the organisation,
but only its subscriber changes, sends or deletes one (403 for anyone else who can see it, 404
for those who cannot). Writes go through `apps.reports.subscriptions`, so the API, the web
page and the schedule cannot disagree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.ratelimit import client_ip
from apps.records.api.base import run_service

from .. import subscriptions as subs
from ..models import Cadence, RunStatus, Subscription


class ReportSubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    report = serializers.CharField(
        max_length=40, help_text="The report's name (GET /api/v1/reports/ lists them)."
    )
    params = serializers.JSONField(
        required=False,
        help_text='The report\'s filters as query parameters, e.g. {"period": "last_week", '
        '"pipeline": "2"}: period (this_week, last_week, this_month, ... or custom with start '
        "and end), owner, team, pipeline, group.",
    )
    cadence = serializers.ChoiceField(choices=Cadence.choices, default=Cadence.WEEKLY)
    weekday = serializers.IntegerField(
        required=False, default=0, help_text="Weekly: 0 = Monday ... 6 = Sunday."
    )
    day = serializers.IntegerField(
        required=False, default=1, help_text="Monthly: the day of the month, 1 to 28."
    )
    hour = serializers.IntegerField(
        required=False, default=8, help_text="0 to 23, in the subscriber's time zone."
    )
    active = serializers.BooleanField(required=False, default=True)
    report_title = serializers.SerializerMethodField()
    filters = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()
    subscriber = serializers.SerializerMethodField()
    last_status = serializers.ChoiceField(choices=RunStatus.choices, read_only=True)
    last_status_label = serializers.CharField(source="get_last_status_display", read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "report",
            "report_title",
            "params",
            "filters",
            "cadence",
            "weekday",
            "day",
            "hour",
            "schedule",
            "active",
            "subscriber",
            "next_run_at",
            "last_run_at",
            "last_status",
            "last_status_label",
            "last_error",
            "created_at",
        ]
        read_only_fields = [
            "next_run_at",
            "last_run_at",
            "last_status",
            "last_error",
            "created_at",
        ]
        extra_kwargs = {
            "last_error": {"help_text": "Why the last run failed, when it did."},
        }

    def get_report_title(self, sub: Subscription) -> str:
        return subs.report_title(sub.report)

    def get_filters(self, sub: Subscription) -> list[str]:
        return subs.filters_words(sub)

    def get_schedule(self, sub: Subscription) -> str:
        return subs.schedule_words(sub)

    def get_subscriber(self, sub: Subscription) -> dict[str, Any]:
        return {"id": sub.user_id, "name": sub.user.get_full_name(), "email": sub.user.email}


WRITABLE = ("report", "params", "cadence", "weekday", "day", "hour", "active")


@extend_schema_view(
    list=extend_schema(summary="Your report emails (every one, for Owners and Admins)"),
    retrieve=extend_schema(summary="A report email: schedule, next run, how the last went"),
    create=extend_schema(summary="Subscribe to a report by email"),
    partial_update=extend_schema(summary="Change a report email (its subscriber only)"),
    update=extend_schema(summary="Change a report email (its subscriber only)"),
    destroy=extend_schema(summary="Stop a report email (its subscriber only)"),
)
class SubscriptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    scope_resource = "report-subscriptions"
    serializer_class = ReportSubscriptionSerializer
    queryset = Subscription.objects.none()
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> Any:
        return subs.subscription_list(user=self.request.user)

    def get_object(self) -> Subscription:
        return subs.subscription_get(user=self.request.user, pk=self.kwargs["pk"])

    def _answer(self, sub: Subscription, code: int = status.HTTP_200_OK) -> Response:
        fresh = subs.subscription_get(user=self.request.user, pk=sub.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        sub = run_service(
            lambda: subs.subscribe(
                actor=request.user,
                ip_address=client_ip(request),
                report=data["report"],
                params=data.get("params") or {},
                cadence=data["cadence"],
                weekday=data["weekday"],
                day=data["day"],
                hour=data["hour"],
            )
        )
        if not data.get("active", True):
            sub = run_service(lambda: subs.update(actor=request.user, sub=sub, active=False))
        return self._answer(sub, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        sub = self.get_object()
        partial = kwargs.pop("partial", False)
        # A body that is not an object (a number, a list) is the serializer's 400 to give.
        keys = set(request.data) if isinstance(request.data, Mapping) else set()
        unknown = sorted(keys - set(WRITABLE))
        if unknown:
            raise serializers.ValidationError({unknown[0]: ["This cannot be changed."]})
        incoming = self.get_serializer(sub, data=request.data, partial=partial)
        incoming.is_valid(raise_exception=True)
        changes = {k: v for k, v in incoming.validated_data.items() if k in WRITABLE}
        run_service(
            lambda: subs.update(
                actor=request.user, sub=sub, ip_address=client_ip(request), **changes
            )
        )
        return self._answer(sub)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        sub = self.get_object()
        run_service(lambda: subs.delete(actor=request.user, sub=sub, ip_address=client_ip(request)))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Send it now (its subscriber only); the regular schedule goes on after it",
        request=None,
        responses={202: ReportSubscriptionSerializer},
    )
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk: str | None = None) -> Response:
        sub = self.get_object()
        run_service(
            lambda: subs.send_now(actor=request.user, sub=sub, ip_address=client_ip(request))
        )
        return self._answer(sub, status.HTTP_202_ACCEPTED)
