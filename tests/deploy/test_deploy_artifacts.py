"""The Dockerfile, the compose file and the Helm chart agree with the settings and each other,
and the chart passes Helm's own lint."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings.env import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "kestrel"
HELM_TOOL = ROOT / "tools" / "helm"
HELM_PYTHON = HELM_TOOL / ".venv" / "bin" / "python"
ROLES = ("web", "worker", "beat")


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def _values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def _lint(
    chart: Path, values: dict[str, Any] | None = None, tmp_path: Path | None = None
) -> dict[str, Any]:
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


def test_chart_containers_get_exactly_the_settings_env_vars() -> None:
    assert _template_env_names() == set(ENV_VARS)
    for name in ("web", "worker", "beat", "migrate-job"):
        text = (CHART / "templates" / f"{name}.yaml").read_text()
        assert 'include "kestrel.env"' in text, name


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
    for role in ROLES:
        assert values[role]["command"] == services[role]["command"], role
    assert services["migrate"]["command"] == values["migrate"]["command"]
    assert "config.wsgi:application" in values["web"]["command"]
    assert values["worker"]["command"][:3] == ["celery", "-A", "config.celery_app"]


def test_compose_env_names_are_the_settings_names() -> None:
    compose = _compose()
    for role in (*ROLES, "migrate"):
        service = compose["services"][role]
        assert set(service["environment"]) == set(ENV_VARS), role
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    for role in ROLES:
        dependency = compose["services"][role]["depends_on"]["migrate"]
        assert dependency == {"condition": "service_completed_successfully"}
    assert {"postgres", "redis"} <= set(compose["services"])


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
    for name in ("web", "worker", "beat", "migrate-job"):
        text = (CHART / "templates" / f"{name}.yaml").read_text()
        assert re.findall(r"image: (.+)", text) == ['{{ include "kestrel.image" . }}'], name
    services = _compose()["services"]
    images = {services[role]["image"] for role in (*ROLES, "migrate")}
    builds = {services[role]["build"]["dockerfile"] for role in (*ROLES, "migrate")}
    assert len(images) == 1 and builds == {"deploy/Dockerfile"}
