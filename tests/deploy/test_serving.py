"""The web role as the image runs it: Gunicorn with deploy/gunicorn.conf.py, static files from
whitenoise, and Caddy (deploy/Caddyfile) in front routing the wildcard subdomains. Real
processes on loopback against the test database; no Docker needed.

The server runs the production settings (over a scratch STATIC_ROOT, collected here), so
the manifest storage and whitenoise's caching are the ones a deployment gets.
"""

from __future__ import annotations

import http.client
import json
import os
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from tenants.models import Tenant
from tests.conftest import ALPHA, BETA

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
BASE_DOMAIN = "localhost"  # the test organisations' domains are <slug>.localhost
START_TIMEOUT = 60.0
# collectstatic with compression of every app's files takes most of a minute; the product's
# own files (what its pages link) are enough here.
COLLECT_IGNORE = ["drf_spectacular_sidecar", "rest_framework", "guardian", "admin"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(
    port: int, path: str, host: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{process.args!r} did not start:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def database_url() -> str:
    """The test database pytest-django created, for the server process."""
    from urllib.parse import quote

    from tenants.db import connection

    db = connection.settings_dict
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}@{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


def load_gunicorn_config(env: dict[str, str]) -> Any:
    """deploy/gunicorn.conf.py loaded the way `gunicorn -c` loads it, under `env`."""
    from gunicorn.app.base import Application

    class Loader(Application):
        def init(self, parser: Any, opts: Any, args: Any) -> None:
            return None

        def load(self) -> Any:
            return None

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        loader = Loader.__new__(Loader)
        loader.usage, loader.prog, loader.callable, loader.logger = None, None, None, None
        loader.load_default_config()
        loader.load_config_from_file(str(GUNICORN_CONF))
        return loader.cfg
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --- Gunicorn's size from the environment -------------------------------------------------


@pytest.mark.parametrize(
    ("env", "workers", "threads", "worker_class"),
    [
        ({"WEB_CONCURRENCY": "5", "GUNICORN_THREADS": "8"}, 5, 8, "gthread"),
        ({"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "1"}, 3, 1, "sync"),
        ({"WEB_CONCURRENCY": "2"}, 2, 4, "gthread"),
    ],
)
def test_gunicorn_takes_its_size_from_the_environment(
    env: dict[str, str], workers: int, threads: int, worker_class: str
) -> None:
    cfg = load_gunicorn_config(env)
    assert (cfg.workers, cfg.threads, cfg.worker_class_str) == (workers, threads, worker_class)
    assert cfg.address == [("0.0.0.0", 8000)]  # noqa: S104 - inside the container
    assert cfg.worker_tmp_dir == "/dev/shm"  # noqa: S108
    assert cfg.accesslog is None and cfg.errorlog == "-"
    assert cfg.preload_app  # workers fork with Django loaded; a replacement starts at once
    assert cfg.max_requests > 0 and cfg.max_requests_jitter > 0
    assert cfg.timeout >= cfg.graceful_timeout > 0
    assert cfg.keepalive > 60  # longer than the proxy's idle keep-alive
    assert cfg.forwarded_allow_ips == ["*"]
    assert cfg.forwarder_headers == []  # no client header sets SCRIPT_NAME or PATH_INFO


def test_gunicorn_defaults_follow_the_cpus() -> None:
    conf = runpy.run_path(str(GUNICORN_CONF))
    assert [conf["default_workers"](cpus) for cpus in (0.5, 1, 2, 3, 16)] == [2, 2, 4, 6, 8]
    cfg = load_gunicorn_config({})
    assert cfg.workers == conf["default_workers"](conf["available_cpus"]())
    assert cfg.threads == 4
    restricted = load_gunicorn_config({"FORWARDED_ALLOW_IPS": "10.0.0.0/8"})
    assert restricted.forwarded_allow_ips == ["10.0.0.0/8"]


def test_an_empty_web_concurrency_from_compose_means_the_default() -> None:
    """Compose passes `${WEB_CONCURRENCY:-}` as an empty string, which Gunicorn itself would
    refuse before reading its config file; the image's entrypoint drops it."""
    env = {**os.environ, "WEB_CONCURRENCY": ""}
    check = [sys.executable, "-c", "import gunicorn.config"]
    bare = subprocess.run(check, env=env, capture_output=True, text=True, check=False)
    assert bare.returncode != 0 and "WEB_CONCURRENCY" in bare.stderr
    entry = ["sh", str(ROOT / "deploy" / "entrypoint.sh"), *check]
    subprocess.run(entry, env=env, check=True, cwd=ROOT)


def test_behind_a_trusted_proxy_the_client_address_is_the_one_it_forwarded() -> None:
    behind_proxy = runpy.run_path(str(GUNICORN_CONF))["behind_proxy"]
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["REMOTE_ADDR"])
        return []

    # The proxy appends the address it saw; whatever the client wrote before is ignored.
    wrapped = behind_proxy(app, ["172.16.0.0/12"])
    forwarded = "6.6.6.6, 203.0.113.7"
    wrapped({"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": forwarded}, None)
    # A peer that is not a trusted proxy keeps its own address.
    wrapped({"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": forwarded}, None)
    wrapped({"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": "garbage"}, None)
    wrapped({"REMOTE_ADDR": "172.18.0.5"}, None)
    behind_proxy(app, ["*"])({"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "::1"}, None)
    assert seen == ["203.0.113.7", "192.0.2.1", "172.18.0.5", "172.18.0.5", "::1"]


def test_production_serves_static_files_from_a_compressed_manifest() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "check",
        "DATABASE_URL": "postgresql://check@127.0.0.1/check",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.STORAGES['staticfiles']['BACKEND'], settings.MIDDLEWARE]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    backend, middleware = json.loads(done.stdout.strip().splitlines()[-1])
    assert backend == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in middleware


# --- A running Gunicorn -----------------------------------------------------------------


class Served:
    def __init__(self, port: int, process: subprocess.Popen[bytes], static_root: Path) -> None:
        self.port = port
        self.process = process
        self.static_root = static_root


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    django_db_setup: None,
    django_db_blocker: Any,
    tenant_a: Tenant,
    tenant_b: Tenant,
) -> Iterator[Served]:
    """Gunicorn as the image runs it (the web command with deploy/gunicorn.conf.py, the
    production settings), on a free loopback port, serving the test database."""
    scratch = tmp_path_factory.mktemp("served")
    static_root = scratch / "static"
    (scratch / "served_settings.py").write_text(
        "from config.settings.production import *  # noqa: F403\n"
        f"STATIC_ROOT = {str(static_root)!r}\n"
    )
    with django_db_blocker.unblock():
        url = database_url()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(scratch), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "served_settings",
        "DJANGO_SECRET_KEY": "served-by-the-deploy-tests",
        "DATABASE_URL": url,
        "REDIS_URL": str(settings.CACHES["default"]["LOCATION"]),
        "BASE_DOMAIN": BASE_DOMAIN,
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    ignore = [arg for name in COLLECT_IGNORE for arg in ("-i", name)]
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0", *ignore],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    port = free_port()
    log = scratch / "gunicorn.log"
    web_command = yaml.safe_load((ROOT / "helm" / "kestrel" / "values.yaml").read_text())["web"][
        "command"
    ]
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [gunicorn, *web_command[1:], "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(port, process, log)
        yield Served(port, process, static_root)
    finally:
        stop(process)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


def test_gunicorn_with_the_image_config_answers_healthz(served: Served) -> None:
    status, _, body = get(served.port, "/healthz", BASE_DOMAIN)
    assert status == 200 and json.loads(body) == {"status": "ok"}
    # WEB_CONCURRENCY workers under one master.
    deadline = time.monotonic() + 30
    while len(_children(served.process.pid)) != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_children(served.process.pid)) == 2


def test_whitenoise_serves_collected_files_with_far_future_caching(served: Served) -> None:
    manifest = json.loads((served.static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["css/kestrel.css"]
    assert hashed != "css/kestrel.css"
    status, headers, body = get(
        served.port, f"/static/{hashed}", BASE_DOMAIN, {"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "max-age=315360000" in headers["cache-control"]
    assert "immutable" in headers["cache-control"]
    assert body  # the compressed file
    # The pages link the hashed name.
    status, _, page = get(served.port, "/accounts/login/", f"{ALPHA.slug}.{BASE_DOMAIN}")
    assert status == 200 and f"/static/{hashed}".encode() in page


# --- Caddy in front ----------------------------------------------------------------------


def _caddy() -> str:
    found = shutil.which("caddy")
    if found is None:
        pytest.skip(
            "CADDY PROXY TESTS DID NOT RUN: no `caddy` on PATH "
            "(Debian: apt-get update && apt-get install -y caddy)"
        )
    return found


class Proxy:
    def __init__(self, port: int, ask_port: int) -> None:
        self.port = port
        self.ask_port = ask_port


@pytest.fixture(scope="module")
def proxy(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """deploy/Caddyfile as compose runs it, with its listen ports and upstream moved to free
    loopback ports (the file reads them from the environment)."""
    caddy = _caddy()
    home = tmp_path_factory.mktemp("caddy")
    port, ask_port = free_port(), free_port()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "BASE_DOMAIN": BASE_DOMAIN,
        "KESTREL_UPSTREAM": f"127.0.0.1:{served.port}",
        "KESTREL_PROXY_HTTP_PORT": str(port),
        "KESTREL_PROXY_HTTPS_PORT": str(free_port()),
        "KESTREL_PROXY_ASK_PORT": str(ask_port),
    }
    log = home / "caddy.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(port, process, log)
        wait_for(ask_port, process, log)
        yield Proxy(port, ask_port)
    finally:
        stop(process)


def test_the_proxy_routes_each_subdomain_to_its_organisation(proxy: Proxy) -> None:
    status, _, body = get(proxy.port, "/healthz", BASE_DOMAIN)
    assert status == 200 and json.loads(body) == {"status": "ok"}
    for spec, other in ((ALPHA, BETA), (BETA, ALPHA)):
        status, _, page = get(proxy.port, "/accounts/login/", f"{spec.slug}.{BASE_DOMAIN}")
        assert status == 200
        assert spec.name.encode() in page and other.name.encode() not in page
    # The public site on the bare domain is no organisation's.
    status, _, page = get(proxy.port, "/", BASE_DOMAIN)
    assert status == 200
    assert ALPHA.name.encode() not in page and BETA.name.encode() not in page


def test_the_proxy_keeps_other_hosts_away_from_organisations(proxy: Proxy) -> None:
    # A host name outside the base domain never reaches Django.
    status, _, body = get(proxy.port, "/accounts/login/", "alpha.evil.example")
    assert status == 421 and body == b"Unknown host"
    # An unknown subdomain reaches Django, which knows no such organisation.
    status, _, page = get(proxy.port, "/accounts/login/", f"nosuch.{BASE_DOMAIN}")
    assert status == 404
    assert ALPHA.name.encode() not in page and BETA.name.encode() not in page


def test_the_proxy_tells_django_the_scheme_it_was_reached_by(served: Served, proxy: Proxy) -> None:
    """Django believes X-Forwarded-Proto (HSTS is sent over https only); Caddy sets it from
    its own listener, so a client of the plain http port cannot claim https."""
    host, forged = f"{ALPHA.slug}.{BASE_DOMAIN}", {"X-Forwarded-Proto": "https"}
    _, direct, _ = get(served.port, "/accounts/login/", host, forged)
    assert "strict-transport-security" in direct
    status, proxied, _ = get(proxy.port, "/accounts/login/", host, forged)
    assert status == 200
    assert "strict-transport-security" not in proxied


def test_the_proxy_gives_every_request_an_id_of_its_own(proxy: Proxy) -> None:
    """Kestrel's log lines and its X-Request-ID answer carry the proxy's id; one a client
    sends is replaced, so it cannot pose as another request's."""
    host = f"{ALPHA.slug}.{BASE_DOMAIN}"
    ids = set()
    for _ in range(2):
        status, headers, _ = get(proxy.port, "/accounts/login/", host, {"X-Request-ID": "forged"})
        assert status == 200
        ids.add(str(uuid.UUID(headers["x-request-id"])))
    assert len(ids) == 2


def test_a_client_cannot_set_the_servers_environment_through_the_proxy(proxy: Proxy) -> None:
    """Gunicorn lets a trusted forwarder set SCRIPT_NAME and PATH_INFO by headers, and it
    trusts the proxy, which passes a client's headers on: a client's `SCRIPT_NAME: /accounts`
    must not make /accounts/login/ resolve as /login/ (nor prefix the links it is sent)."""
    host = f"{ALPHA.slug}.{BASE_DOMAIN}"
    status, _, page = get(proxy.port, "/accounts/login/", host, {"SCRIPT_NAME": "/accounts"})
    assert status == 200
    assert b'action="/accounts/accounts/' not in page
    status, _, _ = get(proxy.port, "/accounts/login/", host, {"PATH_INFO": "/healthz"})
    assert status == 200


def test_certificates_are_asked_for_known_organisations_only(proxy: Proxy) -> None:
    """With KESTREL_PROXY_SCHEME=https Caddy fetches a certificate for a subdomain on its first
    visit, after asking this check: only hosts of existing organisations pass."""
    known = get(proxy.ask_port, f"/?domain={ALPHA.slug}.{BASE_DOMAIN}", "127.0.0.1")
    assert known[0] == 200
    assert get(proxy.ask_port, f"/?domain=nosuch.{BASE_DOMAIN}", "127.0.0.1")[0] == 404
    assert get(proxy.ask_port, "/?domain=www.evil.example", "127.0.0.1")[0] == 400


def _adapted(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [_caddy(), "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def _handlers(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "handler" in node:
            found.append(node)
        for value in node.values():
            found.extend(_handlers(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_handlers(value))
    return found


def test_caddyfile_validates_and_lets_an_import_file_through() -> None:
    from apps.imports.reading import max_file_bytes

    for env in ({}, {"KESTREL_PROXY_SCHEME": "https", "BASE_DOMAIN": "crm.example.com"}):
        subprocess.run(
            [_caddy(), "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env={**os.environ, **env},
            capture_output=True,
            check=True,
        )
    config = _adapted({})
    handlers = _handlers(config)
    limits = [h["max_size"] for h in handlers if h["handler"] == "request_body"]
    assert len(limits) == 2 and all(limit >= max_file_bytes() for limit in limits)
    upstreams = {
        u["dial"] for h in handlers if h["handler"] == "reverse_proxy" for u in h["upstreams"]
    }
    assert upstreams == {"web:8000"}
    assert config["apps"]["http"]["http_port"] == 80


def test_caddyfile_gets_certificates_only_when_asked_for_https() -> None:
    # The default (localhost) is plain http: nothing to trust, nothing to fetch.
    plain = _adapted({})
    servers = plain["apps"]["http"]["servers"]
    assert all(":443" not in server["listen"] for server in servers.values())
    secure = _adapted({"KESTREL_PROXY_SCHEME": "https", "BASE_DOMAIN": "crm.example.com"})
    listens = {a for server in secure["apps"]["http"]["servers"].values() for a in server["listen"]}
    assert ":443" in listens
    assert secure["apps"]["tls"]["automation"]["on_demand"]["ask"].startswith("http://127.0.0.1:")
