"""Settings for bench/migrations.py: development settings plus the bench-only tenant app
bench.migrapp, whose migrations are applied across every organisation."""

from config.settings.development import *  # noqa: F403
from config.settings.development import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "bench.migrapp"]
INSTALLED_APPS = [*INSTALLED_APPS, "bench.migrapp"]
