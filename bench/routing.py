"""What tenancy adds to every request: the same trivial view with and without it.

    .venv/bin/python bench/routing.py [--tenants 200] [--requests 4000] [--blocks 6]

Three stacks serve GET /trivial/ through Django's WSGI handler, in-process, interleaved in
blocks so that all see the same machine state:

- baseline: the product's middleware stack without the tenant middleware, on the public host;
- tenant:   the full stack on a tenant host (host -> tenant from the in-process table, schema
            switched, URL map chosen);
- uncached: the full stack with the host table emptied before each request, i.e. one
            Domain query per request, as a plain database lookup would cost.

Results: a markdown table on stdout and bench/results/routing.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
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

from tenants.routing import host_table  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from provisioning import ensure_background  # noqa: E402

TENANT_MIDDLEWARE = "tenants.middleware.TenantRoutingMiddleware"


def make_handler(with_tenancy: bool) -> WSGIHandler:
    middleware = list(settings.MIDDLEWARE)
    if not with_tenancy:
        middleware.remove(TENANT_MIDDLEWARE)
    with override_settings(
        MIDDLEWARE=middleware,
        ROOT_URLCONF="trivial_urls",
        PUBLIC_SCHEMA_URLCONF="trivial_urls",
        DEBUG=False,
    ):
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


def timed_block(
    handler: WSGIHandler, host: str, count: int, before_each: Callable[[], None] | None = None
) -> float:
    template = environ(host)
    started = time.perf_counter()
    for _ in range(count):
        if before_each is not None:
            before_each()
        body = handler(dict(template), start_response)
        b"".join(body)
        body.close()
    return (time.perf_counter() - started) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--blocks", type=int, default=6)
    args = parser.parse_args()

    ensure_background(args.tenants)
    host = f"bg-{args.tenants // 2:05d}.{settings.KESTREL_BASE_DOMAIN}"
    public = settings.KESTREL_BASE_DOMAIN
    with override_settings(ROOT_URLCONF="trivial_urls", PUBLIC_SCHEMA_URLCONF="trivial_urls"):
        baseline = make_handler(with_tenancy=False)
        tenant = make_handler(with_tenancy=True)
        # Warm up both (imports, URL resolver, first database connection).
        timed_block(baseline, public, 200)
        timed_block(tenant, host, 200)
        samples: dict[str, list[float]] = {"baseline": [], "tenant": [], "uncached": []}
        for _ in range(args.blocks):
            samples["baseline"].append(timed_block(baseline, public, args.requests))
            samples["tenant"].append(timed_block(tenant, host, args.requests))
            samples["uncached"].append(
                timed_block(tenant, host, args.requests // 4, before_each=host_table._hosts.clear)
            )

    per_request = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    base = per_request["baseline"]
    print(
        f"\nRouting overhead per request ({args.tenants} organisations, "
        f"{args.blocks} blocks of {args.requests} requests)\n"
    )
    print("| stack | per request | overhead vs baseline | ratio to baseline |")
    print("|---|---|---|---|")
    for name, value in per_request.items():
        print(f"| {name} | {value:.3f} ms | {value - base:+.3f} ms | {value / base:.2f} |")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "routing.json").write_text(
        json.dumps(
            {
                "tenants": args.tenants,
                "per_request_ms": per_request,
                "tenancy_overhead_ms": per_request["tenant"] - base,
                "uncached_overhead_ms": per_request["uncached"] - base,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
