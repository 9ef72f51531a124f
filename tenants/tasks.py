from __future__ import annotations

from celery import shared_task

from . import provisioning


@shared_task(name="tenants.tasks.warm_pool_refill", ignore_result=True)
def warm_pool_refill() -> int:
    """Keep the pool of ready-made schemas topped up (public schema; beat and post-sign-up)."""
    return provisioning.warm_pool_refill()


@shared_task(name="tenants.tasks.workspace_reminder_send", ignore_result=True)
def workspace_reminder_send(*, email: str, scheme: str = "https", port: str = "443") -> int:
    """Email `email` the addresses of every workspace they belong to (or say there are none)."""
    from django.conf import settings
    from django.core.mail import send_mail

    from apps.core.urls_util import tenant_host

    from .selectors import tenants_for_email

    suffix = "" if (scheme, port) in {("https", "443"), ("http", "80")} else f":{port}"
    tenants = tenants_for_email(email)
    if tenants:
        lines = [f"- {t.name}: {scheme}://{tenant_host(t.slug)}{suffix}/" for t in tenants]
        body = "Your Kestrel workspaces:\n\n" + "\n".join(lines)
    else:
        body = (
            "We could not find a Kestrel workspace for this address. "
            f"You can create one at {scheme}://{settings.KESTREL_BASE_DOMAIN}{suffix}/signup/"
        )
    send_mail("Your Kestrel workspaces", body, None, [email])
    return len(tenants)
