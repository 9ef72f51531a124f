from __future__ import annotations

import codecs
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


def test_history_timeline_and_owner_notification(tmp_path: Path, owner_a: User) -> None:
    from apps.accounts.services import user_set_role
    from apps.notifications.models import Notification
    from apps.records.timeline import timeline

    rep = User.objects.create(email="rita.rep@alpha.test", full_name="Rita Rep")
    user_set_role(user=rep, role="rep")
    path = write(tmp_path, "First name,Email,Owner\nOla,ola@example.com,rita.rep@alpha.test\n")
    run_file(path, actor=owner_a, reason="Import of people.csv")
    ola = Contact.objects.get(email="ola@example.com")
    assert ola.owner == rep
    items, _ = timeline(ola, "contact")
    assert [i.title for i in items] == ["Created"] and items[0].author == owner_a
    note = Notification.objects.get(recipient=rep)
    assert note.title == "An import gave you 1 contact" and note.body == "Import of people.csv"

    renamed = write(
        tmp_path, "First name,Email,Owner\nOlga,ola@example.com,rita.rep@alpha.test\n", "again.csv"
    )
    run_file(renamed, actor=owner_a)
    items, _ = timeline(ola, "contact")
    assert items[0].title == "Changed" and ("First name", "Ola", "Olga") in items[0].changes
    run_file(renamed, actor=owner_a)  # nothing changes the second time: no new history
    assert len(timeline(ola, "contact")[0]) == 2
    assert Notification.objects.filter(recipient=rep).count() == 1


def test_row_estimate_for_each_format(tmp_path: Path) -> None:
    from apps.imports.reading import estimate_rows, open_table

    text = "Name,Email\nA,a@x.example\nB,b@x.example\nC,c@x.example"
    for encoding in ("utf-8", "utf-16", "cp1252"):
        path = write(tmp_path, text, f"rows-{encoding}.csv", encoding=encoding)
        assert estimate_rows(open_table(path, name=path.name)) == 3
    big_endian = write(tmp_path, codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "rows-be.csv")
    assert estimate_rows(open_table(big_endian, name=big_endian.name)) == 3
    path = write(tmp_path, '[{"Name": "A"}, {"Name": "B"}]', "rows.json")
    assert estimate_rows(open_table(path, name=path.name)) == 2


def test_matched_activities_gain_links_and_done_dates_once(tmp_path: Path, owner_a: User) -> None:
    from apps.activities.models import Activity
    from apps.contacts.services import contact_create

    contact_create(actor=owner_a, first_name="Linus", email="linus@kernel.example")
    first = write(tmp_path, "External id,Subject,Due\nA-1,Call Linus,2026-12-01 10:00\n", "a.csv")
    run_file(first, actor=owner_a, entity="activity", match_on="external_id")
    call = Activity.objects.get(external_id="A-1")
    assert call.done_at is None and not call.contacts.exists()

    later = write(
        tmp_path, "External id,Done,Contact email\nA-1,yes,linus@kernel.example\n", "b.csv"
    )
    summary = run_file(later, actor=owner_a, entity="activity", match_on="external_id")
    assert (summary.updated, summary.unchanged) == (1, 0)
    call.refresh_from_db()
    assert call.done and call.done_at == call.due_at
    assert [c.email for c in call.contacts.all()] == ["linus@kernel.example"]
    again = run_file(later, actor=owner_a, entity="activity", match_on="external_id")
    assert (again.updated, again.unchanged) == (0, 1)

    undone = write(tmp_path, "External id,Done\nA-1,no\n", "c.csv")
    run_file(undone, actor=owner_a, entity="activity", match_on="external_id")
    call.refresh_from_db()
    assert not call.done and call.done_at is None


def test_a_company_cell_that_is_not_a_domain_is_a_name(tmp_path: Path, owner_a: User) -> None:
    from apps.companies.models import Company

    odd = "ß" * 150 + ".example"  # lower-cases past a domain's length limit
    path = write(tmp_path, f"First name,Company\nAda,{odd}\nAlan,acme.example\n")
    summary = run_file(path, actor=owner_a, match_on="none", mode="create")
    assert (summary.created, summary.errors) == (2, 0)
    assert Company.objects.get(name=odd[:200]).domain == ""
    assert Company.objects.get(domain="acme.example").name == "Acme"
