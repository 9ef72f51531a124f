"""Settings of bench/load.py's baseline server: the production settings (the same
middleware, logging and DRF configuration the product runs with) without tenant routing, and
a URL map holding only the bare DRF view of bench/load_baseline_urls.py."""

from config.settings.production import *  # noqa: F403
from config.settings.production import MIDDLEWARE

MIDDLEWARE = [name for name in MIDDLEWARE if name != "tenants.middleware.TenantRoutingMiddleware"]
ROOT_URLCONF = "load_baseline_urls"
PUBLIC_SCHEMA_URLCONF = "load_baseline_urls"
