"""Export all data in a real browser (strict CSP): an Owner finds the page under Settings,
sees a running export's progress bar move and turn into a download link by itself, asks
for a new export and downloads the zip."""

from __future__ import annotations

import secrets
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.contacts.services import contact_create
from apps.dataexport import services
from apps.dataexport.models import DataExport, Status
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("grace@hopper.test", "compiler-pioneer-1952")


@pytest.fixture
def media_folders() -> Iterator[list[Path]]:
    folders: list[Path] = []
    yield folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def test_an_admin_follows_an_export_and_downloads_the_zip(
    page: Any,
    server: str,
    created: list[str],
    django_db_blocker: Any,
    media_folders: list[Path],
    tmp_path: Path,
) -> None:
    slug = f"hopper-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Hopper Systems",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Grace Hopper",
            use_pool=False,
        )
    schema = org.tenant.schema_name
    media_folders.append(Path(settings.MEDIA_ROOT) / schema)
    with django_db_blocker.unblock(), schema_context(schema):
        owner = User.objects.get(email=OWNER[0])
        contact_create(actor=owner, first_name="Ada", last_name="Lovelace", email="ada@x.io")
    base = f"http://{slug}.localhost:{server}"
    sign_in(page, base, *OWNER)

    # Found under Settings; nothing exported yet.
    page.get_by_text("Settings", exact=True).click()
    page.get_by_role("link", name="Export all data").click()
    page.wait_for_url(f"{base}/settings/data-export/")
    assert page.get_by_role("heading", name="No exports yet").is_visible()
    assert_csp_clean(page)

    # An export being built (as a worker half-way through reports it): its bar moves.
    with django_db_blocker.unblock(), schema_context(schema):
        running = DataExport.objects.create(
            requested_by=owner, status=Status.RUNNING, started_at=None
        )
        state = {"done": 40, "total": 100, "beat": time.time()}
        cache.set(services.progress_key(running.pk), state, 300)
    page.reload()
    bar = page.locator(f"#export-progress-{running.pk} progress")
    assert bar.get_attribute("max") == "100" and bar.get_attribute("value") == "40"
    assert "40 of 100 rows (40%)" in page.locator(".import-progress-figures").inner_text()
    assert page.get_by_role("button", name="Export all data").is_disabled()
    with django_db_blocker.unblock(), schema_context(schema):
        cache.set(services.progress_key(running.pk), {**state, "done": 75}, 300)
    page.locator(f'#export-progress-{running.pk} progress[value="75"]').wait_for()
    assert_csp_clean(page)
    # Done: the page turns into the download link by itself.
    with django_db_blocker.unblock(), schema_context(schema):
        services.build_archive(DataExport.objects.get(pk=running.pk))
    page.get_by_role("link", name="Download zip").wait_for()
    assert page.locator(f"#export-progress-{running.pk}").count() == 0

    # A new export, asked for with the button (built at once by this server).
    page.get_by_role("button", name="Export all data").click()
    page.get_by_text("Your export is being built.").wait_for()
    assert page.get_by_role("link", name="Download zip").count() == 2
    assert_csp_clean(page)
    shot(page, "data-export")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download zip").first.click()
    download = info.value
    assert download.suggested_filename.startswith(f"{slug}-data-export-")
    target = tmp_path / "export.zip"
    download.save_as(str(target))
    with zipfile.ZipFile(target) as zf:
        assert b"ada@x.io" in zf.read("contacts.csv")
        assert "README.txt" in zf.namelist()
    with django_db_blocker.unblock(), schema_context(schema):
        assert DataExport.objects.filter(download_count=1).count() == 1
