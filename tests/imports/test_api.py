"""`/api/v1/imports/`: upload and dry-run or import a file, follow it, read its problems and
rejected rows, start, change and cancel it, list the fields to map to; file and mapping
problems answer 400 naming them; who may see and start which import."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.apikeys.services import api_key_create
from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.imports import services
from apps.imports.models import ImportJob
from apps.records.services import customfield_create
from tenants.db import connection
from tenants.models import Tenant
from tests.conftest import login
from tests.members import in_a, owner, readonly, rep

__all__ = ["in_a", "owner", "readonly", "rep"]

pytestmark = pytest.mark.django_db
JSON = "application/json"
Capture = Callable[..., Any]

PEOPLE = (
    "First name,Last name,E-mail,Company\n"
    "Ada,Lovelace,ada@example.com,Analytical Engines\n"
    "Alan,Turing,alan@example.com,\n"
    "Ada,Again,ADA@example.com,\n"
    "Bad,Email,not-an-email,\n"
)


class SchemaKeepingClient(Client):
    """After each request the test is back in the schema it was in (the routing middleware
    leaves the connection on the public schema), so its queries and the import tasks run
    by on-commit callbacks reach the organisation."""

    def request(self, **request: Any) -> Any:
        schema = connection.schema_name
        try:
            return super().request(**request)
        finally:
            connection.set_schema(schema)


def keyed(tenant: Tenant, **key: Any) -> SchemaKeepingClient:
    secret = api_key_create(name=key.pop("name", "importer"), **key).secret
    return SchemaKeepingClient(
        HTTP_HOST=f"{tenant.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def signed_in(tenant: Tenant, user: User) -> SchemaKeepingClient:
    client = SchemaKeepingClient(HTTP_HOST=f"{tenant.slug}.localhost")
    login(client, tenant, user.email)
    return client


def upload(text: str | bytes, name: str = "people.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text, "text/csv")


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Iterator[Path]:
    settings.MEDIA_ROOT = str(tmp_path)
    yield tmp_path


def post_import(
    client: Client,
    capture: Capture | None,
    text: str | bytes,
    name: str = "people.csv",
    **form: Any,
) -> Any:
    """POST the file; with `capture`, the queued run happens as the request's transaction
    commits (Celery is eager in tests)."""
    body = {"entity": "contact", "file": upload(text, name), **form}
    if "mapping" in body and not isinstance(body["mapping"], str):
        body["mapping"] = json.dumps(body["mapping"])
    if capture is None:
        return client.post("/api/v1/imports/", body)
    with capture(execute=True):
        return client.post("/api/v1/imports/", body)


def test_dry_run_then_start_imports_the_file(
    in_a: Tenant, owner: User, media: Path, django_capture_on_commit_callbacks: Capture
) -> None:
    client = keyed(in_a, role="owner", created_by=owner)
    answer = post_import(
        client, django_capture_on_commit_callbacks, PEOPLE, dry_run="true", match_on="email"
    )
    assert answer.status_code == 202, answer.content
    assert answer["X-RateLimit-Limit"]  # counted against the key's rate limit like any call
    made = answer.json()
    assert made["status"] == "preview_queued" and made["entity"] == "contact"
    assert made["mode"] == "upsert" and made["match_on"] == "email"
    assert made["headers"] == ["First name", "Last name", "E-mail", "Company"]
    assert made["mapping"] == {
        "First name": "first_name",
        "Last name": "last_name",
        "E-mail": "email",
        "Company": "company",
    }
    location = answer["Location"]
    assert location == f"http://{in_a.slug}.localhost/api/v1/imports/{made['id']}/"
    assert made["links"]["self"] == location

    # The dry run has finished (the task ran as the upload committed): counts, nothing written.
    job = client.get(location).json()
    assert job["status"] == "previewed" and job["previewed"] is True
    assert job["counts"] == {
        "rows_total": 4,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "duplicates": 1,
        "skipped": 0,
        "errors": 1,
    }
    assert set(job["progress"]) == {"done", "total", "percent", "rate", "seconds_left"}
    assert not Contact.objects.filter(email__in=["ada@example.com", "alan@example.com"]).exists()

    problems = client.get(job["links"]["problems"]).json()["results"]
    assert {"row": 5, "column": "E-mail", "code": "invalid_email", "kind": "error"}.items() <= next(
        p for p in problems if p["row"] == 5
    ).items()
    bad = next(p for p in problems if p["row"] == 5)
    assert "not-an-email" in bad["message"]
    repeat = next(p for p in problems if p["row"] == 4)
    assert repeat["code"] == "duplicate_in_file" and repeat["kind"] == "note"
    assert "row 2" in repeat["message"]
    errors = client.get(f"{location}problems/?kind=errors").json()["results"]
    notes = client.get(f"{location}problems/?kind=notes").json()["results"]
    assert [p["row"] for p in errors] == [5] and [p["row"] for p in notes] == [4]
    wrong_kind = client.get(f"{location}problems/?kind=warnings")
    assert wrong_kind.status_code == 400 and wrong_kind.json()["error"]["field"] == "kind"

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"{location}start/", content_type=JSON)
    assert started.status_code == 202 and started.json()["status"] == "queued"
    done = client.get(location).json()
    assert done["status"] == "succeeded" and done["status_label"] == "Imported"
    assert (done["progress"]["percent"], done["progress"]["done"]) == (100, 4)
    assert (done["counts"]["created"], done["counts"]["errors"]) == (2, 1)
    ada = Contact.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    assert ada.companies.get().name == "Analytical Engines"
    assert Contact.objects.filter(email="alan@example.com").exists()
    assert not Contact.objects.filter(last_name="Email").exists()

    # The rejected rows, in the file's own columns plus what is wrong, ready to fix.
    error_file = client.get(done["links"]["error_file"], HTTP_ACCEPT="text/csv")
    assert error_file.status_code == 200
    assert error_file["Content-Type"].startswith("text/csv")
    assert 'filename="people-errors.csv"' in error_file["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(error_file.getvalue().decode("utf-8-sig"))))
    assert rows[0] == ["First name", "Last name", "E-mail", "Company", "error"]
    assert rows[1][:3] == ["Bad", "Email", "not-an-email"] and "E-mail" in rows[1][4]
    assert len(rows) == 2
    assert ImportJob.objects.get().error_file.path.startswith(str(media))

    listed = client.get("/api/v1/imports/").json()
    assert [j["id"] for j in listed["results"]] == [made["id"]] and "next" in listed

    # Finished: it can be neither cancelled nor started again.
    for path in ("cancel/", "start/"):
        refused = client.post(f"{location}{path}", content_type=JSON)
        assert refused.status_code == 400, path
        assert refused.json()["error"]["code"] == "validation_error"
    assert client.get(location).json()["status"] == "succeeded"


FIXED = {"status", "rows_total", "rows_done", "created", "updated", "skipped", "errors"}


def test_a_finished_import_has_the_fixed_shape(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = keyed(in_a, role="owner", created_by=owner)
    answer = post_import(client, django_capture_on_commit_callbacks, PEOPLE, match_on="email")
    assert answer.status_code == 202, answer.content
    job = client.get(answer["Location"]).json()
    assert set(job) >= FIXED
    assert job["status"] == "succeeded" and job["status_label"] == "Imported"
    assert (job["rows_total"], job["rows_done"]) == (4, 4)
    assert (job["created"], job["updated"], job["skipped"]) == (2, 0, 0)
    # Every problem, in row order, as the problems endpoint lists them.
    assert job["errors"] == [
        {k: p[k] for k in ("row", "column", "code", "message", "kind")}
        for p in client.get(job["links"]["problems"]).json()["results"]
    ]
    assert [(e["row"], e["column"], e["code"]) for e in job["errors"]] == [
        (4, "E-mail", "duplicate_in_file"),
        (5, "E-mail", "invalid_email"),
    ]
    assert all(set(e) >= {"row", "column", "code", "message"} for e in job["errors"])
    assert "not-an-email" in job["errors"][1]["message"]
    # What was there before stays: the counts (with the number of errors) and the progress.
    assert job["counts"]["errors"] == 1 and job["counts"]["duplicates"] == 1
    assert (job["progress"]["done"], job["progress"]["percent"]) == (4, 100)
    # The list shows the same.
    listed = client.get("/api/v1/imports/").json()["results"]
    assert [(j["id"], j["status"], j["errors"]) for j in listed] == [
        (job["id"], "succeeded", job["errors"])
    ]
    # The model and the web pages keep their own name for it.
    assert ImportJob.objects.get(pk=job["id"]).status == "done"


def test_an_import_shows_its_first_hundred_problems(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = keyed(in_a, role="owner", created_by=owner)
    text = "Email\n" + "".join(f"bad-{n}\n" for n in range(120))
    answer = post_import(client, django_capture_on_commit_callbacks, text, match_on="email")
    job = client.get(answer["Location"]).json()
    assert job["status"] == "succeeded" and job["counts"]["errors"] == 120
    assert [e["row"] for e in job["errors"]] == list(range(2, 102))
    assert client.get("/api/v1/imports/").json()["results"][0]["errors"] == job["errors"]


def test_a_failed_import_has_the_fixed_shape(in_a: Tenant, owner: User, media: Path) -> None:
    client = keyed(in_a, role="owner", created_by=owner)
    # Queued, not yet run (its on-commit callback is not run), as behind a busy worker.
    answer = post_import(client, None, PEOPLE, match_on="email")
    assert answer.json()["status"] == "queued"
    stored = ImportJob.objects.get(pk=answer.json()["id"])
    # Meanwhile the stored file lost the column the mapping reads: the run cannot work.
    Path(stored.file.path).write_text("First name,Surname\nAda,Lovelace\n")
    services.run(stored, dry_run=False)
    job = client.get(answer["Location"]).json()
    assert set(job) >= FIXED
    assert job["status"] == "failed" and "no column named 'E-mail'" in job["message"]
    # The row count estimated at upload; none done, nothing written.
    assert (job["rows_total"], job["rows_done"]) == (4, 0)
    assert (job["created"], job["updated"], job["skipped"], job["errors"]) == (0, 0, 0, [])
    assert job["counts"]["errors"] == 0
    assert not Contact.objects.filter(email="ada@example.com").exists()


def test_a_running_import_shows_the_rows_done_so_far(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = keyed(in_a, role="owner", created_by=owner)
    answer = post_import(
        client, django_capture_on_commit_callbacks, PEOPLE, dry_run="true", match_on="email"
    )
    location = answer["Location"]
    previewed = client.get(location).json()
    assert previewed["status"] == "previewed" and previewed["rows_total"] == 4
    # Started; its run is left waiting (the on-commit callback is not run).
    assert client.post(f"{location}start/", content_type=JSON).json()["status"] == "queued"
    # A worker took it and has done 2 of the 4 rows: the state a run keeps as it goes.
    job_id = answer.json()["id"]
    started = timezone.now()
    ImportJob.objects.filter(pk=job_id).update(
        status="running", started_at=started, heartbeat_at=started
    )
    cache.set(
        services.progress_key(job_id),
        {"done": 2, "total": 4, "started": started.timestamp(), "beat": started.timestamp()},
        60,
    )
    running = client.get(location).json()
    assert set(running) >= FIXED
    assert running["status"] == "running" and running["status_label"] == "Importing"
    assert (running["rows_total"], running["rows_done"]) == (4, 2)
    assert running["progress"]["done"] == 2 and running["progress"]["percent"] == 50
    # Until it finishes, the counts are the dry run's, as under `counts`.
    assert (running["created"], running["updated"], running["skipped"]) == (2, 0, 0)
    assert running["counts"]["created"] == 2 and len(running["errors"]) == 2
    # The worker finishes it: all the rows are done.
    services.run(ImportJob.objects.get(pk=job_id), dry_run=False)
    done = client.get(location).json()
    assert done["status"] == "succeeded"
    assert (done["rows_total"], done["rows_done"], done["created"]) == (4, 4, 2)


def test_a_queued_import_can_be_cancelled(in_a: Tenant, owner: User) -> None:
    client = signed_in(in_a, owner)
    # Without running on-commit callbacks the import stays queued, as behind a busy worker.
    answer = post_import(client, None, PEOPLE)
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    location = answer["Location"]
    cancelled = client.post(f"{location}cancel/", content_type=JSON)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelling"
    services.run(ImportJob.objects.get(pk=answer.json()["id"]), dry_run=False)
    job = client.get(location).json()
    assert job["status"] == "cancelled" and job["links"]["error_file"] is None
    assert not Contact.objects.filter(email="ada@example.com").exists()
    missing = client.get(f"{location}error-file/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("content", "name", "code", "words"),
    [
        ("", "empty.csv", "empty_file", "empty"),
        ("Email,Name,email\na@example.com,A,b\n", "twice.csv", "duplicate_header", "twice"),
        ("Email\n" + "a@example.com\n" * 20, "big.csv", "file_too_large", "limit"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "old.xls", "unsupported_format", ".xls"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_naming_why(
    in_a: Tenant,
    owner: User,
    settings: Any,
    media: Path,
    content: Any,
    name: str,
    code: str,
    words: str,
) -> None:
    settings.IMPORT_MAX_FILE_BYTES = 100
    client = signed_in(in_a, owner)
    answer = post_import(client, None, content, name)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == code and error["field"] == "file"
    assert words in error["message"]
    assert not ImportJob.objects.exists()
    assert not [p for p in media.rglob("*") if p.is_file()]  # the upload is not kept


def test_a_mapping_that_cannot_work_is_refused_naming_it(
    in_a: Tenant, owner: User, media: Path
) -> None:
    client = signed_in(in_a, owner)
    cases = [
        ({"E-mail": "shoe_size"}, "'E-mail' is mapped to 'shoe_size', which is not a field here."),
        ({"Phone": "phone"}, "The file has no column named 'Phone'."),
        ({"First name": "email", "E-mail": "email"}, "map only one"),
        (
            {h: "" for h in ("First name", "Last name", "E-mail", "Company")},
            "Map at least one column",
        ),
        ('{"E-mail": ', "not valid JSON"),
        ('["email"]', "must be a JSON object"),
    ]
    for mapping, words in cases:
        answer = post_import(client, None, PEOPLE, mapping=mapping)
        assert answer.status_code == 400, mapping
        error = answer.json()["error"]
        assert error["code"] == "validation_error" and error["field"] == "mapping", mapping
        assert words in error["message"], (mapping, error["message"])
    updating = post_import(client, None, PEOPLE, mode="update", match_on="none")
    assert updating.status_code == 400 and "match" in updating.json()["error"]["message"]
    wrong_match = post_import(client, None, PEOPLE, match_on="domain")
    assert wrong_match.status_code == 400
    assert "can be matched on email" in wrong_match.json()["error"]["message"]
    unknown = post_import(client, None, PEOPLE, entity="invoice")
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "entity"
    assert not ImportJob.objects.exists()
    assert not [p for p in media.rglob("*") if p.is_file()]


def test_fields_list_what_a_column_can_be_mapped_to_custom_fields_included(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    customfield_create(actor=owner, entity="contact", label="Shoe size", type="number")
    client = keyed(in_a, role="admin", created_by=owner, scopes=["imports:write"])
    body = client.get("/api/v1/imports/fields/?entity=contact").json()
    assert body["entity"] == "contact"
    assert body["match_on"] == ["email", "external_id", "id", "none"]
    by_name = {item["name"]: item for item in body["fields"]}
    assert by_name["cf_shoe_size"] == {
        "name": "cf_shoe_size",
        "label": "Shoe size",
        "kind": "custom",
    }
    assert by_name["email"] == {"name": "email", "label": "Email", "kind": "column"}
    assert by_name["tags"]["kind"] == "tags" and by_name["external_id"]["kind"] == "key"
    companies = client.get("/api/v1/imports/fields/?entity=company").json()
    assert "domain" in {i["name"] for i in companies["fields"]}
    assert "cf_shoe_size" not in {i["name"] for i in companies["fields"]}
    missing = client.get("/api/v1/imports/fields/")
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "entity"

    # A client maps a column to the custom field by the name the endpoint gave.
    answer = post_import(
        client,
        django_capture_on_commit_callbacks,
        "Email,Shoe\ngrace@example.com,38\n",
        mapping={"Email": "email", "Shoe": "cf_shoe_size"},
    )
    assert answer.status_code == 202, answer.content
    assert client.get(answer["Location"]).json()["status"] == "succeeded"
    assert Contact.objects.get(email="grace@example.com").custom_fields == {"shoe_size": 38}


def test_update_mode_matching_on_email_changes_the_record_and_a_rerun_changes_nothing(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    ada = contact_create(actor=owner, first_name="Ada", last_name="Byron", email="ada@example.com")
    client = keyed(in_a, role="owner", created_by=owner)
    text = "Email,Last name,Job title\nada@example.com,Lovelace,Countess\nnobody@example.com,X,Y\n"
    runs = []
    for _ in range(2):
        answer = post_import(
            client, django_capture_on_commit_callbacks, text, mode="update", match_on="email"
        )
        assert answer.status_code == 202, answer.content
        runs.append(client.get(answer["Location"]).json())
        ada.refresh_from_db()
        assert (ada.last_name, ada.title) == ("Lovelace", "Countess")
    first, second = runs
    assert first["status"] == second["status"] == "succeeded"
    assert (first["counts"]["updated"], first["counts"]["skipped"]) == (1, 1)
    assert (second["counts"]["updated"], second["counts"]["unchanged"]) == (0, 1)
    assert second["counts"]["created"] == 0
    assert not Contact.objects.filter(email="nobody@example.com").exists()
    notes = client.get(f"{answer['Location']}problems/?kind=notes").json()["results"]
    assert [(p["row"], p["code"]) for p in notes] == [(3, "no_match")]


def test_changing_an_import_before_starting_it(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = signed_in(in_a, owner)
    answer = post_import(client, django_capture_on_commit_callbacks, PEOPLE, dry_run="1")
    location = answer["Location"]
    assert client.get(location).json()["status"] == "previewed"
    # The mapping is sent whole: a column it leaves out is left out of the import.
    changed = client.patch(
        location,
        {
            "mapping": {"E-mail": "email", "Last name": "last_name"},
            "mode": "create",
            "locale": "en-GB",
        },
        content_type=JSON,
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert body["mapping"] == {
        "First name": "",
        "Last name": "last_name",
        "E-mail": "email",
        "Company": "",
    }
    assert (body["mode"], body["locale"], body["status"]) == ("create", "en-GB", "mapping")
    bad = client.patch(location, {"mapping": {"Company": "salary"}}, content_type=JSON)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "mapping"
    unknown = client.patch(location, {"status": "done"}, content_type=JSON)
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "status"
    assert client.put(location, {}, content_type=JSON).status_code == 405

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{location}preview/", content_type=JSON).status_code == 202
    assert client.get(location).json()["status"] == "previewed"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{location}start/", content_type=JSON).status_code == 202
    assert client.get(location).json()["status"] == "succeeded"
    ada = Contact.objects.get(email="ada@example.com")
    assert (ada.first_name, ada.last_name) == ("", "Lovelace") and not ada.companies.exists()
    late = client.patch(location, {"mode": "upsert"}, content_type=JSON)
    assert late.status_code == 400 and "already started" in late.json()["error"]["message"]


def test_read_only_people_and_keys_cannot_import(in_a: Tenant, owner: User, readonly: User) -> None:
    for client in (
        signed_in(in_a, readonly),
        keyed(in_a, role="readonly", created_by=owner),
        keyed(in_a, role="owner", created_by=owner, scopes=["contacts:write"]),
    ):
        answer = post_import(client, None, PEOPLE)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "permission_denied"
    assert not ImportJob.objects.exists()
    # Reading what can be imported is allowed.
    assert signed_in(in_a, readonly).get("/api/v1/imports/fields/?entity=lead").status_code == 200


def test_people_see_their_own_imports_and_owners_see_all(
    in_a: Tenant, owner: User, rep: User, django_capture_on_commit_callbacks: Capture
) -> None:
    owners_key = keyed(in_a, role="owner", created_by=owner)
    theirs = post_import(owners_key, django_capture_on_commit_callbacks, PEOPLE)
    assert theirs.status_code == 202
    location = theirs["Location"]
    assert owners_key.get(location).json()["links"]["error_file"]

    reps_key = keyed(in_a, role="rep", created_by=rep)
    for client in (reps_key, signed_in(in_a, rep)):
        assert client.get("/api/v1/imports/").json()["results"] == []
        for path in ("", "problems/", "error-file/"):
            hidden = client.get(f"{location}{path}")
            assert hidden.status_code == 404, path
            assert hidden.json()["error"]["code"] == "not_found"
            assert "people.csv" not in hidden.content.decode()
        for path in ("start/", "cancel/", "preview/"):
            assert client.post(f"{location}{path}", content_type=JSON).status_code == 404
        assert client.patch(location, {"mode": "create"}, content_type=JSON).status_code == 404

    # The rep's own import: theirs to see; the owner sees both, an admin-role key too.
    mine = post_import(reps_key, django_capture_on_commit_callbacks, "Email\nrita@example.com\n")
    assert mine.status_code == 202, mine.content
    assert [j["id"] for j in reps_key.get("/api/v1/imports/").json()["results"]] == [
        mine.json()["id"]
    ]
    assert reps_key.get(mine["Location"]).json()["created_by"] == rep.pk
    expected = [mine.json()["id"], theirs.json()["id"]]
    for client in (signed_in(in_a, owner), keyed(in_a, role="admin", created_by=rep)):
        assert [j["id"] for j in client.get("/api/v1/imports/").json()["results"]] == expected


def test_another_organisation_reaches_none_of_its_imports(
    tenant_a: Tenant, tenant_b: Tenant, django_capture_on_commit_callbacks: Capture
) -> None:
    with schema_context(tenant_a.schema_name):
        a_owner = User.objects.get(email=f"owner@{tenant_a.slug}.test")
        a_client = keyed(tenant_a, role="owner", created_by=a_owner)
        made = post_import(
            a_client, django_capture_on_commit_callbacks, PEOPLE, name="alpha-secret.csv"
        )
        assert made.status_code == 202
        job_id = made.json()["id"]
        assert a_client.get(made["Location"]).json()["links"]["error_file"]
    with schema_context(tenant_b.schema_name):
        # Ids are per schema: B must have no import of its own with A's id.
        ImportJob.objects.filter(pk=job_id).delete()
        b_owner = User.objects.get(email=f"owner@{tenant_b.slug}.test")
        b_client = keyed(tenant_b, role="owner", created_by=b_owner)
        assert b_client.get("/api/v1/imports/").json()["results"] == []
        for path in ("", "problems/", "problems/?kind=errors", "error-file/"):
            answer = b_client.get(f"/api/v1/imports/{job_id}/{path}")
            assert answer.status_code == 404, path
            assert "alpha-secret" not in answer.content.decode()
        for path in ("start/", "cancel/"):
            assert (
                b_client.post(f"/api/v1/imports/{job_id}/{path}", content_type=JSON).status_code
                == 404
            )
    with schema_context(tenant_a.schema_name):
        # A's key means nothing on B's host.
        a_secret = a_client.defaults["HTTP_AUTHORIZATION"]
        stranger = SchemaKeepingClient(
            HTTP_HOST=f"{tenant_b.slug}.localhost", HTTP_AUTHORIZATION=a_secret
        )
        assert stranger.get(f"/api/v1/imports/{job_id}/").status_code == 401
        assert ImportJob.objects.get(pk=job_id).status == "done"


def test_a_poll_restarts_an_import_whose_worker_vanished(in_a: Tenant, owner: User) -> None:
    client = signed_in(in_a, owner)
    answer = post_import(client, None, PEOPLE)
    assert answer.json()["status"] == "queued"
    # A worker started it and died: no word from it for longer than a live run ever stays quiet.
    ImportJob.objects.filter(pk=answer.json()["id"]).update(
        status="running",
        heartbeat_at=timezone.now() - dt.timedelta(seconds=services.STALE_SECONDS + 1),
    )
    job = client.get(answer["Location"]).json()
    assert job["status"] == "succeeded" and job["counts"]["created"] == 2
    assert Contact.objects.filter(email="alan@example.com").exists()


def test_an_upload_repeated_with_its_idempotency_key_imports_once(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Capture
) -> None:
    client = keyed(in_a, role="owner", created_by=owner)
    client.defaults["HTTP_IDEMPOTENCY_KEY"] = "upload-1"
    first = post_import(client, django_capture_on_commit_callbacks, PEOPLE)
    again = post_import(client, django_capture_on_commit_callbacks, PEOPLE)
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert ImportJob.objects.count() == 1
    assert Contact.objects.filter(email="ada@example.com").count() == 1


def test_a_large_upload_with_an_idempotency_key_is_refused_in_the_envelope(
    in_a: Tenant, owner: User, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    """The key is checked against the whole body, which would have to sit in memory."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1_048_576
    big = PEOPLE + "".join(f"P{i},Q{i},p{i}@big.example,\n" for i in range(80_000))
    client = keyed(in_a, role="owner", created_by=owner)
    client.defaults["HTTP_IDEMPOTENCY_KEY"] = "big-1"
    refused = post_import(client, None, big)
    assert refused.status_code == 413
    error = refused.json()["error"]
    assert error["code"] == "validation_error" and "up to 2 MB" in error["message"]
    assert not ImportJob.objects.exists()
    del client.defaults["HTTP_IDEMPOTENCY_KEY"]
    assert post_import(client, django_capture_on_commit_callbacks, big).status_code == 202
