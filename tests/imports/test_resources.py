"""The django-import-export resources export every record type in CSV, XLSX and JSON, and
what they export imports back through the importer with its columns matched by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.accounts.models import User
from apps.companies.services import company_create
from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.imports.resources import resource_for
from apps.records.services import customfield_create

from .conftest import run_file, write


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_contacts_round_trip_through_each_format(tmp_path: Path, owner_a: User, fmt: str) -> None:
    customfield_create(actor=owner_a, entity="contact", key="tier", label="Tier", type="select",
                       options=["Gold", "Silver"])  # fmt: skip
    contact_create(actor=owner_a, first_name="Grace", last_name="Hopper",
                   email="grace@navy.example", tags=["Admiral"],
                   custom_fields={"tier": "Gold"})  # fmt: skip
    dataset = resource_for("contact").export(Contact.objects.filter(email="grace@navy.example"))
    assert dataset.headers[:3] == ["First name", "Last name", "Email"]
    row = dict(zip(dataset.headers, dataset[0], strict=True))
    assert (row["Owner"], row["Tags"], row["Tier"]) == (owner_a.email, "Admiral", "Gold")

    exported = dataset.export(fmt)
    path = write(tmp_path, exported, f"out.{fmt}")
    Contact.objects.filter(email="grace@navy.example").update(first_name="Changed")
    summary = run_file(path, actor=owner_a, match_on="email", mode="update")
    # Every column matched by name; the row finds the contact and puts the name back.
    assert (summary.errors, summary.updated, summary.created) == (0, 1, 0)
    assert Contact.objects.get(email="grace@navy.example").first_name == "Grace"
    again = run_file(path, actor=owner_a, match_on="email", mode="update")
    assert (again.updated, again.unchanged) == (0, 1)


def test_companies_export_owner_and_domain(owner_a: User) -> None:
    company_create(actor=owner_a, name="Initech", domain="initech.example")
    from apps.companies.models import Company

    dataset = resource_for("company").export(Company.objects.filter(domain="initech.example"))
    row = dict(zip(dataset.headers, dataset[0], strict=True))
    assert (row["Name"], row["Domain"], row["Owner"]) == (
        "Initech",
        "initech.example",
        owner_a.email,
    )
