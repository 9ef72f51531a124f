"""Lint a Helm chart with Helm's own engine (helm-sdkpy) and print the result as JSON.

    tools/helm/.venv/bin/python tools/helm/lint_chart.py CHART_DIR [VALUES_YAML]

VALUES_YAML, if given, is merged over the chart's values.yaml (on a temporary copy of the
chart), since the engine's lint action reads only the chart's own values file.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import helm_sdkpy
import yaml


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def lint(chart: Path, values: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / chart.name
        shutil.copytree(chart, target)
        if values is not None:
            chart_values = yaml.safe_load((target / "values.yaml").read_text()) or {}
            override = yaml.safe_load(values.read_text()) or {}
            (target / "values.yaml").write_text(yaml.safe_dump(merge(chart_values, override)))
        config = helm_sdkpy.Configuration(namespace="default")
        result = asyncio.run(helm_sdkpy.Lint(config).run(str(target)))
        return {"engine": helm_sdkpy.get_version(), "result": result}


if __name__ == "__main__":
    chart_dir = Path(sys.argv[1]).resolve()
    values_file = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else None
    print(json.dumps(lint(chart_dir, values_file), default=str))
