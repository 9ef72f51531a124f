"""Security defaults: host-only cookies, CSRF, strict Content-Security-Policy, hashing."""

from __future__ import annotations

from .env import BASE_DOMAIN, DJANGO_DEBUG, DJANGO_SECRET_KEY

SECRET_KEY = DJANGO_SECRET_KEY

# Exactly the base domain and its subdomains; any other Host never reaches a tenant.
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}"]

# Host-only cookies: a session made on acme.<base> is never sent to globex.<base>.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_SECURE = not DJANGO_DEBUG
CSRF_COOKIE_SECURE = not DJANGO_DEBUG

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Form posts may only go to our own hosts; sign-up redirects to the new subdomain.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    f"frame-ancestors 'none'; form-action 'self' *.{BASE_DOMAIN}:*"
)

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Public endpoints (sign-up, workspace finder, login hand-off): requests per minute per IP.
PUBLIC_RATE_LIMIT_PER_MINUTE = 20
