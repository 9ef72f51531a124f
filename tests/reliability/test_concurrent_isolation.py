"""No response ever carries another organisation's data, under concurrency, through a real
server: Gunicorn (deploy/gunicorn.conf.py, several workers x threads) serving three committed
organisations, each with distinguishable contacts, companies, deals, leads and activities.

Fifty clients, each a thread with its own keep-alive HTTP connection, alternate between the
organisations and hit lists, details, searches (the API's `search=`, the web list's `q=` and
the global search page) and CSV exports, through the API (API key) and the web app (signed-in
session), twelve requests each (stopping after 8 s on a slow machine). Every answer must be
200 and hold only its own organisation's records: its ids (each organisation's ids are moved
to a range of their own), and none of the other organisations' markers (a token in every
record's name and email, the slug, the owner's address). A search for another organisation's
token finds nothing of it, and asking for another organisation's record id is a 404.

Cache angle: reports are cached per organisation in the shared Redis under the same report
key; the same URL asked of the three organisations in turn must give each its own figures.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from tests.reliability.conftest import PASSWORD, CommittedOrganisations
from tests.reliability.live import LiveServer, database_url, redis_url, start_gunicorn

ORGANISATIONS = 3
CLIENTS = 50
REQUESTS_PER_CLIENT = 12
# A bound on the run on a slow or busy machine: clients stop starting requests after this.
RUN_SECONDS = 8.0
ID_SPACING = 1_000_000  # organisation k's records have ids from k x ID_SPACING on
ENTITIES = ("contacts", "companies", "deals", "leads", "activities")


@dataclass
class Org:
    index: int
    slug: str
    schema: str
    host: str
    token: str
    owner_email: str
    key: str = ""
    session: str = ""
    ids: dict[str, list[int]] = field(default_factory=dict)
    search_terms: dict[str, str] = field(default_factory=dict)
    report: Any = None

    @property
    def markers(self) -> tuple[str, ...]:
        """Strings that only this organisation's answers may contain."""
        return (self.token, self.slug, self.owner_email)

    def owns(self, record_id: int) -> bool:
        return self.index * ID_SPACING <= record_id < (self.index + 1) * ID_SPACING


def _api(
    server: LiveServer, org: Org, method: str, path: str, payload: Any = None
) -> tuple[int, Any]:
    status, _, body = server.request(
        method,
        path,
        host=org.host,
        headers={"Authorization": f"Bearer {org.key}", "Content-Type": "application/json"},
        body=json.dumps(payload) if payload is not None else None,
    )
    return status, json.loads(body) if body else None


def _move_id_sequences(org: Org) -> None:
    """Each organisation's records get ids of a range of their own, so an id alone tells
    whose a record is (every schema's sequences otherwise start at 1)."""
    from apps.activities.models import Activity
    from apps.companies.models import Company
    from apps.contacts.models import Contact
    from apps.deals.models import Deal
    from apps.leads.models import Lead
    from tenants.db import connection

    with schema_context(org.schema), connection.cursor() as cursor:
        for model in (Contact, Company, Deal, Lead, Activity):
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)",
                [model._meta.db_table, org.index * ID_SPACING],
            )


def _fill(server: LiveServer, org: Org) -> None:
    """Records through the API, each naming the organisation's token; org k gets k+1 deals
    of distinct values, so its pipeline report differs from every other's. The records of
    one kind are created side by side."""
    t, k = org.token, org.index
    made: dict[str, list[int]] = {entity: [] for entity in ENTITIES}

    def create(entity: str, payload: dict[str, Any]) -> None:
        status, body = _api(server, org, "POST", f"/api/v1/{entity}/", payload)
        assert status == 201, (entity, status, body)
        made[entity].append(int(body["id"]))

    def each(entity: str, payloads: list[dict[str, Any]]) -> None:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda payload: create(entity, payload), payloads))

    each("companies", [{"name": f"Firm{n} {t}", "domain": f"f{n}-{t}.example"} for n in range(2)])
    each(
        "contacts",
        [
            {
                "first_name": f"Ada{n}",
                "last_name": f"Zed{t}",
                "email": f"ada{n}.{t}@{org.slug}.test",
                "companies": [made["companies"][n % 2]],
            }
            for n in range(4)
        ],
    )
    each(
        "deals",
        [
            {
                "title": f"Deal{n} {t}",
                "value": str(1000 * (k + 1) + n),
                "contacts": [made["contacts"][n % 4]],
            }
            for n in range(k + 1)
        ],
    )
    each(
        "leads",
        [
            {
                "first_name": f"Lee{n}",
                "last_name": f"Zed{t}",
                "email": f"lee{n}.{t}@{org.slug}.test",
                "company_name": f"Prospect {t}",
            }
            for n in range(2)
        ],
    )
    each(
        "activities",
        [
            {
                "type": "task",
                "subject": f"Call{n} {t}",
                "due_at": f"2030-01-0{n + 1}T10:00:00Z",
                "contacts": [made["contacts"][n]],
            }
            for n in range(2)
        ],
    )
    org.ids = made
    org.search_terms = {
        "contacts": f"Zed{t}",
        "companies": t,
        "deals": t,
        "leads": f"Zed{t}",
        "activities": t,
    }


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    committed_organisations: CommittedOrganisations,
    django_db_blocker: Any,
) -> Iterator[tuple[LiveServer, list[Org]]]:
    """Gunicorn (2 workers x 4 threads, test settings) and the filled organisations. The
    workers boot while the organisations are provisioned."""
    from apps.apikeys.services import api_key_create

    with django_db_blocker.unblock():
        url = database_url()
    server = start_gunicorn(
        database_url=url,
        redis_url=redis_url(),
        log=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
        workers=2,
        threads=4,
        # Sessions signed in here hold a hash keyed by the secret key.
        env={"DJANGO_SECRET_KEY": settings.SECRET_KEY},
        wait=False,
    )
    try:
        made: list[Org] = []
        for index in range(1, ORGANISATIONS + 1):
            tenant = committed_organisations.make(f"iso{index}")
            org = Org(
                index=index,
                slug=tenant.slug,
                schema=tenant.schema_name,
                host=server.host(tenant.slug),
                token=f"q{uuid.uuid4().hex[:9]}",
                owner_email=f"owner@{tenant.slug}.test",
            )
            with django_db_blocker.unblock():
                with schema_context(org.schema):
                    org.key = api_key_create(name="isolation", role="admin").secret
                _move_id_sequences(org)
                browser = Client(HTTP_HOST=org.host)
                with schema_context(org.schema):
                    assert browser.login(email=org.owner_email, password=PASSWORD)
                org.session = browser.cookies[settings.SESSION_COOKIE_NAME].value
            made.append(org)
        server.wait_until_ready()
        # Filled side by side through the server: the organisations' writes interleave too.
        with ThreadPoolExecutor(len(made)) as pool:
            list(pool.map(lambda org: _fill(server, org), made))
        for org in made:
            status, org.report = _api(server, org, "GET", REPORT)
            assert status == 200, org.report
        reports = [json.dumps(org.report, sort_keys=True) for org in made]
        assert len(set(reports)) == len(made), "the organisations' reports should differ"
        yield server, made
    finally:
        server.stop()  # before the organisations are deleted


REPORT = "/api/v1/reports/pipeline-by-stage/"

# --- what is asked, and what each answer must hold --------------------------------------

Check = Callable[[Org, bytes], str | None]


@dataclass(frozen=True)
class Probe:
    kind: str  # e.g. "api list", "web export": the counts are reported per kind
    path: str
    web: bool
    check: Check | None = None
    status: int = 200


def _json_ids(body: bytes) -> list[int]:
    data = json.loads(body)
    rows = data["results"] if isinstance(data, dict) and "results" in data else [data]
    return [int(row["id"]) for row in rows]


def _ids_exactly(expected: list[int]) -> Check:
    def check(org: Org, body: bytes) -> str | None:
        found = _json_ids(body)
        return None if sorted(found) == sorted(expected) else f"ids {found} != {expected}"

    return check


def _ids_own(non_empty: bool) -> Check:
    def check(org: Org, body: bytes) -> str | None:
        found = _json_ids(body)
        foreign = [i for i in found if not org.owns(i)]
        if foreign:
            return f"foreign ids {foreign}"
        return "nothing found" if non_empty and not found else None

    return check


def _mentions_own_token(org: Org, body: bytes) -> str | None:
    return None if org.token.encode() in body else "its own records are missing"


def _csv_rows(expected: int) -> Check:
    def check(org: Org, body: bytes) -> str | None:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1:]
        if len(rows) != expected:
            return f"{len(rows)} rows instead of {expected}"
        strangers = [row for row in rows if org.token not in ",".join(row)]
        return f"rows not of this organisation: {strangers}" if strangers else None

    return check


def _same_report(org: Org, body: bytes) -> str | None:
    return None if json.loads(body) == org.report else "another report than its own"


def _probes(org: Org, other: Org) -> list[Probe]:
    """What one organisation is asked; `other` is a neighbour whose ids and token it asks
    for (its own host must not give them)."""
    probes: list[Probe] = []
    for entity in ENTITIES:
        ids = org.ids[entity]
        term = org.search_terms[entity]
        probes += [
            Probe("api list", f"/api/v1/{entity}/", False, _ids_exactly(ids)),
            Probe("api search", f"/api/v1/{entity}/?search={term}", False, _ids_own(True)),
            Probe(
                "api export csv", f"/api/v1/{entity}/export/?format=csv", False, _csv_rows(len(ids))
            ),
            Probe("web list", f"/{entity}/", True, _mentions_own_token),
            Probe("web search", f"/{entity}/?q={term}", True, _mentions_own_token),
            Probe("web export csv", f"/{entity}/export/?format=csv", True, _csv_rows(len(ids))),
            Probe(
                "api search other's token",
                f"/api/v1/{entity}/?search={other.token}",
                False,
                _ids_own(False),
            ),
            Probe("api other's id", f"/api/v1/{entity}/{other.ids[entity][0]}/", False, status=404),
            Probe("web other's id", f"/{entity}/{other.ids[entity][0]}/", True, status=404),
        ]
        for record_id in ids:
            probes += [
                Probe(
                    "api detail", f"/api/v1/{entity}/{record_id}/", False, _ids_exactly([record_id])
                ),
                Probe("web detail", f"/{entity}/{record_id}/", True, _mentions_own_token),
            ]
    probes += [
        Probe("web global search", f"/search/?q={org.token}", True, _mentions_own_token),
        Probe("api report (cached)", REPORT, False, _same_report),
        Probe("web report (cached)", "/reports/pipeline-by-stage/", True),
    ]
    return probes


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    failures: list[str] = field(default_factory=list)

    def record(self, kind: str, status: int, seconds: float, failure: str | None) -> None:
        with self.lock:
            self.answered[kind] += 1
            self.seconds[kind] += seconds
            self.statuses[status] += 1
            if failure:
                self.failures.append(failure)


def _client(
    server: LiveServer,
    orgs: list[Org],
    probes: dict[tuple[int, str], list[Probe]],
    number: int,
    deadline: float,
    tally: Tally,
) -> None:
    """One client: its own keep-alive connection; each request goes to the next
    organisation, and the first requests of all clients together make every kind."""
    rng = random.Random(number)
    kinds = sorted({kind for _, kind in probes})
    connection = server.connection(timeout=60)
    try:
        for turn in range(REQUESTS_PER_CLIENT):
            if time.monotonic() > deadline:
                break
            org = orgs[(number + turn) % len(orgs)]
            kind = kinds[(number + turn * 5) % len(kinds)]
            probe = rng.choice(probes[org.index, kind])
            headers = {"Host": org.host}
            if probe.web:
                headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={org.session}"
            else:
                headers["Authorization"] = f"Bearer {org.key}"
            sent = time.monotonic()
            try:
                connection.request("GET", probe.path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (http.client.HTTPException, OSError) as exc:
                connection.close()
                connection = server.connection(timeout=60)
                tally.record(probe.kind, 0, 0.0, f"{org.slug} {probe.path}: {exc!r}")
                continue
            verdict = _verdict(orgs, org, probe, response.status, body)
            tally.record(probe.kind, response.status, time.monotonic() - sent, verdict)
    finally:
        connection.close()


def _verdict(orgs: list[Org], org: Org, probe: Probe, status: int, body: bytes) -> str | None:
    where = f"{org.slug} {'web' if probe.web else 'api'} {probe.path} -> {status}"
    if status != probe.status:
        return f"{where}: expected {probe.status}: {body[:300]!r}"
    lowered = body.lower()
    for stranger in orgs:
        if stranger is org:
            continue
        leaked = [m for m in stranger.markers if m.lower().encode() in lowered]
        if leaked:
            return f"{where}: carries {stranger.slug}'s {leaked}"
    if probe.check is not None and status == 200:
        try:
            problem = probe.check(org, body)
        except (ValueError, KeyError, TypeError) as exc:
            problem = f"unreadable answer ({exc!r}): {body[:300]!r}"
        if problem:
            return f"{where}: {problem}"
    return None


def test_concurrent_clients_only_ever_see_their_own_organisation(
    served: tuple[LiveServer, list[Org]],
) -> None:
    gunicorn_server, orgs = served
    probes: dict[tuple[int, str], list[Probe]] = {}
    for org in orgs:
        for probe in _probes(org, orgs[org.index % len(orgs)]):
            probes.setdefault((org.index, probe.kind), []).append(probe)
    tally = Tally()
    deadline = time.monotonic() + RUN_SECONDS
    threads = [
        threading.Thread(
            target=_client, args=(gunicorn_server, orgs, probes, n, deadline, tally), daemon=True
        )
        for n in range(CLIENTS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=RUN_SECONDS + 90)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "a client did not finish"

    total = sum(tally.answered.values())
    print(
        f"\n{total} requests by {CLIENTS} clients over {len(orgs)} organisations in "
        f"{elapsed:.1f} s ({total / elapsed:.0f}/s); statuses {dict(tally.statuses)}; "
        + ", ".join(
            f"{kind} {count} (mean {1000 * tally.seconds[kind] / count:.0f} ms)"
            for kind, count in sorted(tally.answered.items())
        )
    )
    assert not tally.failures, f"{len(tally.failures)} bad answers:\n" + "\n".join(
        tally.failures[:20]
    )
    # Every kind of request was made (the clients' first requests cover them all).
    assert set(tally.answered) == {kind for _, kind in probes}
    assert total >= CLIENTS
