"""Shared pieces of duplicate detection: the exception services raise, and dismissed pairs."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from .models import DuplicateDismissal


class DuplicateSuspected(Exception):
    """Raised by create and update services when likely duplicates exist and the caller did
    not ask to go ahead anyway."""

    def __init__(self, candidates: list[Any]) -> None:
        self.candidates = candidates
        names = ", ".join(str(c) for c in candidates[:3])
        super().__init__(f"This looks like a duplicate of {names}.")

    @property
    def ids(self) -> list[int]:
        return [c.pk for c in self.candidates]


def dismiss(*, entity: str, a: int, b: int) -> None:
    low, high = sorted((a, b))
    DuplicateDismissal.objects.get_or_create(entity=entity, low_id=low, high_id=high)


def dismissed(entity: str) -> set[tuple[int, int]]:
    return set(DuplicateDismissal.objects.filter(entity=entity).values_list("low_id", "high_id"))


def name_similarity_q(field: str, text: str) -> Q:
    """Indexed prefilter for similar names (trigram word similarity on the search text)."""
    return Q(**{f"{field}__trigram_word_similar": text})
