"""The Helm chart's operations features, rendered by Helm's own engine and every manifest
validated against Kubernetes' JSON schemas: autoscaling, PgBouncer, secrets, probes,
resources, disruption budget and metrics scraping."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from config.settings.env import ENV_VARS
from tests.deploy.test_deploy_artifacts import (
    BACKUP_ENV,
    CHART_OPTIONAL,
    HELM_PYTHON,
    HELM_TOOL,
    MEDIA_ENV,
    POOLING_ENV,
    _by_name,
    _container,
    _errors,
    _lint,
    _render,
)

# The Kubernetes version whose schemas the manifests must satisfy (the oldest we support).
KUBERNETES_VERSION = "1.31"
SECRET = {
    "djangoSecretKey": "k",
    "databaseUrl": "postgresql://kestrel:s3cr%40t@db.internal:5432/kestrel",
    "redisUrl": "redis://redis:6379/0",
}
AUTOSCALING: dict[str, Any] = {
    "web": {"autoscaling": {"enabled": True}},
    "worker": {"autoscaling": {"enabled": True}},
    "workers": {"reports": {"enabled": True}},
}
VALUE_SETS: dict[str, dict[str, Any] | None] = {
    "defaults": None,
    "autoscaling": AUTOSCALING,
    "pgbouncer": {"pgbouncer": {"enabled": True}, "secret": SECRET},
    "existing-secret": {
        "existingSecret": "kestrel-env",
        "pgbouncer": {"enabled": True},
        "ingress": {"tlsSecretName": "wildcard-tls"},
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    },
    "dedicated-pools": {
        "workers": {
            "reminders": {"enabled": True, "autoscaling": {"enabled": True, "maxReplicas": 4}},
            "reports": {"enabled": True, "replicas": 3},
        },
        "web": {"podDisruptionBudget": {"enabled": False}},
    },
}


def _manifests(docs: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        doc
        for name, rendered in sorted(docs.items())
        if name.endswith(".yaml") and not name.startswith("zz-")
        for doc in rendered
    ]


def _validate(manifests: list[dict[str, Any]], tmp_path: Path) -> dict[str, Any]:
    source = tmp_path / "manifests.json"
    source.write_text(json.dumps(manifests))
    done = subprocess.run(
        [
            str(HELM_PYTHON),
            str(HELM_TOOL / "validate_manifests.py"),
            str(source),
            KUBERNETES_VERSION,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(done.stdout))


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


def _secret_key(container: dict[str, Any], name: str) -> tuple[str, str]:
    ref = _env(container)[name]["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


@pytest.mark.parametrize("label", list(VALUE_SETS))
def test_every_manifest_is_valid_for_kubernetes(label: str, tmp_path: Path) -> None:
    values = VALUE_SETS[label]
    assert (
        _errors(_lint(Path(__file__).resolve().parents[2] / "helm" / "kestrel", values, tmp_path))
        == []
    )
    docs, _ = _render(tmp_path / "render", values)
    manifests = _manifests(docs)
    report = _validate(manifests, tmp_path)
    assert report["engine"] == "kubernetes-validate 1.37.0"
    assert report["errors"] == []
    # Everything but the Prometheus Operator's own kind was checked against a schema.
    custom = {
        f"ServiceMonitor/{m['metadata']['name']}"
        for m in manifests
        if m["kind"] == "ServiceMonitor"
    }
    assert set(report["skipped"]) == custom
    assert len(report["checked"]) == len(manifests) - len(custom)
    assert {c["schema"] for c in report["checked"]} == {KUBERNETES_VERSION}


def test_schema_validation_catches_a_wrong_manifest(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path)
    (deployment,) = [d for d in docs["web.yaml"] if d["kind"] == "Deployment"]
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGets"] = {}
    report = _validate([deployment, wrong_type, misspelt], tmp_path)
    assert len(report["checked"]) == 1
    first, second = report["errors"]
    assert first["path"] == "spec.replicas"
    assert second["path"] == "spec.template.spec.containers.0.livenessProbe"
    assert "httpGets" in second["message"]


def test_autoscaling_takes_replicas_from_the_deployments_but_never_beat(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path / "off")
    assert docs["hpa.yaml"] == []
    assert _by_name(docs["web.yaml"])["web"]["spec"]["replicas"] == 2

    docs, _ = _render(tmp_path / "on", VALUE_SETS["autoscaling"])
    hpas = _by_name(docs["hpa.yaml"], kind="HorizontalPodAutoscaler")
    # web, the main pool and the enabled reports pool (which takes worker.autoscaling).
    assert set(hpas) == {"web", "worker", "worker-reports"}
    deployments = {**_by_name(docs["web.yaml"]), **_by_name(docs["worker.yaml"])}
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] == f"test-release-kestrel-{name}"
        assert "replicas" not in deployments[name]["spec"], name
    assert hpas["web"]["spec"]["minReplicas"] == 2 and hpas["web"]["spec"]["maxReplicas"] == 10
    (metric,) = hpas["worker"]["spec"]["metrics"]
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    # beat keeps its one replica, with no autoscaler, whatever the values say.
    (beat,) = docs["beat.yaml"]
    assert beat["spec"]["replicas"] == 1
    everything = {**AUTOSCALING, "beat": {"autoscaling": {"enabled": True}}}
    docs, _ = _render(tmp_path / "beat", everything)
    assert "beat" not in _by_name(docs["hpa.yaml"], kind="HorizontalPodAutoscaler")


def test_a_dedicated_pool_can_autoscale_alone(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path, VALUE_SETS["dedicated-pools"])
    hpas = _by_name(docs["hpa.yaml"], kind="HorizontalPodAutoscaler")
    assert set(hpas) == {"worker-reminders"}
    assert hpas["worker-reminders"]["spec"]["maxReplicas"] == 4
    pools = _by_name(docs["worker.yaml"])
    assert "replicas" not in pools["worker-reminders"]["spec"]
    assert pools["worker-reports"]["spec"]["replicas"] == 3
    assert pools["worker"]["spec"]["replicas"] == 1
    assert docs["pdb.yaml"] == []


def test_pgbouncer_carries_web_but_not_migrations_workers_or_beat(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path, VALUE_SETS["pgbouncer"])
    secret_name = "test-release-kestrel"
    (web,) = _by_name(docs["web.yaml"]).values()
    container = _container(web)
    assert _secret_key(container, "DATABASE_URL") == (secret_name, "PGBOUNCER_DATABASE_URL")
    assert _env(container)[POOLING_ENV]["value"] == "true"
    # Tasks hold session-level advisory locks, and migrations run long DDL transactions: they
    # connect straight to PostgreSQL.
    direct = [
        *_by_name(docs["worker.yaml"]).values(),
        *docs["beat.yaml"],
        *docs["migrate-job.yaml"],
    ]
    assert len(direct) == 3
    for deployment in direct:
        container = _container(deployment)
        assert _secret_key(container, "DATABASE_URL") == (secret_name, "DATABASE_URL")
        assert POOLING_ENV not in _env(container)

    # The bouncer: transaction pooling, upstream credentials from the Secret's direct URL.
    bouncer = _by_name(docs["pgbouncer.yaml"])["pgbouncer"]
    (service,) = [d for d in docs["pgbouncer.yaml"] if d["kind"] == "Service"]
    container = _container(bouncer)
    env = _env(container)
    assert env["POOL_MODE"]["value"] == "transaction"
    assert env["DEFAULT_POOL_SIZE"]["value"] == "20"
    assert env["MAX_CLIENT_CONN"]["value"] == "1000"
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": secret_name,
        "key": "DATABASE_URL",
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True

    # The Secret the chart makes points PGBOUNCER_DATABASE_URL at that Service, same user,
    # password and database.
    (secret,) = docs["secret.yaml"]
    direct = urlsplit(secret["stringData"]["DATABASE_URL"])
    bounced = urlsplit(secret["stringData"]["PGBOUNCER_DATABASE_URL"])
    assert (bounced.hostname, bounced.port) == (
        service["metadata"]["name"],
        service["spec"]["ports"][0]["port"],
    )
    assert (bounced.scheme, bounced.username, bounced.password, bounced.path) == (
        direct.scheme,
        direct.username,
        direct.password,
        direct.path,
    )
    assert bounced.password == "s3cr%40t"


def test_without_pgbouncer_everything_connects_directly(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path, {"secret": SECRET})
    assert docs["pgbouncer.yaml"] == []
    (secret,) = docs["secret.yaml"]
    assert "PGBOUNCER_DATABASE_URL" not in secret["stringData"]
    for deployment in (
        *_by_name(docs["web.yaml"]).values(),
        *docs["beat.yaml"],
        *docs["migrate-job.yaml"],
    ):
        container = _container(deployment)
        assert _secret_key(container, "DATABASE_URL")[1] == "DATABASE_URL"
        assert POOLING_ENV not in _env(container)


def test_an_existing_secret_supplies_every_key_and_the_optional_ones_may_be_missing(
    tmp_path: Path,
) -> None:
    docs, _ = _render(tmp_path, VALUE_SETS["existing-secret"])
    assert docs["secret.yaml"] == []
    containers = [
        _container(d)
        for d in (
            *_by_name(docs["web.yaml"]).values(),
            *_by_name(docs["worker.yaml"]).values(),
            *docs["beat.yaml"],
            *docs["migrate-job.yaml"],
        )
    ]
    for container in containers:
        env = _env(container)
        for name in (
            "DJANGO_SECRET_KEY",
            "REDIS_URL",
            "DATABASE_URL",
            "SENTRY_DSN",
            "KESTREL_METRICS_TOKEN",
        ):
            ref = env[name]["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "kestrel-env"
            # Only Sentry and the metrics token may be absent from the Secret.
            assert ref.get("optional", False) is (name in {"SENTRY_DSN", "KESTREL_METRICS_TOKEN"})
    bouncer = _container(_by_name(docs["pgbouncer.yaml"])["pgbouncer"])
    assert _secret_key(bouncer, "DATABASE_URL") == ("kestrel-env", "DATABASE_URL")


def test_the_chart_secret_carries_the_optional_keys_only_when_given(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path / "bare", {"secret": SECRET})
    (secret,) = docs["secret.yaml"]
    assert set(secret["stringData"]) == {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    given = {"secret": {**SECRET, "sentryDsn": "https://k@sentry.example/1", "metricsToken": "t0k"}}
    docs, _ = _render(tmp_path / "given", given)
    (secret,) = docs["secret.yaml"]
    assert secret["stringData"]["SENTRY_DSN"] == "https://k@sentry.example/1"
    assert secret["stringData"]["KESTREL_METRICS_TOKEN"] == "t0k"


def test_every_container_has_resources_and_web_its_probes_and_size(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path, VALUE_SETS["pgbouncer"])
    workloads = [d for d in _manifests(docs) if d["kind"] in ("Deployment", "Job")]
    assert {d["metadata"]["name"].removeprefix("test-release-kestrel-") for d in workloads} == {
        "web",
        "worker",
        "beat",
        "migrate",
        "pgbouncer",
    }
    for workload in workloads:
        resources = _container(workload)["resources"]
        assert resources["requests"]["cpu"] and resources["requests"]["memory"], workload[
            "metadata"
        ]["name"]
        assert resources["limits"]["memory"], workload["metadata"]["name"]

    web = _container(_by_name(docs["web.yaml"])["web"])
    assert web["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = _env(web)
    assert env["WEB_CONCURRENCY"]["value"] == "2" and env["GUNICORN_THREADS"]["value"] == "4"
    assert set(env) == set(ENV_VARS) | CHART_OPTIONAL | {
        POOLING_ENV,
        MEDIA_ENV,
        BACKUP_ENV,
        "WEB_CONCURRENCY",
        "GUNICORN_THREADS",
    }
    worker = _container(_by_name(docs["worker.yaml"])["worker"])
    assert (
        "celery -A config.celery_app inspect ping" in worker["livenessProbe"]["exec"]["command"][-1]
    )
    (config,) = docs["configmap.yaml"]
    assert config["data"]["KESTREL_LOG_FORMAT"] == "json"
    (hook,) = [d for d in docs["migrate-config.yaml"] if d["kind"] == "ConfigMap"]
    assert hook["data"]["KESTREL_LOG_FORMAT"] == "json"


def test_web_disruption_budget_matches_the_web_pods(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path)
    (budget,) = docs["pdb.yaml"]
    assert budget["apiVersion"] == "policy/v1"
    assert budget["spec"]["maxUnavailable"] == 1
    web = _by_name(docs["web.yaml"])["web"]
    assert (
        budget["spec"]["selector"]["matchLabels"] == web["spec"]["template"]["metadata"]["labels"]
    )


def test_service_monitor_scrapes_the_public_host_once_with_the_token(tmp_path: Path) -> None:
    docs, _ = _render(tmp_path / "off")
    assert docs["servicemonitor.yaml"] == []
    docs, _ = _render(tmp_path / "on", VALUE_SETS["existing-secret"])
    (monitor,) = docs["servicemonitor.yaml"]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    (service,) = [d for d in docs["web.yaml"] if d["kind"] == "Service"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["bearerTokenSecret"] == {"name": "kestrel-env", "key": "KESTREL_METRICS_TOKEN"}
    # /metrics answers on the public host only, with the whole installation's figures.
    assert endpoint["scheme"] == "https"
    relabel = {r.get("targetLabel"): r.get("replacement") for r in endpoint["relabelings"]}
    assert relabel["__address__"] == "kestrel.example.com:443"
    assert any(
        r.get("action") == "labeldrop" and "pod" in r["regex"] for r in endpoint["relabelings"]
    )
