"""Tenancy: which apps live in the public schema, which in every organisation's schema."""

from __future__ import annotations

from .env import env_int

# Apps whose tables live in the public schema only: the tenant registry, the public site,
# and the operator console's own staff accounts (auth and sessions appear in both lists so
# that operators and each organisation's users never share a table).
SHARED_APPS: list[str] = [
    "tenants",  # first, so its migrate_schemas (public + template + pool + tenants) wins
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "apps.accounts",
    "apps.core",
    "public_site",
]

# Apps whose tables are created in every organisation's schema. Users, their permissions,
# object permissions and every CRM record live here, so no row in one schema points into
# another.
TENANT_APPS: list[str] = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "guardian",
    "apps.accounts",
    "apps.core",
    "apps.audit",
    "apps.apikeys",
    "simple_history",
    "apps.records",
    "apps.companies",
    "apps.contacts",
    "apps.deals",
    "apps.leads",
    "apps.activities",
    "apps.notifications",
    "apps.imports",
    "apps.reports",
    "apps.dataexport",
]

INSTALLED_APPS: list[str] = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
INSTALLED_APPS += [
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"

# New organisations are cloned from this migrated template instead of being migrated.
TENANT_CREATION_FAKES_MIGRATIONS = True
TENANT_BASE_SCHEMA = "tenant_template"

# The search path is set once per request (when the tenant is chosen), not before every query.
TENANT_LIMIT_SET_CALLS = True

DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

# How many ready-made schemas the warm pool keeps for instant sign-ups.
TENANT_WARM_POOL_SIZE = env_int("TENANT_WARM_POOL_SIZE", 3)

# Worker processes `migrate_schemas` migrates organisation schemas with (0: one per CPU,
# between 2 and 4); `--processes` overrides it for one run. Each holds one database connection.
TENANT_MIGRATION_PROCESSES = env_int("TENANT_MIGRATION_PROCESSES", 0)

# Seconds a process trusts its host -> tenant table before checking the shared generation
# counter; changes made in the same process are seen at once.
TENANT_ROUTING_RECHECK_SECONDS = 1.0

STORAGES = {
    # Uploaded files land under MEDIA_ROOT/<schema>/, so one tenant's paths never reach another's.
    "default": {"BACKEND": "tenants.storage.TenantFileStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
TENANT_WARM_POOL_REFILL_ON_PROVISION = True
