"""The demo organisation's finished export: built by the real builder, once."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from apps.accounts.roles import Role
from apps.dataexport.demo import DEMO_OWNER, seed_data_export
from apps.dataexport.models import DataExport, Status
from tenants.models import Tenant
from tests.members import member

pytestmark = pytest.mark.django_db


def test_the_demo_owner_has_one_ready_export(in_a: Tenant) -> None:
    assert seed_data_export() is None  # no demo owner here yet
    owner = member(DEMO_OWNER, Role.OWNER, full_name="Dana Demo")
    export = seed_data_export()
    assert export is not None and export.status == Status.DONE
    assert export.requested_by == owner and export.downloadable
    with zipfile.ZipFile(Path(export.file.path)) as zf:
        assert DEMO_OWNER.encode() in zf.read("users.csv")
    assert seed_data_export() is None and DataExport.objects.count() == 1
