"""Locust users for bench/load.py (run by it as a separate process: Locust's gevent patches
the whole interpreter, so it never shares one with Django).

    LOAD_SPEC=<spec.json> LOAD_RATE=<task runs per second per user, 0 = no wait> \
        .venv/bin/locust -f bench/load_locustfile.py --headless ... ProductUser|BaselineUser

ProductUser: one organisation (Host header) and one of its API keys per user, users spread
round-robin over the 20 organisations; a mix of reads (80 %) and writes (20 %) through the
API. BaselineUser: GET /bench/trivial/ on the baseline server (a bare DRF view).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, task

SPEC: dict[str, Any] = json.loads(Path(os.environ["LOAD_SPEC"]).read_text())
RATE = float(os.environ.get("LOAD_RATE", "0"))
_numbers = itertools.count()


def _wait() -> Any:
    return constant_throughput(RATE) if RATE > 0 else constant(0)


class ProductUser(FastHttpUser):
    wait_time = _wait()

    def on_start(self) -> None:
        number = next(_numbers)
        tenants = SPEC["tenants"]
        self.tenant = tenants[number % len(tenants)]
        keys = self.tenant["keys"]
        key = keys[(number // len(tenants)) % len(keys)]
        self.headers = {
            "Host": self.tenant["host"],
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
        }
        self.rng = random.Random(number)

    def _get(self, path: str, name: str) -> None:
        self.client.get(path, headers=self.headers, name=name)

    @task(20)
    def list_contacts(self) -> None:
        self._get("/api/v1/contacts/", "GET contacts")

    @task(15)
    def contact_detail(self) -> None:
        contact = self.rng.choice(self.tenant["contacts"])
        self._get(f"/api/v1/contacts/{contact}/", "GET contacts/<id>")

    @task(10)
    def search_contacts(self) -> None:
        term = self.rng.choice(self.tenant["contact_terms"])
        self._get(f"/api/v1/contacts/?search={term}", "GET contacts?search=")

    @task(10)
    def list_deals(self) -> None:
        self._get("/api/v1/deals/", "GET deals")

    @task(10)
    def deal_detail(self) -> None:
        deal = self.rng.choice(self.tenant["deals"])
        self._get(f"/api/v1/deals/{deal}/", "GET deals/<id>")

    @task(5)
    def search_deals(self) -> None:
        term = self.rng.choice(self.tenant["deal_terms"])
        self._get(f"/api/v1/deals/?search={term}", "GET deals?search=")

    @task(5)
    def list_companies(self) -> None:
        self._get("/api/v1/companies/", "GET companies")

    @task(5)
    def list_activities(self) -> None:
        self._get("/api/v1/activities/", "GET activities")

    @task(7)
    def create_contact(self) -> None:
        tag = uuid.uuid4().hex[:10]
        body = {
            "first_name": f"Load{tag[:4]}",
            "last_name": f"Run{tag}",
            "email": f"{tag}@load.test",
        }
        self.client.post(
            "/api/v1/contacts/", data=json.dumps(body), headers=self.headers, name="POST contacts"
        )

    @task(7)
    def update_deal(self) -> None:
        deal = self.rng.choice(self.tenant["deals"])
        body = {"value": str(self.rng.randint(100, 99_999))}
        self.client.patch(
            f"/api/v1/deals/{deal}/",
            data=json.dumps(body),
            headers=self.headers,
            name="PATCH deals/<id>",
        )

    @task(6)
    def create_activity(self) -> None:
        body = {
            "type": "call",
            "subject": f"Load call {uuid.uuid4().hex[:8]}",
            "due_at": "2031-03-01T10:00:00Z",
            "contacts": [self.rng.choice(self.tenant["contacts"])],
        }
        self.client.post(
            "/api/v1/activities/",
            data=json.dumps(body),
            headers=self.headers,
            name="POST activities",
        )


class BaselineUser(FastHttpUser):
    wait_time = _wait()

    @task
    def trivial(self) -> None:
        self.client.get(
            "/bench/trivial/", headers={"Host": SPEC["baseline_host"]}, name="GET trivial"
        )
