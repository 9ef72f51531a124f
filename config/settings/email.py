"""Outgoing email (notification emails, password resets), configured per deployment.

SMTP when `EMAIL_HOST` is set; otherwise messages are printed by the console backend, which
is what `make dev` wants. Tests use the in-memory backend (settings/test.py), except the SMTP
tests, which talk to a real SMTP server on the loopback interface.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_str

# Optional, unlike the fixed interface in env.ENV_VARS: an unset EMAIL_HOST means the console.
EMAIL_ENV_VARS: tuple[str, ...] = (
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "EMAIL_TIMEOUT",
    "DEFAULT_FROM_EMAIL",
)

EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
# Seconds to wait for the mail server: a hung server fails the delivery job (retried later)
# instead of holding a worker forever.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# The address part is used for every organisation; the display name becomes the
# organisation's name on notification emails.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "Kestrel CRM <no-reply@kestrel.invalid>"

if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "Set EMAIL_USE_TLS (STARTTLS, usually port 587) or EMAIL_USE_SSL (implicit TLS, "
        "usually port 465), not both."
    )

EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
