"""Fixtures for notifications: people of each role in organisation A, and a real SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.test import Client, override_settings

from tenants.db import connection
from tenants.models import Tenant
from tests.conftest import login
from tests.members import client_for, in_a, member, other_rep, owner, readonly, rep

__all__ = [
    "client_for",
    "in_a",
    "member",
    "other_rep",
    "owner",
    "readonly",
    "refusing_smtp_server",
    "rep",
    "smtp_server",
]


@dataclass
class Inbox:
    """What a real SMTP server on the loopback interface received."""

    refuse_with: str | None = None
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_with:
            return self.refuse_with
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        found: list[EmailMessage] = []
        for envelope in self.envelopes:
            content = envelope.content
            raw = content if isinstance(content, bytes) else str(content).encode()
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(inbox: Inbox) -> Iterator[Inbox]:
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False,
            EMAIL_TIMEOUT=5,
        ):
            yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 (a free port), and the settings that send through it."""
    yield from _serve(Inbox())


@pytest.fixture
def refusing_smtp_server() -> Iterator[Inbox]:
    """A real SMTP server that refuses every message."""
    yield from _serve(Inbox(refuse_with="554 5.7.1 Message refused by policy"))


def texts(message: Any) -> dict[str, str]:
    """The text/plain and text/html parts of a received message, by content type."""
    return {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    }


class SchemaKeepingClient(Client):
    """A test client after whose requests the test is back in the schema it was in (the
    routing middleware leaves the connection on the public schema after each request)."""

    def request(self, **request: Any) -> Any:
        schema = connection.schema_name
        try:
            return super().request(**request)
        finally:
            connection.set_schema(schema)


def signed_in(tenant: Tenant, user: Any) -> SchemaKeepingClient:
    client = SchemaKeepingClient(HTTP_HOST=f"{tenant.slug}.localhost")
    login(client, tenant, user.email)
    return client


def anonymous(tenant: Tenant, **headers: Any) -> SchemaKeepingClient:
    return SchemaKeepingClient(HTTP_HOST=f"{tenant.slug}.localhost", **headers)
