"""The one Celery app: tenant-aware, so each task runs in the schema of the tenant that sent it."""

from __future__ import annotations

import os

from tenant_schemas_celery.app import CeleryApp as TenantAwareCeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

app = TenantAwareCeleryApp("kestrel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
