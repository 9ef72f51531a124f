"""Structured logs: every line of a request says which request, organisation and user it
belongs to, and the request id is the one the response shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tenants.models import Tenant
from tests.conftest import ALPHA, BETA, login, tenant_client

from .conftest import LogCapture

ROOT = Path(__file__).resolve().parents[2]


def owner_id(tenant: Tenant, email: str) -> str:
    with schema_context(tenant.schema_name):
        return str(User.objects.get(email=email).pk)


def test_a_request_on_a_tenant_host_logs_its_id_tenant_and_user(
    db: None, tenant_a: Tenant, json_logs: LogCapture, metrics_store: object
) -> None:
    client = login(tenant_client(tenant_a), tenant_a, ALPHA.owner_email)
    response = client.get("/", {"secret": "do-not-log"}, HTTP_X_REQUEST_ID="edge-7f3a-0001")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "edge-7f3a-0001"
    [line] = json_logs.access()
    assert line["request_id"] == "edge-7f3a-0001"
    assert line["tenant"] == tenant_a.schema_name
    assert line["user"] == owner_id(tenant_a, ALPHA.owner_email)
    assert line["http_method"] == "GET"
    assert line["path"] == "/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO"
    assert line["timestamp"].endswith("Z")
    # Neither the query string nor the session cookie reach the log.
    text = json_logs.stream.getvalue()
    assert "do-not-log" not in text
    assert client.cookies["sessionid"].value not in text


def test_lines_logged_by_django_itself_carry_the_request(
    db: None, tenant_b: Tenant, json_logs: LogCapture, metrics_store: object
) -> None:
    client = login(tenant_client(tenant_b), tenant_b, BETA.owner_email)
    response = client.get("/contacts/999999999/", HTTP_X_REQUEST_ID="b-404")

    assert response.status_code == 404
    [warning] = [line for line in json_logs.lines() if line["logger"] == "django.request"]
    assert warning["level"] == "WARNING"
    assert warning["request_id"] == "b-404"
    assert warning["tenant"] == tenant_b.schema_name
    assert warning["user"] == owner_id(tenant_b, BETA.owner_email)
    assert "request" not in warning  # Django's request object (with the query) is not dumped


@pytest.mark.parametrize(
    "header",
    [
        "x" * 129,  # too long
        "abc def",  # a space
        'abc"}{"tenant":"beta',  # trying to forge JSON
        "line\nbreak",  # trying to forge a log line
        "-starts-with-dash",
    ],
)
def test_a_spoofed_or_oversized_request_id_is_replaced(
    db: None, tenant_a: Tenant, json_logs: LogCapture, metrics_store: object, header: str
) -> None:
    response = tenant_client(tenant_a).get("/accounts/login/", HTTP_X_REQUEST_ID=header)

    assert response.status_code == 200
    issued = response["X-Request-ID"]
    assert issued != header
    assert len(issued) == 32 and all(c in "0123456789abcdef" for c in issued)
    [line] = json_logs.access()
    assert line["request_id"] == issued
    assert line["user"] is None  # nobody signed in


def test_every_request_gets_an_id_of_its_own(
    db: None, tenant_a: Tenant, json_logs: LogCapture, metrics_store: object
) -> None:
    client = tenant_client(tenant_a)
    first = client.get("/accounts/login/")["X-Request-ID"]
    second = client.get("/accounts/login/")["X-Request-ID"]
    assert first != second
    assert [line["request_id"] for line in json_logs.access()] == [first, second]


def test_unknown_hosts_and_the_public_host_are_labelled(
    db: None, json_logs: LogCapture, metrics_store: object
) -> None:
    Client(HTTP_HOST="nobody-here.localhost").get("/")
    Client(HTTP_HOST="localhost").get("/")
    unknown, public = json_logs.access()
    assert (unknown["tenant"], unknown["status"]) == (None, 404)
    assert (public["tenant"], public["status"]) == ("public", 200)


def test_probes_are_not_logged(db: None, json_logs: LogCapture, metrics_store: object) -> None:
    response = Client(HTTP_HOST="10.0.0.7").get("/healthz")
    assert response.status_code == 200
    assert response["X-Request-ID"]
    assert json_logs.access() == []


def test_the_json_setting_makes_the_process_log_json(tenant_a: Tenant) -> None:
    """The deployed configuration end to end: a process started with KESTREL_LOG_FORMAT=json
    writes every line of a request as one JSON object on stderr."""
    from tests.workers.conftest import test_database_url

    script = f"""
import django, json
django.setup()
from django.test import Client
from django_tenants.utils import schema_context
client = Client(HTTP_HOST="{tenant_a.slug}.localhost")
with schema_context("{tenant_a.schema_name}"):
    assert client.login(email="{ALPHA.owner_email}", password="a-long-test-password")
response = client.get("/", HTTP_X_REQUEST_ID="from-the-proxy-1")
print(json.dumps({{"status": response.status_code, "id": response["X-Request-ID"]}}))
"""
    env = {
        **os.environ,
        "KESTREL_LOG_FORMAT": "json",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": test_database_url(),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": 200, "id": "from-the-proxy-1"}
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    [access] = [line for line in lines if line["logger"] == "kestrel.access"]
    assert access["request_id"] == "from-the-proxy-1"
    assert access["tenant"] == tenant_a.schema_name
    assert access["user"]
    assert access["message"].startswith("GET / 200 ")


def test_interleaved_requests_of_two_organisations_keep_their_own_lines(
    db: None, tenant_a: Tenant, tenant_b: Tenant, json_logs: LogCapture, metrics_store: object
) -> None:
    a, b = tenant_client(tenant_a), tenant_client(tenant_b)
    ids = []
    for client in (a, b, a, b):
        ids.append(client.get("/accounts/login/")["X-Request-ID"])
    lines = json_logs.access()
    assert [line["request_id"] for line in lines] == ids
    assert [line["tenant"] for line in lines] == [
        tenant_a.schema_name,
        tenant_b.schema_name,
        tenant_a.schema_name,
        tenant_b.schema_name,
    ]


def test_a_token_in_the_path_never_reaches_the_log(
    db: None, tenant_a: Tenant, json_logs: LogCapture, metrics_store: object
) -> None:
    """A calendar feed's URL is its credential (whoever has it reads the calendar) and an
    invitation's or a password reset's link likewise: the access line names the page with
    the token left out."""
    from apps.activities.services import calendar_feed_create

    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email=ALPHA.owner_email)
        _, token = calendar_feed_create(actor=owner)
    client = tenant_client(tenant_a)
    feed = client.get(f"/activities/feed/{token}.ics")
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    invitation = "an-invitation-token-0123456789"
    client.get(f"/accounts/invitation/{invitation}/")

    lines = json_logs.access()
    assert [line["path"] for line in lines] == [
        "/activities/feed/[redacted].ics",
        "/accounts/invitation/[redacted]/",
    ]
    text = json_logs.stream.getvalue()
    assert token not in text
    assert invitation not in text
