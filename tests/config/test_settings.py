"""The settings that tenant isolation depends on. A typo in any of these would silently
weaken isolation, so each is pinned here."""

from __future__ import annotations

import importlib
import sys
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings


def test_tenant_middleware_runs_first() -> None:
    # Only the request-id/metrics middleware runs before it, and that one touches neither the
    # database nor the session.
    assert settings.MIDDLEWARE[:2] == [
        "apps.core.observability.middleware.RequestObservabilityMiddleware",
        "tenants.middleware.TenantRoutingMiddleware",
    ]


def test_database_uses_tenant_backend_and_router() -> None:
    assert settings.DATABASES["default"]["ENGINE"] == "django_tenants.postgresql_backend"
    assert settings.DATABASE_ROUTERS == ["django_tenants.routers.TenantSyncRouter"]


def test_cache_keys_go_through_tenant_key_function() -> None:
    default = settings.CACHES["default"]
    assert default["KEY_FUNCTION"] == "django_tenants.cache.make_key"
    assert default["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


def test_session_and_csrf_cookies_are_host_only() -> None:
    assert settings.SESSION_COOKIE_DOMAIN is None
    assert settings.CSRF_COOKIE_DOMAIN is None
    assert settings.SESSION_COOKIE_HTTPONLY is True


def test_users_auth_and_guardian_live_in_each_tenant_schema() -> None:
    for app in ("django.contrib.auth", "guardian", "apps.accounts"):
        assert app in settings.TENANT_APPS
    # Operators have their own user table in the public schema.
    assert "apps.accounts" in settings.SHARED_APPS
    assert "guardian" not in settings.SHARED_APPS
    assert settings.INSTALLED_APPS.index("tenants") < settings.INSTALLED_APPS.index(
        "django_tenants"
    )


def test_cloning_and_single_search_path_settings() -> None:
    assert settings.TENANT_CREATION_FAKES_MIGRATIONS is True
    assert settings.TENANT_BASE_SCHEMA == "tenant_template"
    assert settings.TENANT_LIMIT_SET_CALLS is True


def test_allowed_hosts_are_the_base_domain_and_its_subdomains_only() -> None:
    from config.settings import security

    # (the test runner appends "testserver" to the live setting, so read the module)
    assert security.ALLOWED_HOSTS == ["localhost", ".localhost"]


def test_strict_content_security_policy() -> None:
    policy = settings.CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_celery_acks_late_and_reads_redis() -> None:
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert "tenants-warm-pool-refill" in settings.CELERY_BEAT_SCHEDULE


def test_celery_settings_that_keep_background_work_safe() -> None:
    """Read back through the Celery app itself: a misspelt CELERY_* name would leave these at
    Celery's defaults (acks early, prefetch 4, no time limit) without any error."""
    from config.celery_app import app

    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_default_queue == "default"
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit == 300
    # Redis hands an unacknowledged message to another worker after the visibility timeout:
    # shorter than the longest task and a slow task would run twice.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.broker_transport_options["visibility_timeout"] == 900
    # One Redis list per queue: a worker's BRPOP names 2 keys per organisation, not 8.
    assert conf.broker_transport_options["priority_steps"] == [0]
    # Workers never give up on Redis: an outage makes work late, not a dead worker.
    assert conf.broker_connection_max_retries is None
    assert conf.broker_connection_retry_on_startup is True


def test_organisation_tasks_are_routed_to_their_organisation_queue() -> None:
    from types import SimpleNamespace

    from config.celery_app import app

    assert list(app.conf.task_routes) == ["tenants.queues.route_task"]
    task = SimpleNamespace(tenant_queue="reminders")

    def queue() -> str:
        options = {"headers": {"_schema_name": "acme"}}
        return str(app.amqp.router.route(options, "a.task", (), {}, task_type=task)["queue"].name)

    with override_settings(KESTREL_QUEUE_SHARDS=0):
        assert queue() == "t.acme.reminders"
    with override_settings(KESTREL_QUEUE_SHARDS=4):
        assert queue() == f"reminders.s{zlib.crc32(b'acme') % 4}"
    plain = app.amqp.router.route({}, "tenants.tasks.warm_pool_refill", (), {})
    assert plain["queue"].name == "default"


def test_beat_runs_the_scheduled_work_dispatcher_every_second() -> None:
    from config.celery_app import app

    dispatcher = app.conf.beat_schedule["tenants-dispatch-due-jobs"]
    assert dispatcher["task"] == "tenants.tasks.dispatch_due_jobs"
    assert dispatcher["schedule"] == timedelta(seconds=1)
    # A dispatch beat could not hand over in time is dropped, not piled up behind a backlog.
    assert 0 < dispatcher["options"]["expires"] <= 60
    app.loader.import_default_modules()
    assert "tenants.tasks.dispatch_due_jobs" in app.tasks


def test_production_runs_tasks_on_workers_with_the_same_celery_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = _fresh_settings_module(
        "config.settings.production",
        monkeypatch,
        {
            "DATABASE_URL": "postgresql://u@db/crm",
            "REDIS_URL": "redis://r:6379/0",
            "DJANGO_SECRET_KEY": "from-the-environment",
        },
    )
    assert getattr(module, "CELERY_TASK_ALWAYS_EAGER", False) is False
    assert module.CELERY_TASK_ACKS_LATE is True
    assert module.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert module.CELERY_TASK_TIME_LIMIT == 300
    assert module.CELERY_BROKER_TRANSPORT_OPTIONS == {
        "visibility_timeout": 900,
        "priority_steps": [0],
    }
    assert module.CELERY_TASK_ROUTES == ("tenants.queues.route_task",)
    assert module.KESTREL_QUEUE_SHARDS == 0


def _fresh_settings_module(name: str, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Any:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for module in [m for m in sys.modules if m.startswith("config.settings")]:
        monkeypatch.delitem(sys.modules, module)
    return importlib.import_module(name)


def test_environment_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _fresh_settings_module(
        "config.settings.production",
        monkeypatch,
        {
            "DATABASE_URL": "postgresql://u@db.internal:5432/crm",
            "REDIS_URL": "redis://cache.internal:6379/0",
            "BASE_DOMAIN": "Kestrel.Example",
            "DJANGO_SECRET_KEY": "from-the-environment",
            "DJANGO_DEBUG": "false",
            "KESTREL_MEDIA_ROOT": "/srv/kestrel/media",
        },
    )
    assert module.DATABASES["default"]["HOST"] == "db.internal"
    assert module.CACHES["default"]["LOCATION"] == "redis://cache.internal:6379/0"
    assert module.CELERY_BROKER_URL == "redis://cache.internal:6379/0"
    assert module.ALLOWED_HOSTS == ["kestrel.example", ".kestrel.example"]
    assert module.SECRET_KEY == "from-the-environment"
    assert module.DEBUG is False
    assert module.SESSION_COOKIE_SECURE is True
    # Web and workers read and write import files on the volume the deployment mounts here.
    assert str(module.MEDIA_ROOT) == "/srv/kestrel/media"


def test_media_root_defaults_to_the_project_media_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    project = Path(__file__).resolve().parents[2]
    for blank in (None, "  "):
        if blank is None:
            monkeypatch.delenv("KESTREL_MEDIA_ROOT", raising=False)
        else:
            monkeypatch.setenv("KESTREL_MEDIA_ROOT", blank)
        module = _fresh_settings_module(
            "config.settings.production",
            monkeypatch,
            {
                "DATABASE_URL": "postgresql://u@db/crm",
                "REDIS_URL": "redis://r:6379/0",
                "DJANGO_SECRET_KEY": "from-the-environment",
            },
        )
        media_root = module.MEDIA_ROOT
        assert media_root == project / "media", repr(blank)


def test_production_refuses_to_start_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
        _fresh_settings_module(
            "config.settings.production",
            monkeypatch,
            {
                "DATABASE_URL": "postgresql://u@db/crm",
                "REDIS_URL": "redis://r:6379/0",
            },
        )


def test_env_var_names_are_the_fixed_interface() -> None:
    from config.settings.env import ENV_VARS

    assert set(ENV_VARS) == {
        "DATABASE_URL",
        "REDIS_URL",
        "BASE_DOMAIN",
        "DJANGO_SECRET_KEY",
        "DJANGO_DEBUG",
        "DJANGO_SETTINGS_MODULE",
    }
