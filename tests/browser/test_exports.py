"""Exporting a filtered list in a real browser: the Export menu offers CSV, Excel and JSON,
and each download holds the rows the list shows, with formulas that never run."""

from __future__ import annotations

import csv
import io
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context
from openpyxl import load_workbook

from apps.accounts.models import User
from apps.contacts.services import contact_create
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("grace@export.test", "cobol-compiler-1959")
FORMULA = "=1+2"


def test_the_export_menu_downloads_the_filtered_list_in_each_format(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    slug = f"exports-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        made = tenant_provision(
            slug=slug,
            name="Hopper Exports",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Grace Hopper",
            use_pool=False,
        )
        with schema_context(made.tenant.schema_name):
            owner = User.objects.get(email=OWNER[0])
            contact_create(actor=owner, first_name=FORMULA, last_name="Formula", tags=["vip"])
            contact_create(actor=owner, first_name="Left", last_name="Out")
    base = f"http://{slug}.localhost:{server}"
    sign_in(page, base, *OWNER)

    page.goto(f"{base}/contacts/?tag=vip")
    page.get_by_text("Export", exact=True).click()
    menu = page.locator(".export-menu .menu-items")
    assert menu.is_visible()
    assert [a.inner_text() for a in menu.get_by_role("link").all()] == [
        "CSV",
        "Excel (XLSX)",
        "JSON",
    ]
    assert_csp_clean(page)
    shot(page, "export-menu")

    files: dict[str, Path] = {}
    for label, extension in (("CSV", "csv"), ("Excel (XLSX)", "xlsx"), ("JSON", "json")):
        with page.expect_download() as download:
            menu.get_by_role("link", name=label).click()
        assert download.value.suggested_filename.startswith("contacts-")
        assert download.value.suggested_filename.endswith(f".{extension}")
        files[extension] = Path(download.value.path())
        if not menu.is_visible():  # the menu may close after a download: open it again
            page.get_by_text("Export", exact=True).click()

    rows = list(csv.DictReader(io.StringIO(files["csv"].read_text("utf-8-sig"))))
    assert [row["First name"] for row in rows] == ["'" + FORMULA]
    sheet = load_workbook(io.BytesIO(files["xlsx"].read_bytes())).worksheets[0]
    header, *cells = list(sheet.iter_rows())
    first_name = cells[0][[c.value for c in header].index("First name")]
    assert len(cells) == 1 and first_name.value == FORMULA and first_name.data_type == "s"
    assert [row["first_name"] for row in json.loads(files["json"].read_text())] == [FORMULA]
    assert page.url == f"{base}/contacts/?tag=vip"  # still on the list
    assert_csp_clean(page)
