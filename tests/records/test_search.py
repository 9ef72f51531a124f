"""Typo tolerance: what counts as a likely typo, and searches by email or phone digits."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.records import search

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("page", "paeg", 1),
        ("lovelace", "lovelcae", 1),
        ("vaughan", "vaughn", 1),
        ("smith", "smith", 0),
        ("", "abc", 3),
        ("kitten", "sitting", 3),
        ("ab", "ba", 1),
    ],
)
def test_edit_distance_counts_a_swap_as_one(a: str, b: str, distance: int) -> None:
    assert search.edit_distance(a, b) == distance


def test_short_words_must_be_exact_longer_ones_may_be_misspelt() -> None:
    assert [search.allowed_edits(w) for w in ("al", "ada", "page", "turing", "lovelace")] == [
        0,
        0,
        1,
        1,
        2,
    ]


def test_corrections_and_substring_matches(in_tenant_a: Any) -> None:
    owner = User.objects.get(email="owner@alpha.test")
    contact_create(
        actor=owner,
        first_name="Barbara",
        last_name="Liskov",
        emails=["barbara@mit.example"],
        phones=["+1 617 555 0123"],
    )
    assert search.corrections("liksov") == ["liskov"]
    assert search.corrections("lis") == [] and search.corrections("l1skov") == []
    assert "'liksov':* | 'liskov'" in search.tsquery("Liksov")
    found = Contact.objects.all()
    assert [c.last_name for c in search.matching(found, "barbara@mit")] == ["Liskov"]
    assert [c.last_name for c in search.matching(found, "(617) 555-0123")] == ["Liskov"]
    assert [c.last_name for c in search.matching(found, "barbra liskov", ranked=True)] == ["Liskov"]
    assert list(search.matching(found, "zzzz")) == []
    assert search.matching(found, "   ").count() == found.count()
    assert search.global_search(owner, "") == []


def test_a_swap_in_a_short_word_is_still_found(in_tenant_a: Any) -> None:
    owner = User.objects.get(email="owner@alpha.test")
    contact_create(actor=owner, first_name="Cameron", last_name="Diaz")
    assert search.corrections("daiz") == ["diaz"]
    found = search.matching(Contact.objects.all(), "cameron daiz")
    assert [c.last_name for c in found] == ["Diaz"]
