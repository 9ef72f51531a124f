"""The Dockerfile, the compose file and the Helm chart agree with the settings and each other,
and the chart passes Helm's own lint."""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings.email import EMAIL_ENV_VARS
from config.settings.env import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "kestrel"
HELM_TOOL = ROOT / "tools" / "helm"
HELM_PYTHON = HELM_TOOL / ".venv" / "bin" / "python"
ROLES = ("web", "worker", "beat")
# Optional settings the deployment sets where the volume for uploaded files is mounted.
MEDIA_ENV = "KESTREL_MEDIA_ROOT"
BACKUP_ENV = "KESTREL_BACKUP_DIR"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def _values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def _require_helm() -> None:
    if not HELM_PYTHON.exists():
        finder = subprocess.run(
            [str(HELM_TOOL / "find_python.sh")], capture_output=True, text=True, check=False
        )
        if finder.returncode != 0:
            pytest.skip(
                "HELM CHART LINT DID NOT RUN: Helm's engine (helm-sdkpy) needs Python >= 3.12 "
                "and none was found on this machine"
            )
        pytest.fail("Python >= 3.12 is here but tools/helm/.venv is missing: run `make tools`")


def _lint(
    chart: Path, values: dict[str, Any] | None = None, tmp_path: Path | None = None
) -> dict[str, Any]:
    _require_helm()
    command = [str(HELM_PYTHON), str(HELM_TOOL / "lint_chart.py"), str(chart)]
    if values is not None:
        assert tmp_path is not None
        override = tmp_path / "override.yaml"
        override.write_text(yaml.safe_dump(values))
        command.append(str(override))
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    return dict(json.loads(done.stdout))


def _errors(report: dict[str, Any]) -> list[str]:
    # Severity 3 is Helm's "error" (1 info, 2 warning).
    return [m["Path"] for m in report["result"]["Messages"] if m["Severity"] >= 3]


@pytest.mark.parametrize(
    "values",
    [
        None,
        {"existingSecret": "kestrel-env", "ingress": {"tlsSecretName": "wildcard-tls"}},
        {
            "secret": {
                "djangoSecretKey": "k",
                "databaseUrl": "postgresql://db/k",
                "redisUrl": "redis://r/0",
            },
            "ingress": {"enabled": False},
        },
        {
            "workers": {"reminders": {"enabled": True}, "reports": {"enabled": True}},
            "extraEnv": [{"name": "KESTREL_QUEUE_SHARDS", "value": "16"}],
        },
        {"media": {"existingClaim": "kestrel-files"}},
        {"media": {"storageClass": "-", "accessModes": ["ReadWriteOnce"]}},
        {"media": {"enabled": False}},
    ],
)
def test_chart_passes_helm_lint(values: dict[str, Any] | None, tmp_path: Path) -> None:
    report = _lint(CHART, values, tmp_path)
    assert report["engine"].startswith("helm-sdkpy")
    assert report["result"]["TotalChartsLinted"] == 1
    assert _errors(report) == []


def test_lint_catches_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "kestrel"
    shutil.copytree(CHART, broken)
    (broken / "templates" / "broken.yaml").write_text("kind: Deployment\n  spec: [unclosed\n")
    assert _errors(_lint(broken)) == ["templates/broken.yaml"]


def _template_env_names() -> set[str]:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    block = helpers.split('define "kestrel.env"', 1)[1].split("{{- end -}}", 1)[0]
    return set(re.findall(r"- name: ([A-Z_]+)", block))


def _worker_container_template() -> str:
    # Every worker pool's Deployment comes from this one definition (templates/worker.yaml).
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    return helpers.split('define "kestrel.workerDeployment"', 1)[1].split("{{- end -}}", 1)[0]


# Optional settings every chart container gets beside ENV_VARS: the log format (values
# logFormat), the optional keys of the Secret, and transaction pooling with pgbouncer.enabled.
CHART_OPTIONAL = {"KESTREL_LOG_FORMAT", "SENTRY_DSN", "KESTREL_METRICS_TOKEN"}
POOLING_ENV = "DATABASE_TRANSACTION_POOLING"


def test_chart_containers_get_exactly_the_settings_env_vars() -> None:
    assert _template_env_names() == set(ENV_VARS) | CHART_OPTIONAL | {POOLING_ENV}
    for name in ("web", "beat", "migrate-job"):
        text = (CHART / "templates" / f"{name}.yaml").read_text()
        assert 'include "kestrel.env"' in text, name
    assert 'include "kestrel.workerDeployment"' in (CHART / "templates" / "worker.yaml").read_text()
    assert 'include "kestrel.env"' in _worker_container_template()


def test_chart_has_wildcard_ingress_hook_job_and_probes() -> None:
    ingress = (CHART / "templates" / "ingress.yaml").read_text()
    assert 'printf "*.%s" .Values.baseDomain' in ingress
    job = (CHART / "templates" / "migrate-job.yaml").read_text()
    assert "helm.sh/hook: pre-install,pre-upgrade" in job
    assert _values()["migrate"]["command"] == [
        "python",
        "manage.py",
        "migrate_schemas",
        "--noinput",
    ]
    web = (CHART / "templates" / "web.yaml").read_text()
    assert "path: /healthz" in web and "path: /readyz" in web
    beat = (CHART / "templates" / "beat.yaml").read_text()
    assert "replicas: 1" in beat and "type: Recreate" in beat


def test_chart_and_compose_run_the_same_commands() -> None:
    services = _compose()["services"]
    values = _values()
    for role in ("web", "beat"):
        assert values[role]["command"] == services[role]["command"], role
    # The chart's worker runs its command with --tenant-queues, -Q and --concurrency from
    # values (see the rendered checks below); compose spells them out.
    assert services["worker"]["command"] == [
        *values["worker"]["command"],
        "--tenant-queues",
        values["worker"]["tenantQueues"],
        "-Q",
        values["worker"]["queues"],
        "--concurrency",
        f"${{KESTREL_WORKER_CONCURRENCY:-{values['worker']['concurrency']}}}",
    ]
    assert services["migrate"]["command"] == values["migrate"]["command"]
    assert "config.wsgi:application" in values["web"]["command"]
    assert values["worker"]["command"][:3] == ["celery", "-A", "config.celery_app"]


# Optional settings (config/settings/env.py) and the web server's size (deploy/gunicorn.conf.py)
# that compose passes through from the shell or .env, unset unless given.
COMPOSE_OPTIONAL = {
    *EMAIL_ENV_VARS,
    "KESTREL_QUEUE_SHARDS",
    "KESTREL_METRICS_TOKEN",
    "SENTRY_DSN",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "DATABASE_TRANSACTION_POOLING",
}


def test_compose_env_names_are_the_settings_names() -> None:
    compose = _compose()
    for role in (*ROLES, "migrate"):
        service = compose["services"][role]
        # The fixed interface, plus the optional settings, the log format (JSON unless told),
        # and where the shared volumes for uploaded files and backups are mounted.
        optional = COMPOSE_OPTIONAL
        fixed = {MEDIA_ENV, BACKUP_ENV, "KESTREL_LOG_FORMAT"}
        assert set(service["environment"]) == set(ENV_VARS) | optional | fixed, role
        assert all(service["environment"][name] == f"${{{name}:-}}" for name in optional)
        assert service["environment"]["KESTREL_LOG_FORMAT"] == "${KESTREL_LOG_FORMAT:-json}"
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    for role in ROLES:
        dependency = compose["services"][role]["depends_on"]["migrate"]
        assert dependency == {"condition": "service_completed_successfully"}
    assert {"postgres", "redis"} <= set(compose["services"])


def test_compose_publishes_only_the_proxy_in_front_of_web() -> None:
    services = _compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    proxy = services["proxy"]
    assert proxy["image"] == "caddy:2"
    assert set(proxy["ports"]) == {"80:80", "443:443", "443:443/udp"}
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    # Caddy's certificates survive a re-created container.
    assert _compose_mounts(proxy)["caddydata"] == "/data"
    env = proxy["environment"]
    assert env["BASE_DOMAIN"] == services["web"]["environment"]["BASE_DOMAIN"]
    assert env["KESTREL_UPSTREAM"] == "web:8000"
    assert env["KESTREL_PROXY_SCHEME"] == "${KESTREL_PROXY_SCHEME:-http}"
    assert proxy["depends_on"] == {"web": {"condition": "service_healthy"}}
    # The Caddyfile's defaults are compose's.
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "{$KESTREL_UPSTREAM:web:8000}" in caddyfile
    assert "{$BASE_DOMAIN:localhost}" in caddyfile and "*.{$BASE_DOMAIN:localhost}" in caddyfile


def test_compose_keeps_backups_on_a_volume_the_image_user_can_write() -> None:
    compose = _compose()
    assert "backups" in compose["volumes"]
    for role in (*ROLES, "migrate"):
        service = compose["services"][role]
        mount = _compose_mounts(service)["backups"]
        assert service["environment"][BACKUP_ENV] == mount == "/app/backups", role
    runs = re.findall(r"^RUN (.+)$", (ROOT / "deploy" / "Dockerfile").read_text(), flags=re.M)
    assert "install -d -o kestrel -g kestrel -m 0750 /app/backups" in runs


def test_image_postgres_client_matches_the_compose_server() -> None:
    """backup_tenant runs pg_dump, which refuses a server newer than itself."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    (major,) = re.findall(r"^ARG POSTGRES_MAJOR=(\d+)$", dockerfile, flags=re.M)
    image = _compose()["services"]["postgres"]["image"]
    assert re.fullmatch(rf"postgres:{major}(\.\d+)*(-\w+)?", image), (image, major)
    assert "apt.postgresql.org.sh -y" in dockerfile
    assert "postgresql-client-${POSTGRES_MAJOR}" in dockerfile


def test_every_web_command_runs_gunicorn_with_the_image_config() -> None:
    command = ["gunicorn", "config.wsgi:application", "-c", "deploy/gunicorn.conf.py"]
    assert _values()["web"]["command"] == command
    assert _compose()["services"]["web"]["command"] == command
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    assert re.search(
        r"^\s+web\)\s+shift; exec " + re.escape(" ".join(command)) + r' "\$@"',
        entrypoint,
        flags=re.M,
    )


def test_dockerfile_is_multi_stage_non_root_and_runs_the_web_command() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, flags=re.M)) >= 3
    user = re.findall(r"^USER (\S+)", dockerfile, flags=re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert "uv sync --frozen --no-dev" in dockerfile
    cmd = json.loads(re.findall(r"^CMD (.+)$", dockerfile, flags=re.M)[-1])
    assert cmd == _values()["web"]["command"]
    assert "/healthz" in dockerfile


def test_entrypoint_roles_match_the_chart(tmp_path: Path) -> None:
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    for role in ("web", "worker", "beat", "migrate"):
        assert re.search(rf"^\s+{role}\)", entrypoint, flags=re.M), role
    # the shell script is valid
    subprocess.run(["sh", "-n", str(ROOT / "deploy" / "entrypoint.sh")], check=True)


def test_one_image_runs_every_role_in_chart_and_compose() -> None:
    for name in ("web", "beat", "migrate-job"):
        text = (CHART / "templates" / f"{name}.yaml").read_text()
        assert re.findall(r"image: (.+)", text) == ['{{ include "kestrel.image" . }}'], name
    worker = re.findall(r"image: (.+)", _worker_container_template())
    assert worker == ['{{ include "kestrel.image" $root }}']
    services = _compose()["services"]
    images = {services[role]["image"] for role in (*ROLES, "migrate")}
    builds = {services[role]["build"]["dockerfile"] for role in (*ROLES, "migrate")}
    assert len(images) == 1 and builds == {"deploy/Dockerfile"}


# --- Workers and beat, as Helm renders them -------------------------------------------------


# Helm's lint renders every template without a cluster; it cannot print them, but a template
# that calls `fail` gets its message logged. This probe fails with the rendered manifests of
# every template file (NOTES.txt included).
def _probe(templates: list[str]) -> str:
    names = " ".join(json.dumps(name) for name in templates)
    return (
        f"{{{{- $out := dict -}}}}{{{{- range $path := list {names} -}}}}"
        '{{- $_ := set $out $path (include (print $.Template.BasePath "/" $path) $) -}}'
        "{{- end -}}"
        '{{- fail (printf "RENDERED<<%s>>RENDERED" (toJson $out | b64enc)) -}}'
    )


def _template_files() -> list[str]:
    return sorted(
        p.name
        for p in (CHART / "templates").iterdir()
        if p.suffix == ".yaml" or p.name == "NOTES.txt"
    )


# Rendered charts by their values (JSON): the chart does not change during a run, so each set
# of values is rendered once; every caller gets a copy of its own to look at or change.
_RENDERED: dict[str, tuple[dict[str, Any], str]] = {}


def _render(tmp_path: Path, values: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """The chart's workload manifests (by template file) and Helm's log, rendered by Helm's own
    engine with `values` merged over values.yaml."""
    key = json.dumps(values, sort_keys=True)
    if key not in _RENDERED:
        _RENDERED[key] = _render_once(tmp_path, values)
    return copy.deepcopy(_RENDERED[key])


def _render_once(tmp_path: Path, values: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    _require_helm()
    chart = tmp_path / "kestrel"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "zz-render-probe.yaml").write_text(_probe(_template_files()))
    command = [str(HELM_PYTHON), str(HELM_TOOL / "lint_chart.py"), str(chart)]
    if values is not None:
        override = tmp_path / "override.yaml"
        override.write_text(yaml.safe_dump(values))
        command.append(str(override))
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    log = done.stdout + done.stderr
    found = re.search(r"RENDERED<<([A-Za-z0-9+/=]+)>>RENDERED", log)
    assert found, f"Helm did not render the chart:\n{log[-2000:]}"
    files = json.loads(base64.b64decode(found.group(1)))
    # (NOTES.txt is text for the person installing, kept as it is.)
    docs = {
        name: [d for d in yaml.safe_load_all(text) if d] if name.endswith(".yaml") else [text]
        for name, text in files.items()
    }
    return docs, log


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _by_name(
    manifests: list[dict[str, Any]], kind: str = "Deployment"
) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"].removeprefix("test-release-kestrel-"): d
        for d in manifests
        if d["kind"] == kind
    }


def test_rendered_worker_runs_the_compose_command(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path)
    workers = _by_name(docs["worker.yaml"])
    assert list(workers) == ["worker"]
    worker = _container(workers["worker"])
    compose = _compose()["services"]["worker"]["command"]
    concurrency = str(_values()["worker"]["concurrency"])
    assert compose[-2:] == ["--concurrency", f"${{KESTREL_WORKER_CONCURRENCY:-{concurrency}}}"]
    assert worker["command"] + worker["args"] == [*compose[:-1], concurrency]
    assert worker["args"][:4] == ["--tenant-queues", "reminders,reports", "-Q", "default"]
    assert {e["name"] for e in worker["env"]} == set(ENV_VARS) | CHART_OPTIONAL | {
        MEDIA_ENV,
        BACKUP_ENV,
    }
    assert "inspect ping" in " ".join(worker["livenessProbe"]["exec"]["command"])
    spec = workers["worker"]["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] == 60


def test_beat_is_one_replica_recreated_whatever_the_values_say(tmp_path: Path) -> None:
    for values in (None, {"beat": {"replicas": 3}}):
        docs, log = _render(tmp_path / str(bool(values)), values)
        (beat,) = docs["beat.yaml"]
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}
        assert _container(beat)["command"] == _compose()["services"]["beat"]["command"]
        # An install with beat.replicas != 1 stops here (lint only logs the failure).
        refused = "beat runs as exactly one replica" in log
        assert refused is bool(values)
    compose = _compose()["services"]["beat"]
    assert compose["deploy"]["replicas"] == 1
    assert compose["healthcheck"]["test"] == ["CMD", *_values()["beat"]["livenessCommand"]]
    assert (
        _container(beat)["livenessProbe"]["exec"]["command"]
        == (_values()["beat"]["livenessCommand"])
    )


def test_dedicated_pools_take_their_queues_from_the_main_pool(tmp_path: Path) -> None:
    reports = {"workers": {"reports": {"enabled": True, "replicas": 3, "concurrency": 1}}}
    docs, _ = _render(tmp_path / "reports", reports)
    pools = _by_name(docs["worker.yaml"])
    assert set(pools) == {"worker", "worker-reports"}
    assert _container(pools["worker"])["args"][:2] == ["--tenant-queues", "reminders"]
    assert pools["worker-reports"]["spec"]["replicas"] == 3
    assert _container(pools["worker-reports"])["args"] == [
        "--tenant-queues",
        "reports",
        "-Q",
        "default",
        "--concurrency",
        "1",
    ]
    labels = {
        p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] for p in pools.values()
    }
    assert labels == {"worker", "worker-reports"}  # no pool adopts another's pods

    both = {"workers": {"reminders": {"enabled": True}, "reports": {"enabled": True}}}
    docs, _ = _render(tmp_path / "both", both)
    pools = _by_name(docs["worker.yaml"])
    assert set(pools) == {"worker", "worker-reminders", "worker-reports"}
    assert _container(pools["worker"])["args"][:4] == ["--tenant-queues", "none", "-Q", "default"]


def test_extra_env_reaches_every_process_that_sends_or_runs_tasks(tmp_path: Path) -> None:
    shards = {"name": "KESTREL_QUEUE_SHARDS", "value": "16"}
    docs, _ = _render(tmp_path, {"extraEnv": [shards], "workers": {"reports": {"enabled": True}}})
    deployments = [*docs["worker.yaml"], *docs["beat.yaml"], *docs["web.yaml"][:1]]
    assert len(deployments) == 4
    for deployment in deployments:
        assert shards in _container(deployment)["env"], deployment["metadata"]["name"]


def test_compose_worker_and_beat_have_health_checks_and_restart() -> None:
    services = _compose()["services"]
    for role in ("worker", "beat"):
        assert services[role]["restart"] == "unless-stopped", role
        # Their own checks: the image's default one asks for the web server on port 8000.
        assert "8000" not in str(services[role]["healthcheck"]["test"]), role
    ping = services["worker"]["healthcheck"]["test"]
    assert ping[0] == "CMD-SHELL" and "inspect ping -d celery@$$HOSTNAME" in ping[1]
    beat = services["beat"]
    schedule = beat["command"][beat["command"].index("--schedule") + 1]
    assert f"glob.glob('{schedule}*')" in beat["healthcheck"]["test"][-1]


def test_dev_launcher_runs_the_same_worker_and_one_beat() -> None:
    from deploy.dev import process_commands

    commands = process_commands(port="8000")
    assert set(commands) == {"web", "worker", "beat"}
    worker = commands["worker"]
    assert worker[1:3] == ["-m", "celery"]
    compose = _compose()["services"]["worker"]["command"]
    assert worker[3:-2] == compose[1:-2]  # same arguments up to the concurrency
    assert commands["beat"][5] == "beat"


# --- Uploaded files: web saves an import's file, a worker reads it and writes the rejected
# rows, web serves them. Both must see one folder, wherever they run. -------------------------


def _compose_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Named volume -> container path, from the short `name:/path` syntax."""
    return dict(str(v).split(":")[:2] for v in service.get("volumes", []))


def test_compose_web_and_worker_share_the_media_volume() -> None:
    compose = _compose()
    assert "media" in compose["volumes"]
    services = compose["services"]
    paths = set()
    for role in ("web", "worker"):
        service = services[role]
        mount = _compose_mounts(service).get("media")
        assert mount is not None, role
        # Django reads the same path the volume is mounted at.
        assert service["environment"][MEDIA_ENV] == mount, role
        paths.add(mount)
    assert paths == {"/app/media"}


def test_dockerfile_creates_the_media_folder_for_the_non_root_user() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    # The non-root user is uid 10001 and the image runs as it.
    assert re.search(r"useradd\b.*--uid 10001\b.*\bkestrel$", dockerfile, flags=re.M)
    assert re.findall(r"^USER (\S+)", dockerfile, flags=re.M)[-1] == "10001:10001"
    # A new named volume copies the image folder's owner: the folder must exist and be theirs.
    runs = re.findall(r"^RUN (.+)$", dockerfile, flags=re.M)
    media = _compose()["services"]["web"]["environment"][MEDIA_ENV]
    assert any(
        re.fullmatch(rf"install -d -o (kestrel|10001) -g (kestrel|10001) -m 07[57]0 {media}", run)
        for run in runs
    ), runs
    # A developer's own uploads never end up in the image.
    assert "media" in (ROOT / ".dockerignore").read_text().split()


def _volume(deployment: dict[str, Any], name: str) -> dict[str, Any] | None:
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    found = [v for v in volumes if v["name"] == name]
    return dict(found[0]) if found else None


def _media_volume(deployment: dict[str, Any]) -> dict[str, Any] | None:
    return _volume(deployment, "media")


def _media_path(deployment: dict[str, Any]) -> str:
    """Where the container mounts the media volume, checked against where Django looks."""
    container = _container(deployment)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert mounts["media"] == env[MEDIA_ENV], deployment["metadata"]["name"]
    assert mounts["backups"] == env[BACKUP_ENV], deployment["metadata"]["name"]
    # The rest of the filesystem stays read-only, beside the pod's own scratch folder.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert set(mounts) == {"tmp", "media", "backups"}
    return str(mounts["media"])


def test_chart_mounts_one_media_claim_in_web_and_every_worker(tmp_path: Path) -> None:
    pools = {"workers": {"reminders": {"enabled": True}, "reports": {"enabled": True}}}
    docs, _ = _render(tmp_path, pools)
    (claim,) = docs["media-pvc.yaml"]
    assert claim["kind"] == "PersistentVolumeClaim"
    assert claim["metadata"]["name"] == "test-release-kestrel-media"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "storageClassName" not in claim["spec"]  # the cluster's default class

    deployments = [docs["web.yaml"][0], *docs["worker.yaml"]]
    assert len(deployments) == 4  # web, the main pool and the two dedicated pools
    for deployment in deployments:
        volume = _media_volume(deployment)
        assert volume == {
            "name": "media",
            "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
        }
        assert _media_path(deployment) == _values()["media"]["mountPath"] == "/app/media"
    # The pods running as uid 10001 can write to the claim's root.
    spec = deployments[0]["spec"]["template"]["spec"]
    assert spec["securityContext"]["fsGroup"] == 10001

    (notes,) = docs["NOTES.txt"]
    assert "live in /app/media, shared by web and\nevery worker pool" in notes
    assert "claim test-release-kestrel-media (10Gi, ReadWriteMany), kept on uninstall" in notes
    assert "WARNING" not in notes

    # Beat and migrations never touch uploaded files (and a ReadWriteOnce claim would tie them
    # to its node).
    for deployment in (*docs["beat.yaml"], *docs["migrate-job.yaml"]):
        assert _media_volume(deployment) is None
        assert _volume(deployment, "backups") is None
        assert MEDIA_ENV not in {e["name"] for e in _container(deployment)["env"]}
        assert BACKUP_ENV not in {e["name"] for e in _container(deployment)["env"]}


def test_an_existing_claim_is_mounted_and_no_claim_is_created(tmp_path: Path) -> None:
    values = {"media": {"existingClaim": "kestrel-files", "mountPath": "/srv/kestrel-media"}}
    docs, _ = _render(tmp_path, values)
    assert docs["media-pvc.yaml"] == []
    for deployment in (docs["web.yaml"][0], *docs["worker.yaml"]):
        volume = _media_volume(deployment)
        assert volume is not None
        assert volume["persistentVolumeClaim"] == {"claimName": "kestrel-files"}
        assert _media_path(deployment) == "/srv/kestrel-media"


@pytest.mark.parametrize(("storage_class", "expected"), [("fast-rwx", "fast-rwx"), ("-", "")])
def test_media_claim_storage_class_and_access_modes_come_from_values(
    storage_class: str, expected: str, tmp_path: Path
) -> None:
    values = {
        "media": {"storageClass": storage_class, "accessModes": ["ReadWriteOnce"], "size": "2Gi"}
    }
    docs, _ = _render(tmp_path, values)
    (claim,) = docs["media-pvc.yaml"]
    assert claim["spec"]["storageClassName"] == expected
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_media_disabled_gives_each_pod_a_writable_folder_and_says_imports_fail(
    tmp_path: Path,
) -> None:
    docs, _ = _render(tmp_path, {"media": {"enabled": False}})
    assert docs["media-pvc.yaml"] == []
    for deployment in (docs["web.yaml"][0], *docs["worker.yaml"]):
        assert _media_volume(deployment) == {"name": "media", "emptyDir": {}}
        assert _media_path(deployment) == "/app/media"
    (notes,) = docs["NOTES.txt"]
    assert "WARNING: media.enabled is false" in notes and "imports fail" in notes


def test_ingress_lets_an_import_file_through(tmp_path: Path) -> None:
    """ingress-nginx refuses bodies over 1 MB by default; import files may be 200 MB."""
    docs, _ = _render(tmp_path)
    (ingress,) = docs["ingress.yaml"]
    size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    from apps.imports.reading import max_file_bytes

    assert int(size.removesuffix("m")) * 1024 * 1024 >= max_file_bytes()


# --- Tenant backups: backup_tenant, restore_tenant and the final backup before an organisation
# is deleted (operator console, in a web pod) need a writable folder that outlives pods. -----


def test_chart_mounts_one_backups_claim_in_web_and_every_worker(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path, {"workers": {"reports": {"enabled": True}}})
    (claim,) = docs["backups-pvc.yaml"]
    assert claim["metadata"]["name"] == "test-release-kestrel-backups"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for deployment in (docs["web.yaml"][0], *docs["worker.yaml"]):
        assert _volume(deployment, "backups") == {
            "name": "backups",
            "persistentVolumeClaim": {"claimName": "test-release-kestrel-backups"},
        }
        env = {e["name"]: e.get("value") for e in _container(deployment)["env"]}
        assert env[BACKUP_ENV] == _values()["backups"]["mountPath"] == "/app/backups"
    (notes,) = docs["NOTES.txt"]
    assert "claim test-release-kestrel-backups (20Gi, ReadWriteMany), kept on uninstall" in notes


def test_backups_from_an_existing_claim_or_an_emptydir_with_a_warning(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path / "own", {"backups": {"existingClaim": "kestrel-backups"}})
    assert docs["backups-pvc.yaml"] == []
    volume = _volume(docs["web.yaml"][0], "backups")
    assert volume is not None
    assert volume["persistentVolumeClaim"] == {"claimName": "kestrel-backups"}
    docs, _ = _render(tmp_path / "off", {"backups": {"enabled": False}})
    assert docs["backups-pvc.yaml"] == []
    assert _volume(docs["web.yaml"][0], "backups") == {"name": "backups", "emptyDir": {}}
    (notes,) = docs["NOTES.txt"]
    assert "WARNING: backups.enabled is false" in notes
