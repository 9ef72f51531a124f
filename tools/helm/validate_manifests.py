"""Validate Kubernetes manifests against the API's JSON schemas (kubernetes-validate, which
ships them: no network) and print the outcome as JSON.

    tools/helm/.venv/bin/python tools/helm/validate_manifests.py MANIFESTS_JSON K8S_VERSION

MANIFESTS_JSON holds a list of manifests (objects). Strict schemas: an unknown field is an
error, as `kubectl apply --validate=strict` would make it. Kinds the schemas do not know (a
CustomResource such as the Prometheus Operator's ServiceMonitor) are listed as skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate


def validate(manifests: list[dict[str, Any]], version: str) -> dict[str, Any]:
    checked, errors, skipped = [], [], []
    for manifest in manifests:
        name = f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"
        try:
            used = kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            skipped.append(name)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.absolute_path)
            errors.append({"manifest": name, "path": path, "message": error.message})
        else:
            checked.append({"manifest": name, "schema": used})
    return {
        "engine": f"kubernetes-validate {kubernetes_validate.__version__}",
        "checked": checked,
        "errors": errors,
        "skipped": skipped,
    }


if __name__ == "__main__":
    documents = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(validate(documents, sys.argv[2])))
