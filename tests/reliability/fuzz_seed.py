"""Data for the API fuzz test: an organisation of its own with a few records of every kind,
made through the running server's own API, so detail routes have real ids to hit."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from tests.reliability.live import LiveServer

API = "/api/v1"
# `/api/v1/<resource>/{id}/...` -> the list whose ids fill `{id}`.
DETAIL = re.compile(r"^/api/v1/(?P<resource>[a-z-]+)/\{(?P<name>[a-z_]+)\}/")


class SeedError(AssertionError):
    pass


class Api:
    """JSON calls to one organisation with one key."""

    def __init__(self, server: LiveServer, host: str, key: str) -> None:
        self.server = server
        self.host = host
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        expect: tuple[int, ...] = (200, 201, 202),
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        if payload is not None:
            body = json.dumps(payload).encode()
        if body is not None:
            headers["Content-Type"] = content_type
        status, _, answer = self.server.request(
            method, API + path, host=self.host, headers=headers, body=body
        )
        if status not in expect:
            raise SeedError(f"{method} {path} {payload!r} -> {status}: {answer[:500]!r}")
        return json.loads(answer) if answer else None

    def ids(self, path: str) -> list[Any]:
        page = self.call("GET", path)
        results = page["results"] if isinstance(page, dict) and "results" in page else page
        return [item["id"] for item in results if isinstance(item, dict) and "id" in item]


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "kestrelfuzzboundary"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def seed(api: Api) -> dict[str, list[Any]]:
    """A few records of every kind; returns the ids per resource (`contacts` -> [...]) and
    the report names (`reports`) and merge ids (`merges`)."""
    api.call("POST", "/tags/", {"name": "vip"})
    api.call(
        "POST",
        "/custom-fields/",
        {"entity": "contact", "key": "tier", "label": "Tier", "type": "text"},
    )
    company = api.call("POST", "/companies/", {"name": "Fuzz Works", "domain": "fuzz.test"})
    contacts = [
        api.call(
            "POST",
            "/contacts/?allow_duplicate=true",
            {
                "first_name": first,
                "last_name": "Tester",
                "email": f"{first.lower()}@fuzz.test",
                "companies": [company["id"]],
                "tags": ["vip"],
            },
        )
        for first in ("Ada", "Grace", "Edsger")
    ]
    api.call("POST", "/companies/?allow_duplicate=true", {"name": "Spare Co"})
    pipeline = api.call(
        "POST",
        "/pipelines/",
        {
            "name": "Fuzz pipeline",
            "stages": [
                {"name": "New", "order": 1, "probability": 10, "kind": "open"},
                {"name": "Won", "order": 2, "probability": 100, "kind": "won"},
                {"name": "Lost", "order": 3, "probability": 0, "kind": "lost"},
            ],
        },
    )
    stages = api.ids(f"/stages/?pipeline={pipeline['id']}")
    api.call("POST", "/lost-reasons/", {"name": "Price"})
    api.call("POST", "/lead-sources/", {"name": "Trade fair"})
    for title in ("Big deal", "Small deal"):
        api.call(
            "POST",
            "/deals/",
            {
                "title": title,
                "value": "1000.00",
                "currency": "EUR",
                "pipeline": pipeline["id"],
                "stage": stages[0],
                "contacts": [contacts[0]["id"]],
                "companies": [company["id"]],
            },
        )
    for first in ("Lena", "Linus"):
        api.call(
            "POST",
            "/leads/?allow_duplicate=true",
            {"first_name": first, "last_name": "Lead", "email": f"{first.lower()}@lead.test"},
        )
    api.call(
        "POST",
        "/activities/",
        {
            "type": "task",
            "subject": "Call back",
            "due_at": "2030-01-01T10:00:00Z",
            "contacts": [contacts[0]["id"]],
            "reminders": [15],
        },
    )
    api.call("POST", "/activities/", {"type": "note", "subject": "Met at the fair"})
    api.call(
        "POST",
        "/forms/",
        {"name": "Contact us", "fields": [{"target": "email", "required": True}]},
    )
    api.call("POST", "/api-keys/", {"name": "spare key"})
    api.call("POST", "/report-subscriptions/", {"report": "dashboard", "cadence": "weekly"})
    body, content_type = multipart(
        {"entity": "contact", "mode": "create", "dry_run": "true"},
        {"file": ("people.csv", b"first_name,last_name,email\nImp,Orted,imp@fuzz.test\n")},
    )
    api.call("POST", "/imports/", body=body, content_type=content_type)
    merge = api.call(
        "POST", "/contacts/merge/", {"survivor": contacts[1]["id"], "merged": [contacts[2]["id"]]}
    )
    api.call("POST", "/data-exports/", {})

    ids: dict[str, list[Any]] = defaultdict(list)
    for resource in (
        "activities",
        "api-keys",
        "companies",
        "contact-links",
        "contacts",
        "custom-fields",
        "data-exports",
        "deals",
        "failed-tasks",
        "forms",
        "imports",
        "lead-sources",
        "leads",
        "lost-reasons",
        "notifications",
        "pipelines",
        "report-subscriptions",
        "stages",
        "tags",
    ):
        ids[resource] = api.ids(f"/{resource}/")
    ids["merges"] = [merge["merge_id"]]
    reports = api.call("GET", "/reports/")
    ids["reports"] = [item["name"] for item in reports] if isinstance(reports, list) else []
    return dict(ids)
