"""The import pages in the web app: upload, map the columns (suggested or remembered, with
sample values), the check's counts and problems, the import, the error file, progress and
cancelling, upload errors on the form, and who may see which import."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse
from django.test import Client
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.contacts.models import Contact
from apps.imports import services
from apps.imports.models import ImportJob, Status
from apps.imports.tasks import run_import
from tenants.db import connection
from tenants.models import Tenant
from tests.conftest import BETA, login
from tests.members import in_a, member, owner, readonly, rep

__all__ = ["in_a", "owner", "readonly", "rep"]

pytestmark = pytest.mark.django_db
Capture = Callable[..., Any]

PEOPLE = (
    "First name,Last name,Email,Company,Annual value\n"
    "Ada,Lovelace,ada@example.com,Analytical Engines,1200\n"
    "Alan,Turing,alan@example.com,bletchley.example,800\n"
    "Grace,Hopper,not-an-email,,50\n"
)


class SchemaKeepingClient(Client):
    """After each request the test is back in the schema it was in (the routing middleware
    leaves the connection on the public schema), so its queries and the import tasks run by
    on-commit callbacks reach the organisation."""

    def request(self, **request: Any) -> Any:
        schema = connection.schema_name
        try:
            return super().request(**request)
        finally:
            connection.set_schema(schema)


def signed_in(tenant: Tenant, user: User | str) -> SchemaKeepingClient:
    email = user if isinstance(user, str) else user.email
    client = SchemaKeepingClient(HTTP_HOST=f"{tenant.slug}.localhost")
    login(client, tenant, email)
    return client


@pytest.fixture(autouse=True)
def _remove_uploaded_files(in_a: Tenant) -> Iterator[None]:
    """Uploads land in the media folder; the rows roll back with the test, the files must
    be removed by hand."""
    yield
    connection.set_schema(in_a.schema_name)
    for job in ImportJob.objects.all():
        for stored in (job.file, job.error_file):
            if stored:
                stored.delete(save=False)


def upload(
    client: Client,
    text: str | bytes,
    name: str = "people.csv",
    entity: str = "contact",
    **form: Any,
) -> Any:
    data = text.encode() if isinstance(text, str) else text
    body = {"entity": entity, "mode": "upsert", "file": SimpleUploadedFile(name, data), **form}
    return client.post("/imports/new/", body)


def job_of(response: Any) -> ImportJob:
    assert response.status_code == 302, response.content.decode()[:2000]
    found = re.fullmatch(r"/imports/(\d+)/", response["Location"])
    assert found, response["Location"]
    return ImportJob.objects.get(pk=int(found[1]))


def selected(html: str, name: str) -> str:
    """The value of the chosen option of <select name=...>."""
    block = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert block, f"no select {name}"
    chosen = re.search(r'<option value="([^"]*)"[^>]*selected', block[1])
    return chosen[1] if chosen else ""


def text_of(html: str) -> str:
    """What a person reads: the page without tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def mapping_post(job: ImportJob, html: str, **changes: str) -> dict[str, str]:
    """The mapping form as the page filled it in, with `changes` (header -> field)."""
    data = {}
    for index, header in enumerate(job.headers):
        data[f"map-{index}"] = changes.get(header, selected(html, f"map-{index}"))
    data.update(match_on=selected(html, "match_on"), mode=selected(html, "mode"), locale="en")
    return data


def test_upload_map_check_import_and_download_the_errors(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = signed_in(in_a, owner)
    # The contacts list offers the import next to its export.
    contacts = client.get("/contacts/").content.decode()
    assert 'href="/imports/new/?entity=contact">Import</a>' in contacts

    form = client.get("/imports/new/?entity=contact").content.decode()
    assert '<option value="contact" selected>' in form
    assert "up to 200 MB" in form and 'enctype="multipart/form-data"' in form

    job = job_of(upload(client, PEOPLE))
    assert job.status == Status.MAPPING and job.created_by == owner

    # Step 2: every column with its suggested field and its first values.
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert [selected(page, f"map-{i}") for i in range(5)] == [
        "first_name",
        "last_name",
        "email",
        "company",
        "",
    ]
    assert "Don&#x27;t import" in page or "Don't import" in page
    assert '<optgroup label="Fields">' in page and '<optgroup label="Links">' in page
    for sample in ("Ada", "Alan", "Grace", "analytical engines".title(), "not-an-email", "1200"):
        assert f'<span class="sample">{sample}</span>' in page, sample
    assert '<label for="id_map-2">Email</label>' in page
    assert selected(page, "match_on") == "email"
    assert "Mapping remembered" not in page
    assert 'aria-current="step"' in page

    # Submitting the mapping runs the check (eager Celery, as the request commits).
    with django_capture_on_commit_callbacks(execute=True):
        checked = client.post(f"/imports/{job.pk}/mapping/", mapping_post(job, page))
    assert checked.status_code == 302 and checked["Location"] == f"/imports/{job.pk}/"
    job.refresh_from_db()
    assert job.status == Status.PREVIEWED
    preview = client.get(f"/imports/{job.pk}/").content.decode()
    words = text_of(preview)
    assert "What the import would do" in words
    assert "Would be created 2" in words and "Errors 1" in words
    assert "Duplicates skipped 0" in words and "Skipped (no match) 0" in words
    # The bad row with its spreadsheet row number and column.
    problem = re.search(r'<tr class="is-error">(.*?)</tr>', preview, re.S)
    assert problem, preview
    cells = re.findall(r"<td[^>]*>(.*?)</td>", problem[1], re.S)
    assert cells[0] == "4" and cells[1] == "Email" and "not-an-email" in cells[3]
    assert f'href="/imports/{job.pk}/errors.csv"' in preview
    assert "Import 2 rows" in words and "Change mapping" in words
    assert not Contact.objects.filter(email="ada@example.com").exists()

    errors_only = text_of(client.get(f"/imports/{job.pk}/?problems=errors").content.decode())
    assert "Errors (1)" in errors_only and "not-an-email" in errors_only

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"/imports/{job.pk}/start/")
    assert started.status_code == 302
    job.refresh_from_db()
    assert job.status == Status.DONE
    done = client.get(f"/imports/{job.pk}/").content.decode()
    words = text_of(done)
    assert "The import is done" in words and "Created 2" in words and "Errors 1" in words
    assert "Fix these rows and upload the file again" in words
    assert 'href="/contacts/"' in done and "See the contacts" in words
    ada = Contact.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    assert Contact.objects.filter(email="alan@example.com").exists()
    assert not Contact.objects.filter(first_name="Grace").exists()

    download = client.get(f"/imports/{job.pk}/errors.csv")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert download["Content-Disposition"] == 'attachment; filename="people-errors.csv"'
    assert isinstance(download, FileResponse)
    rows = list(csv.reader(io.StringIO(download.getvalue().decode("utf-8-sig"))))
    assert rows[0] == ["First name", "Last name", "Email", "Company", "Annual value", "error"]
    assert rows[1][:3] == ["Grace", "Hopper", "not-an-email"]
    assert "Email" in rows[1][5] and "not-an-email" in rows[1][5]
    assert len(rows) == 2

    history = text_of(client.get("/imports/").content.decode())
    assert "people.csv" in history and "Contact" in history and "Imported" in history


def test_a_mapping_is_remembered_for_the_next_file_with_the_same_columns(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = signed_in(in_a, owner)
    first = job_of(upload(client, PEOPLE))
    page = client.get(f"/imports/{first.pk}/").content.decode()
    # The person maps "Annual value" to the notes and leaves the company out.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/imports/{first.pk}/mapping/",
            mapping_post(first, page, **{"Annual value": "notes", "Company": ""}),
        )

    again = job_of(upload(client, PEOPLE.replace("Ada,Lovelace", "Ada,King"), name="more.csv"))
    page = client.get(f"/imports/{again.pk}/").content.decode()
    assert "Mapping remembered from your last import of these columns." in page
    assert selected(page, "map-3") == "" and selected(page, "map-4") == "notes"

    # Once this import's own mapping is saved, the notice no longer applies to it.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{again.pk}/mapping/", mapping_post(again, page))
    client.post(f"/imports/{again.pk}/remap/")
    page = client.get(f"/imports/{again.pk}/").content.decode()
    assert "Mapping remembered" not in page and selected(page, "map-4") == "notes"


def test_a_mapping_that_cannot_work_is_explained_on_the_page(in_a: Tenant, owner: User) -> None:
    client = signed_in(in_a, owner)
    job = job_of(upload(client, PEOPLE))
    page = client.get(f"/imports/{job.pk}/").content.decode()
    twice = client.post(
        f"/imports/{job.pk}/mapping/", mapping_post(job, page, **{"Annual value": "email"})
    )
    assert twice.status_code == 400
    assert "Both &#x27;Email&#x27; and &#x27;Annual value&#x27; are mapped to Email" in (
        twice.content.decode()
    )
    # What the person chose is still there to correct.
    assert selected(twice.content.decode(), "map-4") == "email"
    updating = client.post(
        f"/imports/{job.pk}/mapping/",
        {**mapping_post(job, page), "match_on": "none", "mode": "update"},
    )
    assert "Updating needs a column to match records on" in updating.content.decode()
    job.refresh_from_db()
    assert job.status == Status.MAPPING


def test_the_progress_bar_polls_until_the_import_finishes(in_a: Tenant, owner: User) -> None:
    client = signed_in(in_a, owner)
    job = job_of(upload(client, PEOPLE))
    # Checked already, so the number of rows is known (before, it is an estimate).
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.RUNNING, rows_total=1000, previewed=True
    )
    now = time.time()
    cache.set(
        services.progress_key(job.pk),
        {"done": 250, "total": 1000, "started": now - 10, "beat": now},
        60,
    )
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "Importing" in page and "Cancel the import" in page
    assert f'hx-get="/imports/{job.pk}/progress/" hx-trigger="every 1s"' in page
    partial = client.get(f"/imports/{job.pk}/progress/")
    html = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in html
    assert '<progress id="import-progress-bar" max="1000" value="250">25%</progress>' in html
    assert "250 of 1,000 rows (25%)" in text_of(html)
    assert "rows/s" in html and "left" in html
    assert 'hx-trigger="every 1s"' in html

    # Finished: the answer stops the polling and reloads the page onto the result.
    ImportJob.objects.filter(pk=job.pk).update(status=Status.DONE, rows_total=3, rows_done=3)
    finished = client.get(f"/imports/{job.pk}/progress/")
    assert finished.status_code == 286 and finished["HX-Refresh"] == "true"
    assert "hx-trigger" not in finished.content.decode()
    assert "See the result" in finished.content.decode()


def test_a_queued_import_is_cancelled_and_nothing_is_changed(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = signed_in(in_a, owner)
    job = job_of(upload(client, PEOPLE))
    page = client.get(f"/imports/{job.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/mapping/", mapping_post(job, page))
    # Start, but leave the run waiting (its on-commit callback is not run), as behind a busy
    # worker.
    client.post(f"/imports/{job.pk}/start/")
    job.refresh_from_db()
    assert job.status == Status.QUEUED
    waiting = text_of(client.get(f"/imports/{job.pk}/").content.decode())
    assert "Waiting to start" in waiting
    cancelled = client.post(f"/imports/{job.pk}/cancel/", follow=True)
    assert "Cancelling the import" in text_of(cancelled.content.decode())
    job.refresh_from_db()
    assert job.status == Status.CANCELLING
    assert "Cancel the import" not in cancelled.content.decode()
    run_import(job.pk, False)  # the worker picks the message up and stops at once
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    page = text_of(client.get(f"/imports/{job.pk}/").content.decode())
    assert "The import was cancelled" in page and "Nothing was changed" in page
    assert "Upload a file again" in page
    assert not Contact.objects.filter(email="ada@example.com").exists()
    # Cancelling a finished import says why it cannot be done.
    refused = client.post(f"/imports/{job.pk}/cancel/", follow=True)
    assert "Only a queued or running import can be cancelled." in refused.content.decode()


@pytest.mark.parametrize(
    ("content", "name", "words"),
    [
        ("", "empty.csv", "file is empty."),
        ("Email,Name,email\na@example.com,A,b\n", "twice.csv", "appears twice"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "old.xls", "Old Excel files (.xls) cannot be read"),
        ("First name,Email\n", "header-only.csv", "no data rows"),
    ],
)
def test_a_file_that_cannot_be_read_is_explained_on_the_form(
    in_a: Tenant, owner: User, content: str | bytes, name: str, words: str
) -> None:
    client = signed_in(in_a, owner)
    answer = upload(client, content, name=name)
    assert answer.status_code == 400
    html = answer.content.decode().replace("&#x27;", "'")
    assert words in html
    assert re.search(r'<div id="file-errors"><p class="field-error" role="alert">', html)
    assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_refused_without_being_kept(
    in_a: Tenant, owner: User, settings: Any
) -> None:
    settings.IMPORT_MAX_FILE_BYTES = 2 * 1_048_576
    client = signed_in(in_a, owner)
    form = client.get("/imports/new/").content.decode()
    assert "up to 2 MB" in form
    big = "Email\n" + "someone@example.com\n" * 120_000  # about 2.4 MB
    answer = upload(client, big, name="big.csv")
    assert answer.status_code == 400
    assert "big.csv is larger than 2 MB, the most one import can take." in answer.content.decode()
    assert not ImportJob.objects.exists()


def test_read_only_people_are_not_offered_imports(in_a: Tenant, readonly: User) -> None:
    client = signed_in(in_a, readonly)
    assert "/imports/new/" not in client.get("/contacts/").content.decode()
    assert "Import data" not in client.get("/").content.decode()
    refused = client.get("/imports/new/")
    assert refused.status_code == 403
    assert "Read-only access cannot import records." in refused.content.decode()
    empty = text_of(client.get("/imports/").content.decode())
    assert "No imports yet" in empty and "Import a file" not in empty


def test_an_empty_history_invites_a_first_import(in_a: Tenant, owner: User) -> None:
    client = signed_in(in_a, owner)
    page = client.get("/imports/").content.decode()
    assert "No imports yet" in page and 'href="/imports/new/"' in page
    home = client.get("/").content.decode()
    assert 'href="/imports/">Import data</a>' in home and 'href="/imports/">Imports</a>' in home


def test_others_imports_are_hidden_from_reps_but_not_from_owners(
    in_a: Tenant, owner: User, rep: User, django_capture_on_commit_callbacks: Capture
) -> None:
    owners = signed_in(in_a, owner)
    job = job_of(upload(owners, PEOPLE))
    page = owners.get(f"/imports/{job.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        owners.post(f"/imports/{job.pk}/mapping/", mapping_post(job, page))
    job.refresh_from_db()
    assert job.status == Status.PREVIEWED and job.error_file

    reps = signed_in(in_a, rep)
    for path in ("", "errors.csv", "progress/"):
        assert reps.get(f"/imports/{job.pk}/{path}").status_code == 404, path
    for path in ("start/", "cancel/", "remap/", "mapping/"):
        assert reps.post(f"/imports/{job.pk}/{path}").status_code == 404, path
    assert "people.csv" not in reps.get("/imports/").content.decode()
    job.refresh_from_db()
    assert job.status == Status.PREVIEWED

    # The rep's own import: theirs to see, and the owner's (and an Admin's) too.
    mine = job_of(upload(reps, PEOPLE, name="rep-file.csv"))
    assert reps.get(f"/imports/{mine.pk}/").status_code == 200
    assert "rep-file.csv" in reps.get("/imports/").content.decode()
    assert owners.get(f"/imports/{mine.pk}/").status_code == 200
    admin = member("member-admin@alpha.test", Role.ADMIN, full_name="Ada Admin")
    admins = signed_in(in_a, admin)
    listed = admins.get("/imports/").content.decode()
    assert "rep-file.csv" in listed and "people.csv" in listed
    assert admins.get(f"/imports/{job.pk}/errors.csv").status_code == 200


def test_another_organisation_cannot_reach_an_import_or_its_error_file(
    in_a: Tenant, owner: User, tenant_b: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    client = signed_in(in_a, owner)
    job = job_of(upload(client, PEOPLE))
    page = client.get(f"/imports/{job.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/mapping/", mapping_post(job, page))
    assert client.get(f"/imports/{job.pk}/errors.csv").status_code == 200

    other = signed_in(tenant_b, BETA.owner_email)
    for path in ("", "errors.csv", "progress/"):
        assert other.get(f"/imports/{job.pk}/{path}").status_code == 404, path
    assert other.post(f"/imports/{job.pk}/start/").status_code == 404
    assert "people.csv" not in other.get("/imports/").content.decode()


def test_no_inline_script_or_style_on_the_import_pages(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = signed_in(in_a, owner)
    job = job_of(upload(client, PEOPLE))
    pages = ["/imports/", "/imports/new/", f"/imports/{job.pk}/"]
    html = [client.get(path).content.decode() for path in pages]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/mapping/", mapping_post(job, html[2]))
    html.append(client.get(f"/imports/{job.pk}/").content.decode())
    for page in html:
        assert " style=" not in page and "<script>" not in page


def test_the_upload_form_still_checks_the_csrf_token(in_a: Tenant, owner: User) -> None:
    # The upload view installs its size limit before the body is read, so it does its own
    # CSRF check instead of the middleware's: a forged post must still be refused.
    client = SchemaKeepingClient(HTTP_HOST=f"{in_a.slug}.localhost", enforce_csrf_checks=True)
    login(client, in_a, owner.email)
    forged = upload(client, PEOPLE)
    assert forged.status_code == 403
    assert not ImportJob.objects.exists()


def test_a_cancel_no_worker_picked_up_ends_when_the_page_is_opened(
    in_a: Tenant, owner: User
) -> None:
    client = signed_in(in_a, owner)
    job = job_of(upload(client, PEOPLE))
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    ImportJob.objects.filter(pk=job.pk).update(status=Status.CANCELLING, heartbeat_at=long_ago)
    page = text_of(client.get(f"/imports/{job.pk}/").content.decode())
    assert "The import was cancelled" in page and "Nothing was changed" in page


def test_a_failed_import_says_nothing_changed_and_can_be_tried_again(
    in_a: Tenant, owner: User
) -> None:
    client = signed_in(in_a, owner)
    job = job_of(upload(client, PEOPLE))
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.FAILED, message="The import failed and nothing was changed: disk full"
    )
    page = text_of(client.get(f"/imports/{job.pk}/").content.decode())
    assert "The import failed" in page and "disk full" in page
    assert "Nothing was changed" in page and "Check the mapping and try again" in page
    again = client.post(f"/imports/{job.pk}/remap/", follow=True)
    assert "Match the columns to contact fields" in again.content.decode()
    job.refresh_from_db()
    assert job.status == Status.MAPPING
