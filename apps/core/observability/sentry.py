"""Optional error reporting to Sentry: on when SENTRY_DSN is set, otherwise never initialised.

Called from the settings (config/settings/base.py), so web processes and Celery workers both
report. No personal data is sent (`send_default_pii=False`); every event is tagged with the
organisation (schema) and the request id (a task's id in a worker), and cookies, the
Authorization and API-key headers, the query string, request bodies, a token in the URL
and frames' local variables are left out.
"""

from __future__ import annotations

from typing import Any

from . import context

# Request headers never sent (compared lower-case).
_SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "x-api-key", "x-csrftoken", "proxy-authorization"}
)


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    now = context.current()
    if now is not None:
        tags = event.setdefault("tags", {})
        tenant = now.tenant_label()
        if tenant:
            tags["tenant"] = tenant
        tags["request_id"] = now.request_id
        if now.task:
            tags["task"] = now.task
    request = event.get("request")
    if isinstance(request, dict):
        secrets = now.secrets() if now is not None else []
        if secrets and isinstance(request.get("url"), str):
            request["url"] = context.redact(request["url"], secrets)
        request.pop("cookies", None)
        request.pop("query_string", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value
                for name, value in headers.items()
                if str(name).lower() not in _SECRET_HEADERS
            }
    return event


def init_sentry(dsn: str, *, environment: str, release: str | None) -> bool:
    """Initialise the Sentry SDK if `dsn` is set; returns whether it did."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        send_default_pii=False,
        # A form's fields are what a person typed: their contacts' names, emails, phones.
        max_request_body_size="never",
        # Frames' local variables would carry organisations' records (and a request's query
        # string) to Sentry; the stack trace itself is enough.
        include_local_variables=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=before_send,  # type: ignore[arg-type]
    )
    return True
