"""Imports in a real browser: from the contacts list, upload a CSV with a bad row, map its
columns, check it, import it and download the rejected rows; a running import's progress bar
follows it to its result by itself; a 100 MB file uploads."""

from __future__ import annotations

import csv
import io
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.imports import services
from apps.imports.models import ImportJob, Status
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("ada@lovelace.test", "analytical-engine-1843")

PEOPLE = (
    "First name,Last name,E-mail,Company,Job title,Annual value\n"
    "Ada,Lovelace,ada@example.com,Analytical Engines,Analyst,1200\n"
    "Charles,Babbage,charles@example.com,Analytical Engines,Inventor,900\n"
    "Mary,Somerville,mary@example.com,Royal Society,Author,300\n"
    "Grace,Hopper,grace(at)navy.example,US Navy,Rear admiral,50\n"
    "Alan,Turing,alan@example.com,bletchley.example,Mathematician,800\n"
)


@pytest.fixture
def media_folders() -> Iterator[list[Path]]:
    """Uploaded files stay in the media folder when an organisation is deleted; the test's
    organisations' folders are removed afterwards."""
    folders: list[Path] = []
    yield folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _organisation(created: list[str], django_db_blocker: Any, media: list[Path]) -> Any:
    slug = f"lovelace-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Lovelace Analytics",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Ada Lovelace",
            use_pool=False,
        )
    media.append(Path(settings.MEDIA_ROOT) / org.tenant.schema_name)
    return org


def test_upload_map_check_import_and_download_the_rejected_rows(
    page: Any,
    server: str,
    created: list[str],
    django_db_blocker: Any,
    tmp_path: Path,
    media_folders: list[Path],
) -> None:
    org = _organisation(created, django_db_blocker, media_folders)
    schema = org.tenant.schema_name
    with django_db_blocker.unblock(), schema_context(schema):
        # Already in the CRM: the import updates her instead of adding her twice.
        contact_create(
            actor=User.objects.get(email=OWNER[0]),
            first_name="Ada",
            last_name="King",
            email="ada@example.com",
        )
    base = f"http://{org.tenant.slug}.localhost:{server}"
    sign_in(page, base, *OWNER)

    # The contacts list offers the import next to its export.
    page.goto(f"{base}/contacts/")
    page.get_by_role("link", name="Import", exact=True).click()
    page.wait_for_url(f"{base}/imports/new/?entity=contact")
    assert page.get_by_label("Record type").input_value() == "contact"
    assert page.get_by_text("CSV, Excel (.xlsx) or JSON, up to 200 MB.").is_visible()
    path = tmp_path / "old-crm-contacts.csv"
    path.write_text(PEOPLE)
    page.get_by_label("File to import").set_input_files(str(path))
    assert page.get_by_label("Create new and update matched records").is_checked()
    assert_csp_clean(page)
    shot(page, "imports-upload")
    page.get_by_role("button", name="Upload and map columns").click()

    # Step 2: the columns with their first values and the fields they were matched to.
    page.wait_for_url(re.compile(r"/imports/\d+/$"))
    assert page.get_by_role("heading", name="Match the columns to contact fields").is_visible()
    assert page.get_by_label("E-mail").input_value() == "email"
    assert page.get_by_label("Job title").input_value() == "title"
    assert page.get_by_label("Annual value").input_value() == ""  # nothing fits: left out
    row = page.locator("tr").filter(has=page.get_by_label("First name"))
    assert row.locator(".sample").all_inner_texts() == ["Ada", "Charles", "Mary"]
    assert page.get_by_label("Match existing records on").input_value() == "email"
    # Keyboard: the selects are reachable and operable without a mouse.
    page.get_by_label("Annual value").focus()
    page.get_by_label("Annual value").select_option(label="Notes")
    assert_csp_clean(page)
    page.get_by_role("heading", level=1).scroll_into_view_if_needed()
    shot(page, "imports-mapping")
    page.get_by_role("button", name="Check the file").click()

    # Step 3: what would happen, nothing written yet.
    page.get_by_role("heading", name="What the import would do").wait_for()
    counts = page.locator(".import-counts")
    assert counts.locator(".count-created dd").inner_text() == "3"
    assert counts.locator(".count-updated dd").inner_text() == "1"
    assert counts.locator(".count-errors dd").inner_text() == "1"
    bad = page.locator(".problems-table tr.is-error")
    assert bad.locator("td").nth(0).inner_text() == "5"
    assert bad.locator("td").nth(1).inner_text() == "E-mail"
    assert "grace(at)navy.example" in bad.locator("td").nth(3).inner_text()
    with django_db_blocker.unblock(), schema_context(schema):
        assert Contact.objects.count() == 1
    assert_csp_clean(page)
    shot(page, "imports-preview")
    page.get_by_role("button", name="Import 4 rows").click()

    # Done: the counts, the rows to fix, the way to the contacts.
    page.get_by_role("heading", name="The import is done").wait_for()
    assert page.locator(".count-created dd").inner_text() == "3"
    assert page.locator(".count-updated dd").inner_text() == "1"
    assert page.get_by_text("Fix these rows and upload the file again").is_visible()
    download_link = page.get_by_role("link", name="Download the 1 row with errors (CSV)")
    assert download_link.is_visible()
    assert_csp_clean(page)
    shot(page, "imports-result")
    with page.expect_download() as waiting:
        download_link.click()
    download = waiting.value
    assert download.suggested_filename == "old-crm-contacts-errors.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
    assert rows[0][-1] == "error" and rows[1][:2] == ["Grace", "Hopper"]
    with django_db_blocker.unblock(), schema_context(schema):
        ada = Contact.objects.get(email="ada@example.com")
        assert (ada.last_name, ada.title, ada.notes) == ("Lovelace", "Analyst", "1200")
        assert Contact.objects.count() == 4

    page.get_by_role("link", name="See the contacts").click()
    page.wait_for_url(f"{base}/contacts/")
    assert page.get_by_role("link", name="Mary Somerville").is_visible()
    page.goto(f"{base}/imports/")
    history = page.locator(".import-history tbody tr")
    assert history.count() == 1
    assert "old-crm-contacts.csv" in history.inner_text() and "Imported" in history.inner_text()
    assert_csp_clean(page)


def test_the_progress_bar_follows_a_running_import_to_its_result(
    page: Any, server: str, created: list[str], django_db_blocker: Any, media_folders: list[Path]
) -> None:
    org = _organisation(created, django_db_blocker, media_folders)
    schema = org.tenant.schema_name
    with django_db_blocker.unblock(), schema_context(schema):
        owner = User.objects.get(email=OWNER[0])
        job = services.import_create(
            actor=owner, entity="contact", upload=SimpleUploadedFile("big.csv", PEOPLE.encode())
        )
        # As a worker half-way through a large file reports it.
        ImportJob.objects.filter(pk=job.pk).update(
            status=Status.RUNNING, rows_total=200_000, previewed=True
        )
        now = time.time()
        cache.set(
            services.progress_key(job.pk),
            {"done": 80_000, "total": 200_000, "started": now - 8, "beat": now},
            300,
        )
    base = f"http://{org.tenant.slug}.localhost:{server}"
    sign_in(page, base, *OWNER)
    page.goto(f"{base}/imports/{job.pk}/")
    bar = page.locator("progress#import-progress-bar")
    assert bar.get_attribute("max") == "200000" and bar.get_attribute("value") == "80000"
    assert "80,000 of 200,000 rows (40%)" in page.locator(".import-progress-figures").inner_text()
    assert page.get_by_role("button", name="Cancel the import").is_visible()
    with django_db_blocker.unblock(), schema_context(schema):
        state = cache.get(services.progress_key(job.pk))
        cache.set(services.progress_key(job.pk), {**state, "done": 150_000}, 300)
    # The page asks every second: the bar moves without a reload.
    page.locator('progress#import-progress-bar[value="150000"]').wait_for()
    assert_csp_clean(page)
    shot(page, "imports-progress")
    with django_db_blocker.unblock(), schema_context(schema):
        ImportJob.objects.filter(pk=job.pk).update(
            status=Status.DONE, rows_total=200_000, rows_done=200_000, created=200_000
        )
        cache.delete(services.progress_key(job.pk))
    # Finished: the page turns into the result by itself, and stops asking.
    page.get_by_role("heading", name="The import is done").wait_for()
    assert page.locator(".count-created dd").inner_text() == "200,000"
    assert page.locator("#import-progress").count() == 0
    assert_csp_clean(page)


def test_a_100_mb_file_uploads(
    page: Any,
    server: str,
    created: list[str],
    django_db_blocker: Any,
    tmp_path: Path,
    media_folders: list[Path],
) -> None:
    org = _organisation(created, django_db_blocker, media_folders)
    base = f"http://{org.tenant.slug}.localhost:{server}"
    path = tmp_path / "everyone.csv"
    line = "Person {n},Example,person{n}@example.com,Some Company Ltd,London,vip; imported\n"
    with path.open("w") as handle:
        handle.write("First name,Last name,Email,Company,City,Tags\n")
        n = 0
        while handle.tell() < 100 * 1_048_576:
            handle.write("".join(line.format(n=n + i) for i in range(10_000)))
            n += 10_000
    sign_in(page, base, *OWNER)
    page.goto(f"{base}/imports/new/?entity=contact")
    page.get_by_label("File to import").set_input_files(str(path))
    page.get_by_role("button", name="Upload and map columns").click()
    page.wait_for_url(re.compile(r"/imports/\d+/$"), timeout=120_000)
    assert page.get_by_label("Email", exact=True).input_value() == "email"
    assert "100." in page.locator("main > p.muted").inner_text()  # "100.x MB CSV"
    with django_db_blocker.unblock(), schema_context(org.tenant.schema_name):
        assert ImportJob.objects.get().file_size == path.stat().st_size
