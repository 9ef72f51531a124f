"""Log lines that say which request, organisation and user they belong to.

`ContextFilter` (on the handler, so it sees every line, Django's and libraries' included)
adds `request_id`, `tenant` and `user` to each record. `JsonFormatter` writes one JSON object
per line: timestamp (ISO 8601, UTC), level, logger, message, request_id, tenant, user, any
`extra=` fields, and `exception` / `stack` as strings.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from .context import current, redact

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)
# Extras never written: Django's `request` (its repr carries the query string) and values
# that are ours to place.
_SKIPPED_EXTRAS = frozenset({"request", "server_time", "request_id", "tenant", "user"})
# Celery passes its task lines' context as the `data` extra: the task's arguments in it are
# left out (they may be personal data, e.g. the address an email goes to).
_TASK_ARGUMENTS = frozenset({"args", "kwargs"})


class ContextFilter(logging.Filter):
    """Adds the current request id, tenant (schema) and user id to every record (None outside
    a request or task). Values a caller passed with `extra=` are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        now = current()
        if now is None:
            values: dict[str, Any] = {"request_id": None, "tenant": None, "user": None}
        else:
            values = {
                "request_id": now.request_id,
                "tenant": now.tenant_label(),
                "user": now.user_id(),
            }
            if now.task is not None and not hasattr(record, "task"):
                record.task = now.task
            secrets = now.secrets()
            if secrets:  # e.g. Django's "Not Found: <path>" of a feed URL
                record.msg, record.args = redact(record.getMessage(), secrets), None
        for key, value in values.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never raises on an odd `extra` value (it becomes a string)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "tenant": getattr(record, "tenant", None),
            "user": getattr(record, "user", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and key not in _SKIPPED_EXTRAS and key not in payload:
                if key == "data" and isinstance(value, dict):
                    value = {k: v for k, v in value.items() if k not in _TASK_ARGUMENTS}
                payload[key] = _jsonable(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, ensure_ascii=False, default=str)
