"""What the code is working for right now: one request or one Celery task.

A middleware (or a task signal) binds a `Current` to a contextvar; every log line reads it
through `ContextFilter` and Sentry events through `before_send`. The tenant and the user are
read from the request lazily, when a line is logged: the tenant is chosen by the routing
middleware and the user by authentication, both after the request id is bound.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from django.utils.functional import LazyObject, empty

# What a proxy may send as X-Request-ID: a UUID, 32 hex digits (nginx $request_id), a trace
# id with dots, dashes or colons. Anything longer or with other characters (spaces, quotes,
# newlines that would forge log lines) is replaced by an id of our own.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# URL parameters that are credentials (a calendar feed's token, an invitation's, a password
# reset's): whoever reads them in a log line could use them, so they are written as REDACTED.
SECRET_URL_KWARGS = frozenset({"token"})
REDACTED = "[redacted]"


@dataclass(slots=True)
class Current:
    request_id: str
    request: Any = None  # the HttpRequest being served, if any
    tenant: str | None = None  # a task's schema (a request's comes from request.tenant)
    task: str | None = None  # the task's name

    def tenant_label(self) -> str | None:
        if self.request is not None:
            tenant = getattr(self.request, "tenant", None)
            return None if tenant is None else str(tenant.schema_name)
        return self.tenant

    def user_id(self) -> str | None:
        """The signed-in user's id, if authentication has already looked the user up: a log
        line never makes the first session query itself (it may run after the request has
        left its tenant's schema)."""
        if self.request is None:
            return None
        user = self.request.__dict__.get("user")
        if user is None:
            return None
        if isinstance(user, LazyObject) and user._wrapped is empty:
            return None
        if not getattr(user, "is_authenticated", False):
            return None
        return str(user.pk)

    def secrets(self) -> list[str]:
        return url_secrets(self.request)


def url_secrets(request: Any) -> list[str]:
    """The credentials in the path of `request` (once its URL is resolved)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return []
    return [str(v) for k, v in match.kwargs.items() if k in SECRET_URL_KWARGS and v]


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


_current: ContextVar[Current | None] = ContextVar("kestrel_observability", default=None)


def current() -> Current | None:
    return _current.get()


def bind(value: Current) -> Token[Current | None]:
    return _current.set(value)


def unbind(token: Token[Current | None] | None = None) -> None:
    if token is None:
        _current.set(None)
    else:
        _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(header: str | None) -> str:
    """The proxy's X-Request-ID if it is a sane value, else a new one."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return new_request_id()
