"""Matching on email sees only what the importing person may see, across chunks."""

from __future__ import annotations

from pathlib import Path

from apps.accounts.models import User
from apps.accounts.services import user_set_role
from apps.contacts.models import Contact, ContactEmail

from .conftest import run_file, write


def test_a_rep_never_updates_a_contact_they_cannot_see(tmp_path: Path, owner_a: User) -> None:
    rep = User.objects.create(email="rita.rep@alpha.test", full_name="Rita Rep")
    user_set_role(user=rep, role="rep")
    hidden = Contact.objects.create(first_name="Hidden", email="pat@example.com", owner=owner_a)
    ContactEmail.objects.create(contact=hidden, email="pat@example.com", is_primary=True)
    mine = Contact.objects.create(first_name="Mine", email="sam@example.com", owner=rep)
    ContactEmail.objects.create(contact=mine, email="sam@example.com", is_primary=True)

    path = write(tmp_path, "First name,Email\nPatricia,PAT@example.com\nSamuel,sam@example.com\n")
    summary = run_file(path, actor=rep)

    assert (summary.created, summary.updated) == (1, 1)
    hidden.refresh_from_db()
    mine.refresh_from_db()
    assert hidden.first_name == "Hidden"
    assert mine.first_name == "Samuel"
    assert Contact.objects.filter(
        email="pat@example.com", owner=rep, first_name="Patricia"
    ).exists()


def test_matches_and_repeats_are_found_in_every_chunk(tmp_path: Path, owner_a: User) -> None:
    for n in range(5):
        contact = Contact.objects.create(
            first_name=f"Old{n}", email=f"p{n}@example.com", owner=owner_a
        )
        ContactEmail.objects.create(contact=contact, email=contact.email, is_primary=True)
    lines = ["First name,Email"]
    lines += [f"New{n},P{n}@Example.com" for n in range(5)]  # updates, in other letter case
    lines += [f"Fresh{n},f{n}@example.com" for n in range(4)]  # new
    lines += ["Again,p0@example.com", "Again,F3@example.com"]  # repeats of rows above
    path = write(tmp_path, "\n".join(lines) + "\n")

    summary = run_file(path, actor=owner_a, chunk=3)

    assert (summary.updated, summary.created, summary.duplicates) == (5, 4, 2)
    assert sorted(
        Contact.objects.filter(email__startswith="p").values_list("first_name", flat=True)
    ) == [f"New{n}" for n in range(5)]
    assert Contact.objects.filter(email__startswith="f").count() == 4
