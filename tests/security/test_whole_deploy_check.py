"""`manage.py check --deploy` under the production settings: no warning (two are silenced,
each with its reason, in config/settings/production.py). The command runs in its own process,
started with the folder's first test (conftest.deploy_check); this file comes last."""

from __future__ import annotations

import subprocess


def test_check_deploy_is_clean_under_production_settings(
    deploy_check: subprocess.Popen[str],
) -> None:
    output, _ = deploy_check.communicate(timeout=300)
    assert deploy_check.returncode == 0, output
    assert "System check identified no issues (2 silenced)." in output, output
