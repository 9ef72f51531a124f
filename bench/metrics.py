"""What request observability adds to every request: the same trivial view with and without it.

    .venv/bin/python bench/metrics.py [--requests 4000] [--blocks 6]

Three stacks serve GET /trivial/ on an organisation's host through Django's WSGI handler,
in-process, interleaved in blocks so that all see the same machine state:

- baseline:   the product's middleware stack without RequestObservabilityMiddleware;
- observed:   the full stack: request id, one JSON access-log line (formatted and written to
              /dev/null) and the request metrics (five counters added to the process's
              buffer, sent to Redis by a background thread every second);
- no_access_log: the full stack with the `kestrel.access` logger off (what the access line
              costs is the difference to `observed`);
- redis_down: the full stack with the metrics Redis on a closed port (the background sends
              fail; the counts wait in the process).

Uses the first organisation of the database (DATABASE_URL; one is provisioned if there is
none) and the Redis of REDIS_URL: the bench's requests are counted in that Redis's metrics
under that organisation. Results: a markdown table on stdout and bench/results/metrics.json.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.client import RequestFactory  # noqa: E402

from apps.core.observability.logging import ContextFilter, JsonFormatter  # noqa: E402
from tenants.models import Domain, Tenant  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from provisioning import ensure_background  # noqa: E402

OBSERVABILITY = "apps.core.observability.middleware.RequestObservabilityMiddleware"


def make_handler(observed: bool) -> WSGIHandler:
    middleware = list(settings.MIDDLEWARE)
    if not observed:
        middleware.remove(OBSERVABILITY)
    with override_settings(MIDDLEWARE=middleware, DEBUG=False):
        return WSGIHandler()


def environ(host: str) -> dict[str, Any]:
    base: dict[str, Any] = RequestFactory()._base_environ(  # type: ignore[attr-defined]
        PATH_INFO="/trivial/", HTTP_HOST=host
    )
    base["wsgi.input"] = io.BytesIO(b"")
    return base


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    assert status.startswith("200"), status
    return None


def timed_block(handler: WSGIHandler, host: str, count: int) -> float:
    template = environ(host)
    started = time.perf_counter()
    for _ in range(count):
        body = handler(dict(template), start_response)
        b"".join(body)
        body.close()
    return (time.perf_counter() - started) / count


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def organisation_host() -> str:
    tenant = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).first()
    if tenant is None:
        ensure_background(1)
        tenant = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).first()
    assert tenant is not None
    return str(Domain.objects.filter(tenant=tenant).values_list("domain", flat=True).first())


def production_logging() -> None:
    """The JSON handler production uses, writing to /dev/null instead of stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115  (for the whole run)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--blocks", type=int, default=6)
    args = parser.parse_args()

    host = organisation_host()
    production_logging()
    down = f"redis://127.0.0.1:{closed_port()}/0"
    with override_settings(ROOT_URLCONF="trivial_urls", PUBLIC_SCHEMA_URLCONF="trivial_urls"):
        baseline = make_handler(observed=False)
        observed = make_handler(observed=True)
        # Warm up (imports, URL resolver, first database and Redis connections).
        timed_block(baseline, host, 200)
        timed_block(observed, host, 200)
        with override_settings(KESTREL_METRICS_REDIS_URL=down):
            timed_block(observed, host, 20)
        samples: dict[str, list[float]] = {
            "baseline": [],
            "observed": [],
            "no_access_log": [],
            "redis_down": [],
        }
        access = logging.getLogger("kestrel.access")
        for _ in range(args.blocks):
            samples["baseline"].append(timed_block(baseline, host, args.requests))
            samples["observed"].append(timed_block(observed, host, args.requests))
            access.disabled = True
            samples["no_access_log"].append(timed_block(observed, host, args.requests))
            access.disabled = False
            with override_settings(KESTREL_METRICS_REDIS_URL=down):
                samples["redis_down"].append(timed_block(observed, host, args.requests))

    per_request = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    base = per_request["baseline"]
    print(
        f"\nObservability overhead per request ({host}, "
        f"{args.blocks} blocks of {args.requests} requests)\n"
    )
    print("| stack | per request | overhead vs baseline | ratio to baseline |")
    print("|---|---|---|---|")
    for name, value in per_request.items():
        print(f"| {name} | {value:.3f} ms | {value - base:+.3f} ms | {value / base:.2f} |")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "metrics.json").write_text(
        json.dumps(
            {
                "per_request_ms": per_request,
                "ratio": {name: value / base for name, value in per_request.items()},
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
