"""The whole REST API fuzzed from its own OpenAPI schema, against a real Gunicorn.

Schemathesis reads /api/v1/schema/ from the running server (tests/reliability/live.py:
deploy/gunicorn.conf.py, test settings) and, for EVERY operation in it, sends generated
requests with an owner API key of an organisation made for this module (committed, seeded
with a few records of every kind through the API itself, deleted afterwards; the suite's
shared organisations are never touched). Path ids are drawn from the seeded records half of
the time (a `flatmap_path_parameters` hook), so detail routes reach real objects as well as
missing ones; the fuzzing key itself is never revoked. Every response must:

- never be a 5xx (`not_a_server_error`);
- have a status code, content type, headers and body the schema documents
  (`status_code_conformance`, `content_type_conformance`, `response_headers_conformance`,
  `response_schema_conformance`);
- when it is an error, be the API's one envelope
  `{"error": {"code", "message", "field", "details"}}` (`error_envelope`, below).

It runs Schemathesis' engine (what `schemathesis run` uses) in one test rather than
`schemathesis.pytest.from_fixture`, whose per-operation subtests do not work on pytest 9.2
(they set `Node._nodeid`, which pytest no longer has); every failure is listed in the
assertion with a curl command to replay it.

Phases: explicit examples, coverage (schema-derived boundary cases) and fuzzing
(`max-examples` per operation), derandomised with a fixed seed so a run is repeatable; no
stateful phase (its links would add minutes). The default run is bounded for the suite:
2 examples per operation, positive data only, and the coverage phase only for operations
without a body (for POST/PUT/PATCH it sends every boundary case of every field, thousands of
requests): about 500 requests. The long run, by hand (negative data too, the coverage phase
for every operation, each request again without the key; tens of thousands of requests, so
this command stops it after 50 minutes):

    KESTREL_FUZZ_EXAMPLES=200 KESTREL_FUZZ_WORKERS=4 KESTREL_FUZZ_MAX_TIME=3000 \
    DATABASE_URL=... REDIS_URL=... DJANGO_SETTINGS_MODULE=config.settings.test \
    .venv/bin/pytest -p no:cacheprovider tests/reliability/test_api_fuzz.py

KESTREL_FUZZ_SEED=<n> picks another seed, KESTREL_FUZZ_MAX_TIME=<s> stops a run after that
many seconds (0: none). What a run did (requests per operation, statuses, failures) is written to
test-results/fuzz/summary-<examples>.json.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

# hypothesis imports this module lazily, the first time a strategy needs it; schemathesis
# workers (threads) can race on that import ("cannot import name 'RandomStrategy'").
import hypothesis.strategies._internal.random  # noqa: F401
import pytest
import schemathesis
import schemathesis.engine
from django_tenants.utils import schema_context
from hypothesis import strategies as st
from schemathesis.checks import CHECKS
from schemathesis.core.result import Ok

from tests.reliability.fuzz_seed import DETAIL, Api, seed
from tests.reliability.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("KESTREL_FUZZ_EXAMPLES", "2"))
SUMMARY = ROOT / "test-results" / "fuzz" / f"summary-{EXAMPLES}.json"
# Seconds after which a (long) run stops where it is; 0: no limit.
MAX_TIME = int(os.environ.get("KESTREL_FUZZ_MAX_TIME", "0"))
SEED = int(os.environ.get("KESTREL_FUZZ_SEED", "20261126"))
LONG_RUN = EXAMPLES > 10
# Concurrent requests; the server has 2 processes x 4 threads.
WORKERS = int(os.environ.get("KESTREL_FUZZ_WORKERS", "2"))

pytestmark = pytest.mark.slow


class Target:
    def __init__(
        self, server: LiveServer, host: str, key: str, key_id: int, ids: dict[str, list[Any]]
    ) -> None:
        self.server = server
        self.host = host
        self.key = key
        self.key_id = key_id
        self.ids = ids
        self.base_url = f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def fuzz_target(
    gunicorn_server: LiveServer, committed_organisations: Any, django_db_blocker: Any
) -> Target:
    from apps.accounts.models import User
    from apps.apikeys.services import api_key_create

    tenant = committed_organisations.make("fuzz")
    with django_db_blocker.unblock(), schema_context(tenant.schema_name):
        # A key its owner made: it acts with the owner role, on the owner's behalf.
        owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        issued = api_key_create(name="fuzzing", role="owner", created_by=owner)
    host = gunicorn_server.host(tenant.slug)
    ids = seed(Api(gunicorn_server, host, issued.secret))
    return Target(gunicorn_server, host, issued.secret, issued.key.pk, ids)


def error_envelope_problem(status: int, content_type: str, body: bytes) -> str | None:
    """What is wrong with an error response, measured against the API's one envelope
    (apps/core/api/errors.py), or None."""
    if status < 400:
        return None
    if not content_type.startswith("application/json"):
        return f"{status} answered with {content_type or 'no content type'}, not JSON"
    try:
        data = json.loads(body)
    except ValueError:
        return f"{status} answered with a body that is not JSON: {body[:200]!r}"
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or set(data) != {"error"}:
        return f"{status} answered without the error envelope: {body[:300]!r}"
    if set(error) != {"code", "message", "field", "details"}:
        return f"{status} envelope has keys {sorted(error)}"
    if not isinstance(error["code"], str) or not re.fullmatch(r"[a-z][a-z0-9_]*", error["code"]):
        return f"{status} envelope code {error['code']!r} is not a snake_case code"
    if not isinstance(error["message"], str) or not error["message"]:
        return f"{status} envelope has no message"
    if error["field"] is not None and not isinstance(error["field"], str):
        return f"{status} envelope field {error['field']!r} is not a field name"
    return None


def error_envelope(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every 4xx/5xx is `{"error": {"code", "message", "field", "details"}}`."""
    problem = error_envelope_problem(
        response.status_code, response.headers.get("content-type", [""])[0], response.content
    )
    if problem is not None:
        raise AssertionError(problem)


def schema_config(target: Target) -> schemathesis.Config:
    config: dict[str, Any] = {
        "seed": SEED,
        "base-url": target.base_url,
        "headers": {"Host": target.host, "Authorization": f"Bearer {target.key}"},
        "request-timeout": 30,
        "workers": WORKERS,
        "cache": {"enabled": False},
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "generation": {
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",
            "no-shrink": True,
            "mode": "all" if LONG_RUN else "positive",
        },
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            # Judged by people: what counts as valid input is richer than the schema says.
            "negative_data_rejection": {"enabled": False},
            "positive_data_acceptance": {"enabled": False},
            # Need the stateful phase.
            "use_after_free": {"enabled": False},
            "ensure_resource_availability": {"enabled": False},
            # Every request again without the key (and with a wrong one), which must be
            # refused: doubles the requests, so the long run only (the short run with it
            # found nothing; tests/isolation covers keys and roles).
            "ignored_auth": {"enabled": LONG_RUN},
        },
    }
    if MAX_TIME:
        config["max-time"] = MAX_TIME
    if not LONG_RUN:
        # The coverage phase sends every boundary case of a request body: thousands of
        # requests for the writes. The short run keeps it for parameters (reads, deletes).
        config["operations"] = [
            {"include-method": ["POST", "PUT", "PATCH"], "phases": {"coverage": {"enabled": False}}}
        ]
    return schemathesis.Config.from_dict(config)


def load_schema(target: Target) -> Any:
    """The schema the running server publishes for the organisation, with the hook that
    fills path ids from the seeded records."""
    schema = schemathesis.openapi.from_url(
        f"{target.base_url}/api/v1/schema/?format=json",
        config=schema_config(target),
        headers={"Host": target.host, "Authorization": f"Bearer {target.key}"},
    )

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        """Half the time a path id is one of the seeded records (else what was generated)."""
        match = DETAIL.match(context.operation.path) if context.operation else None
        if not match or match["name"] not in path_parameters:
            return st.just(path_parameters)
        real = list(target.ids.get(match["resource"]) or [])
        if match["resource"] == "api-keys":
            # Revoking the fuzzing key itself would end the run.
            real = [value for value in real if value != target.key_id]
        if not real:
            return st.just(path_parameters)
        return st.one_of(
            st.just(path_parameters),
            st.sampled_from(real).map(lambda value: {**path_parameters, match["name"]: value}),
        )

    @schema.hook
    def map_case(context: Any, case: schemathesis.Case) -> schemathesis.Case:
        if case.operation.path == "/api/v1/api-keys/{id}/revoke/" and str(
            (case.path_parameters or {}).get("id")
        ) == str(target.key_id):
            case.path_parameters = {**(case.path_parameters or {}), "id": 0}
        return case

    return schema


class Outcome:
    """What a run did: requests per operation, statuses, and every failed check."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.failures: dict[tuple[str, str], str] = {}
        self.errors: list[str] = []
        self.operations: set[str] = set()
        self.running_time = 0.0

    def record(self, event: Any) -> None:
        from schemathesis.engine import Status, events

        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            self.operations.add(recorder.label)
            for interaction in recorder.interactions.values():
                self.requests[recorder.label] += 1
                if interaction.response is not None:
                    self.statuses[interaction.response.status_code] += 1
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        key = (recorder.label, f"{check.name}: {failure.title}")
                        if key not in self.failures:
                            answered = recorder.interactions.get(case_id)
                            status = (
                                answered.response.status_code
                                if answered is not None and answered.response is not None
                                else None
                            )
                            self.failures[key] = (
                                f"{failure.message[:600]}\n    [{status}] "
                                f"{check.failure_info.code_sample[:600]}"
                            )
        elif isinstance(event, events.NonFatalError):
            self.errors.append(f"{event.label}: {event.info.title}: {event.info.message[:400]}")
        elif isinstance(event, events.FatalError):
            self.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            self.running_time = event.running_time

    def report(self) -> str:
        lines = [
            f"{len(self.failures)} distinct failures, {len(self.errors)} errors, "
            f"{sum(self.requests.values())} requests over {len(self.operations)} operations"
        ]
        for (label, title), detail in sorted(self.failures.items()):
            lines.append(f"- {label}: {title}\n    {detail}")
        lines.extend(f"- error {error}" for error in self.errors)
        return "\n".join(lines)


def test_every_operation_survives_fuzzing(
    fuzz_target: Target, request: pytest.FixtureRequest
) -> None:
    schema = load_schema(fuzz_target)
    planned = {
        result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)
    }
    outcome = Outcome()
    # Registered for this run only: other schemathesis users in the session keep theirs.
    schemathesis.check(error_envelope)
    try:
        for event in schemathesis.engine.from_schema(schema).execute():
            outcome.record(event)
    finally:
        CHECKS.unregister(error_envelope.__name__)
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(
        json.dumps(
            {
                "examples": EXAMPLES,
                "seed": SEED,
                "running_time": round(outcome.running_time, 1),
                "operations": len(outcome.operations),
                "requests": sum(outcome.requests.values()),
                "statuses": dict(sorted(outcome.statuses.items())),
                "failures": [f"{label}: {title}" for label, title in sorted(outcome.failures)],
                "errors": outcome.errors,
                "per_operation": dict(sorted(outcome.requests.items())),
            },
            indent=1,
        )
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"API fuzz: {outcome.report().splitlines()[0]} (see {SUMMARY})")
    assert not outcome.failures and not outcome.errors, outcome.report()
    assert outcome.operations >= planned
