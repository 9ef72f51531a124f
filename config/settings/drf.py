"""REST API conventions shared by every resource."""

from __future__ import annotations

REST_FRAMEWORK = {
    # Keys first: an Authorization header decides, and its challenge makes anonymous calls 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.apikeys.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apps.core.api.permissions.KeyScopeAllows",
    ],
    # DRF's own JSON parser answered 500 to JSON nested too deeply and to 1e400 in an id.
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.api.throttling.KeyAndOrganisationRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Kestrel CRM API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from our own static files: no CDN, and the page passes the strict CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKey": {"type": "http", "scheme": "bearer", "description": "kst_… API key"}
        }
    },
    "SECURITY": [{"ApiKey": []}],
    # Several resources have a `kind`; each choice set gets its own component name.
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "apps.deals.models.StageKind",  # the name it had before notifications
        "NotificationKindEnum": "apps.notifications.models.NotificationKind",
        # The API's names (succeeded where the model says done).
        "ImportStatusEnum": "apps.imports.api.serializers.API_STATUS_CHOICES",
        "ImportModeEnum": "apps.imports.models.Mode",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.records.api.base.custom_fields_schema_hook",
        # Every operation documents the error envelope for the errors it may answer.
        "apps.core.api.schema.error_responses_hook",
    ],
}

# Requests allowed per window (seconds), per API key (or user) and per organisation.
API_RATE_LIMITS: dict[str, dict[str, tuple[int, int]]] = {
    "free": {"key": (100, 10), "organisation": (500, 10)},
    "team": {"key": (100, 10), "organisation": (1000, 10)},
    "business": {"key": (300, 10), "organisation": (3000, 10)},
}
