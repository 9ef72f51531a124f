"""`/api/v1/notifications/`: the caller's own notifications and settings.

A signed-in person reaches their own; an API key acts for the person who created it, and a
key that belongs to nobody (made on the command line) has no notifications and is refused
with 403. Marking read and changing settings are writes: a key needs `notifications:write`
(or no scopes) and must not be read-only. A read-only *person* may still mark their own
notifications read and choose their settings: that changes no CRM data."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.apikeys.api.authentication import ApiKeyPrincipal
from apps.core.api.permissions import KeyScopeAllows
from apps.records.api.base import run_service, truthy

from .. import selectors, services
from ..models import Notification, NotificationKind


class ForAPerson(permissions.BasePermission):
    """The caller is a person, or a key made by one who is still active."""

    message = "This API key belongs to no user, so it has no notifications."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if isinstance(principal, ApiKeyPrincipal):
            person = principal.key.created_by
            return person is not None and person.is_active
        return True


class KeysWithinScope(KeyScopeAllows):
    """Keys keep their scopes and role; people manage their own notifications whatever
    their role."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.user, ApiKeyPrincipal):
            return True
        return super().has_permission(request, view)


def _person(request: Request) -> Any:
    principal = request.user
    if isinstance(principal, ApiKeyPrincipal):
        return principal.key.created_by
    return principal


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    kind = serializers.ChoiceField(choices=NotificationKind.choices, read_only=True)
    read = serializers.SerializerMethodField()
    actor_name = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "title",
            "body",
            "url",
            "actor",
            "actor_name",
            "read",
            "read_at",
            "emailed_at",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"url": {"help_text": "A path on this organisation's host."}}

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    def get_actor_name(self, obj: Notification) -> str | None:
        return obj.actor.get_full_name() if obj.actor is not None else None


class SettingsSerializer(serializers.Serializer[dict[str, Any]]):
    email_reminders = serializers.BooleanField(required=False)
    email_assignments = serializers.BooleanField(required=False)
    email_mentions = serializers.BooleanField(required=False)
    default_reminders = serializers.ListField(
        child=serializers.JSONField(),
        required=False,
        help_text="Minutes before an activity (0 to 40320), distinct, at most 5.",
    )


_READ_ALL = inline_serializer("NotificationsMarkedRead", {"marked": serializers.IntegerField()})


class NotificationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Notification]
):
    """The caller's own notifications, newest first; `?unread=true` lists unread ones only."""

    scope_resource = "notifications"
    serializer_class = NotificationSerializer
    permission_classes = [permissions.IsAuthenticated, ForAPerson, KeysWithinScope]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> Any:
        unread = self.action == "list" and truthy(self.request.query_params.get("unread", ""))
        return selectors.notification_list(user=_person(self.request), unread=unread)

    def get_object(self) -> Notification:
        return selectors.notification_get(user=_person(self.request), pk=self.kwargs["pk"])

    @extend_schema(
        parameters=[OpenApiParameter("unread", bool, description="Only unread notifications.")]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="Mark one notification read", request=None)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        notification = self.get_object()
        run_service(
            lambda: services.notification_mark_read(actor=request.user, notification=notification)
        )
        return Response(NotificationSerializer(notification).data)

    @extend_schema(summary="Mark every notification read", request=None, responses=_READ_ALL)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        marked = run_service(lambda: services.notification_mark_all_read(actor=request.user))
        return Response({"marked": marked})

    @extend_schema(
        methods=["GET"], summary="Your notification settings", responses=SettingsSerializer
    )
    @extend_schema(
        methods=["PATCH"],
        summary="Change your notification settings",
        request=SettingsSerializer,
        responses=SettingsSerializer,
    )
    @action(detail=False, methods=["get", "patch"], url_path="settings")
    def preferences(self, request: Request) -> Response:
        person = _person(request)
        if request.method == "PATCH":
            incoming = SettingsSerializer(data=request.data, partial=True)
            incoming.is_valid(raise_exception=True)
            unknown = sorted(set(request.data) - set(SettingsSerializer().fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: "There is no such setting."})
            run_service(
                lambda: services.notification_settings_update(
                    actor=request.user, **incoming.validated_data
                )
            )
        row = selectors.settings_for(person)
        return Response(
            {
                "email_reminders": row.email_reminders,
                "email_assignments": row.email_assignments,
                "email_mentions": row.email_mentions,
                "default_reminders": list(row.default_reminders or []),
            }
        )
