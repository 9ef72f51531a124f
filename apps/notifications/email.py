"""The email that goes with a notification: a plain-text part and an HTML part, from the
organisation's name at the configured address, linking to the organisation's own host.

Called by the job that delivers due `email` jobs, in the organisation's schema; it raises when
the mail server refuses or cannot be reached, and the caller retries. The Message-ID is fixed
per notification, so the rare resend after a lost acknowledgement is recognisably the same
message (mail clients and servers fold such duplicates together).
"""

from __future__ import annotations

from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from apps.core.urls_util import host_url, tenant_host
from tenants.db import connection
from tenants.models import Tenant

from .models import Notification

TENANT_URLCONF = "config.urls_tenant"


def current_tenant() -> Tenant:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant) and tenant.pk is not None:
        return tenant
    return Tenant.objects.get(schema_name=connection.schema_name)


def message_id(notification: Notification, schema_name: str) -> str:
    return f"<notification-{schema_name}-{notification.pk}@{settings.KESTREL_BASE_DOMAIN}>"


def sender(tenant: Tenant) -> str:
    """The organisation's name with the configured sending address."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "no-reply@localhost"
    return formataddr((tenant.name, address))


def build_notification_email(notification: Notification) -> EmailMultiAlternatives:
    tenant = current_tenant()
    host = tenant_host(tenant.slug)
    open_path = reverse("notifications:open", args=[notification.pk], urlconf=TENANT_URLCONF)
    settings_path = reverse("notifications:settings", urlconf=TENANT_URLCONF)
    context: dict[str, Any] = {
        "notification": notification,
        "organisation": tenant.name,
        "recipient_name": notification.recipient.get_short_name(),
        "link": host_url(host, open_path),
        "settings_link": host_url(host, settings_path),
        "kind_label": notification.get_kind_display(),
    }
    message = EmailMultiAlternatives(
        subject=notification.title,
        body=render_to_string("notifications/email.txt", context),
        from_email=sender(tenant),
        to=[notification.recipient.email],
        headers={
            "Message-ID": message_id(notification, tenant.schema_name),
            # Tells auto-responders (out-of-office) not to answer an automatic message.
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    return message


def send_notification_email(notification: Notification) -> None:
    """Send the notification's email now. Raises on any SMTP failure (refused recipient or
    message, unreachable server, timeout); the caller retries and records `emailed_at`."""
    build_notification_email(notification).send(fail_silently=False)
