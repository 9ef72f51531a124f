"""Outgoing mail is configured from the environment: SMTP when EMAIL_HOST is set, the console
(for `make dev`) when it is not, and a contradictory TLS setting refuses to start."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.email import EMAIL_ENV_VARS

EMAIL_VARS = EMAIL_ENV_VARS


def _fresh(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Any:
    for name in EMAIL_VARS:
        monkeypatch.delenv(name, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for module in [m for m in sys.modules if m.startswith("config.settings")]:
        monkeypatch.delitem(sys.modules, module)
    return importlib.import_module("config.settings.development")


def test_smtp_when_a_host_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _fresh(
        monkeypatch,
        {
            "EMAIL_HOST": "smtp.mail.example",
            "EMAIL_PORT": "587",
            "EMAIL_HOST_USER": "kestrel",
            "EMAIL_HOST_PASSWORD": "s3cret",
            "EMAIL_USE_TLS": "true",
            "EMAIL_TIMEOUT": "30",
            "DEFAULT_FROM_EMAIL": "Kestrel <crm@mail.example>",
        },
    )
    assert module.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    assert (module.EMAIL_HOST, module.EMAIL_PORT) == ("smtp.mail.example", 587)
    assert (module.EMAIL_HOST_USER, module.EMAIL_HOST_PASSWORD) == ("kestrel", "s3cret")
    assert (module.EMAIL_USE_TLS, module.EMAIL_USE_SSL) == (True, False)
    assert module.EMAIL_TIMEOUT == 30
    assert module.DEFAULT_FROM_EMAIL == "Kestrel <crm@mail.example>"


def test_console_without_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _fresh(monkeypatch, {})
    assert module.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"
    assert module.EMAIL_TIMEOUT == 10
    assert module.DEFAULT_FROM_EMAIL == "Kestrel CRM <no-reply@kestrel.invalid>"


def test_tls_and_ssl_together_refuse_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="not both"):
        _fresh(
            monkeypatch,
            {"EMAIL_HOST": "smtp.mail.example", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"},
        )
