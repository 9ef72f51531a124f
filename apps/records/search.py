"""Typo-tolerant search over a record's `search_text`: a substring match, PostgreSQL full-text
search and trigram word similarity (pg_trgm), each answered by its own GIN index, ranked by
similarity."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector, TrigramWordSimilarity
from django.db.models import Q, QuerySet

from . import registry

MAX_QUERY = 100


def normalise(text: str) -> str:
    """What `search_text` holds and queries are compared with: lower case, single spaces."""
    return re.sub(r"\s+", " ", text).strip().lower()


def document(*parts: Any) -> str:
    return normalise(" ".join(str(part) for part in parts if part))


def matching(queryset: QuerySet[Any], text: str, *, ranked: bool = False) -> QuerySet[Any]:
    query = normalise(text)[:MAX_QUERY]
    if not query:
        return queryset
    condition = (
        Q(search_text__contains=query)
        | Q(search_text__trigram_word_similar=query)
        | Q(fts=SearchQuery(query, config="simple", search_type="plain"))
    )
    queryset = queryset.annotate(fts=SearchVector("search_text", config="simple")).filter(condition)
    if ranked:
        queryset = queryset.annotate(rank=TrigramWordSimilarity(query, "search_text")).order_by(
            "-rank", "-id"
        )
    return queryset


def global_search(user: Any, text: str, *, per_entity: int = 5) -> list[dict[str, Any]]:
    """The best matches of each record type that `user` may see."""
    groups: list[dict[str, Any]] = []
    if not normalise(text):
        return groups
    for entity in registry.all_entities():
        records = list(matching(entity.selector(user), text, ranked=True)[:per_entity])
        if records:
            rows = [(r, *entity.describe(r)) for r in records]
            groups.append({"entity": entity, "records": records, "rows": rows})
    return groups
