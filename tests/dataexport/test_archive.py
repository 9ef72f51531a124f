"""The archive itself: every record type's CSV holds exactly the organisation's rows with
their values, in the list export's own format; the tables beside them, the uploaded files
byte for byte, the README and manifest; no secrets; formulas neutralised."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from apps.accounts.models import User
from apps.activities.models import Activity
from apps.apikeys.models import ApiKey
from apps.companies.models import Company
from apps.contacts.models import Contact
from apps.dataexport import archive
from apps.deals.models import Deal, Stage
from apps.leads.models import Lead
from apps.records.exporting import export_csv
from tenants.models import Tenant
from tests.dataexport.conftest import IMPORT_FILE, open_zip

pytestmark = pytest.mark.django_db

MODELS = {
    "contacts.csv": Contact,
    "companies.csv": Company,
    "deals.csv": Deal,
    "leads.csv": Lead,
    "activities.csv": Activity,
}


def rows(zf: Any, name: str) -> list[dict[str, str]]:
    text = zf.read(name).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_every_record_type_has_exactly_its_rows_with_values(
    records: dict[str, Any], owner: User, tmp_path: Path
) -> None:
    path = tmp_path / "all.zip"
    seen: list[tuple[int, int]] = []
    manifest = archive.write_archive(path, progress=lambda done, total: seen.append((done, total)))
    zf = open_zip(path)
    for name, model in MODELS.items():
        found = rows(zf, name)
        ids = sorted(int(r["ID"]) for r in found)
        assert ids == sorted(model._default_manager.values_list("pk", flat=True)), name
        assert ids, name
    contacts = {r["Email"]: r for r in rows(zf, "contacts.csv")}
    ada = contacts["ada@example.com"]
    # Formulas are neutralised; commas and quotes survive the round trip.
    assert ada["First name"] == '\'=HYPERLINK("http://evil.example")'
    assert ada["Last name"] == "Lovelace, Countess"
    assert ada["Company"] == "'=Acme Evil Ltd"
    assert ada["Tags"] == "vip"
    assert ada["Shoe size"] == "38"
    assert ada["Owner"] == owner.email
    assert contacts["g@x.io"]["Last name"] == "'-Hopper"
    deal = rows(zf, "deals.csv")[0]
    assert deal["Title"] == "'+Big deal" and deal["Value"] == "1234.50"
    assert deal["Contact id"] == str(records["ada"].pk)
    assert rows(zf, "leads.csv")[0]["First name"] == "'@Lead"
    # What lists do not show is in the details files: the note's text, other emails.
    details = {r["id"]: r for r in rows(zf, "activities-details.csv")}
    assert details[str(records["note"].pk)]["body"] == (
        "She wants =SUM(A1:A9) more engines.\nSecond line."
    )
    emails = {r["email"] for r in rows(zf, "contact-emails.csv")}
    assert {"ada@example.com", "countess@example.com"} <= emails
    stages = rows(zf, "stages.csv")
    assert len(stages) == Stage.objects.count() and stages[0]["pipeline_id"]
    # Progress counted every row of every CSV.
    total = sum(item["rows"] for item in manifest["files"])
    assert seen[0] == (0, total) and seen[-1] == (total, total)


def test_record_files_are_the_list_exports_own(
    records: dict[str, Any], owner: User, tmp_path: Path
) -> None:
    path = tmp_path / "all.zip"
    archive.write_archive(path)
    zf = open_zip(path)
    for name, model in MODELS.items():
        key = {
            Contact: "contact",
            Company: "company",
            Deal: "deal",
            Lead: "lead",
            Activity: "activity",
        }[model]
        response = export_csv(
            actor=owner,
            entity_key=key,
            queryset=model._default_manager.order_by("pk"),
            query="ordering=id",
        )
        listed = b"".join(response.streaming_content)  # type: ignore[arg-type]  # a sync stream
        assert zf.read(name) == listed, name


def test_users_keys_and_no_secrets(records: dict[str, Any], owner: User, tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    archive.write_archive(path)
    zf = open_zip(path)
    users = rows(zf, "users.csv")
    assert "password" not in users[0] and "is_superuser" not in users[0]
    assert {u["email"] for u in users} == set(User.objects.values_list("email", flat=True))
    assert next(u for u in users if u["email"] == owner.email)["roles"] == "Owner"
    keys = rows(zf, "api-keys.csv")
    assert [k["prefix"] for k in keys] == [records["key"].key.prefix]
    assert "secret_hash" not in keys[0]
    secrets = [
        owner.password,
        *ApiKey.objects.values_list("secret_hash", flat=True),
        records["key"].secret,
    ]
    for name in zf.namelist():
        content = zf.read(name)
        for secret in secrets:
            assert secret.encode() not in content, name


def test_uploaded_files_readme_and_manifest(
    records: dict[str, Any], in_a: Tenant, media: Path, tmp_path: Path
) -> None:
    stored = records["import"].file.name
    assert (media / in_a.schema_name / stored).read_bytes() == IMPORT_FILE
    # An earlier archive in the organisation's folder is not put inside the next one.
    earlier = media / in_a.schema_name / archive.ARCHIVE_FOLDER / "old.zip"
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"PK old archive")
    manifest = archive.write_archive(tmp_path / "all.zip")
    zf = open_zip(tmp_path / "all.zip")
    assert zf.read(f"files/{stored}") == IMPORT_FILE
    assert not [n for n in zf.namelist() if archive.ARCHIVE_FOLDER in n]
    assert manifest["uploaded_files"]["count"] == 1
    assert json.loads(zf.read("manifest.json")) == manifest
    assert manifest["organisation"]["slug"] == in_a.slug
    listed = {item["name"]: item["rows"] for item in manifest["files"]}
    assert listed["contacts.csv"] == Contact.objects.count()
    readme = zf.read("README.txt").decode()
    assert "contacts.csv" in readme and "files/" in readme and in_a.name in readme
    assert archive.counts(manifest)["files/"] == 1


def test_refuses_the_public_schema(tmp_path: Path, db: None) -> None:
    with pytest.raises(RuntimeError):
        archive.write_archive(tmp_path / "x.zip")


def test_a_custom_fields_label_that_looks_like_a_formula_is_neutralised_in_the_header(
    in_a: Tenant, owner: User, tmp_path: Path
) -> None:
    """Column headers are cells too: a custom field an Admin named like a formula must not
    run when another Admin opens the export."""
    from apps.records.services import customfield_create

    customfield_create(
        actor=owner, entity="contact", label='=HYPERLINK("http://x.example")', type="text"
    )
    path = tmp_path / "all.zip"
    archive.write_archive(path)
    header = next(csv.reader(io.StringIO(open_zip(path).read("contacts.csv").decode("utf-8-sig"))))
    assert '\'=HYPERLINK("http://x.example")' in header
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in header)
