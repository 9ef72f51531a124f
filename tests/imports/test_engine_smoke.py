from __future__ import annotations

from pathlib import Path

from apps.accounts.models import User
from apps.contacts.models import Contact

from .conftest import run_file, write

CSV = (
    "First name,Last name,Email,Company,City,Tags\n"
    "Ada,Lovelace,ada@example.com,Analytical Engines,London,vip; import\n"
    "Alan,Turing,alan@example.com,bletchley.example,Wilmslow,\n"
    "Ada,Again,ADA@example.com,,,\n"
    "Bad,Email,not-an-email,,,\n"
)


def test_create_then_rerun_changes_nothing(tmp_path: Path, owner_a: User) -> None:
    path = write(tmp_path, CSV)
    preview = run_file(path, actor=owner_a, dry_run=True)
    assert (preview.created, preview.duplicates, preview.errors) == (2, 1, 1)
    assert not Contact.objects.filter(email="ada@example.com").exists()
    summary = run_file(path, actor=owner_a)
    assert (summary.created, summary.duplicates, summary.errors) == (2, 1, 1)
    ada = Contact.objects.get(email="ada@example.com")
    assert ada.companies.get().name == "Analytical Engines"
    assert sorted(t.name for t in ada.tags.all()) == ["import", "vip"]
    assert "lovelace" in ada.search_text
    stamp = ada.updated_at
    again = run_file(path, actor=owner_a)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    ada.refresh_from_db()
    assert ada.updated_at == stamp
