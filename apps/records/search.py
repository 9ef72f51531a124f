"""Typo-tolerant search over a record's `search_text`.

A query matches a record when every word of the query matches one of its words, exactly, as
a prefix (for the word being typed), or as a likely typo of it; or when the whole query is a
substring of the record's text (emails, phone digits). Typos are resolved against a small
dictionary of the organisation's words (`SearchWord`, trigram GiST index, then Damerau-
Levenshtein distance), and records are found through the full-text GIN index on
`search_text` with the words found; substrings through the trigram GIN index. So a search
costs a few index lookups whatever the number of records.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector, TrigramDistance
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet, Value
from django.db.models.functions import Length

from . import registry
from .models import SearchWord

MAX_QUERY = 100
MAX_TOKENS = 6
CANDIDATES = 40
WORD = re.compile(r"[^\W\d_]{2,40}")  # letters only: names, titles, places, company words
TOKEN = re.compile(r"\w+")


def normalise(text: str) -> str:
    """What `search_text` holds and queries are compared with: lower case, single spaces."""
    return re.sub(r"\s+", " ", text).strip().lower()


def document(*parts: Any) -> str:
    return normalise(" ".join(str(part) for part in parts if part))


def remember_words(text: str) -> None:
    """Add the words of `text` to the dictionary typo correction looks in."""
    words = {w for w in WORD.findall(text) if len(w) >= 3}
    if words:
        SearchWord.objects.bulk_create([SearchWord(word=w) for w in words], ignore_conflicts=True)


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): a swap of two neighbouring
    letters counts as one edit, as people mistype."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def allowed_edits(word: str) -> int:
    return 0 if len(word) < 4 else 1 if len(word) < 7 else 2


def corrections(token: str) -> list[str]:
    """Dictionary words within a typo of `token` (nearest first by trigram distance)."""
    edits = allowed_edits(token)
    if not edits or not token.isalpha():
        return []
    nearest = list(
        SearchWord.objects.annotate(distance=TrigramDistance("word", token))
        .order_by("distance")
        .values_list("word", flat=True)[:CANDIDATES]
    )
    if len(token) <= 6:
        # A swap in a short word leaves it few trigrams in common with the right one
        # ("daiz", "diaz"): also consider words of about its length with its first letter.
        nearest += (
            SearchWord.objects.annotate(size=Length("word"))
            .filter(word__startswith=token[0], size__gte=len(token) - 1, size__lte=len(token) + 1)
            .values_list("word", flat=True)[:500]
        )
    return [w for w in dict.fromkeys(nearest) if w != token and edit_distance(token, w) <= edits]


def _lexeme(word: str, prefix: bool = False) -> str:
    return "'" + word.replace("'", "''").replace("\\", "") + "'" + (":*" if prefix else "")


def tsquery(text: str) -> str:
    """A raw tsquery: every query word, each as itself (a prefix) or one of its likely
    corrections."""
    tokens = TOKEN.findall(normalise(text))[:MAX_TOKENS]
    parts = []
    for token in tokens:
        options = [_lexeme(token, prefix=True), *(_lexeme(w) for w in corrections(token))]
        parts.append("(" + " | ".join(options) + ")")
    return " & ".join(parts)


def _condition(text: str) -> Q:
    query = normalise(text)[:MAX_QUERY]
    condition = Q(search_text__contains=query)
    digits = re.sub(r"\D", "", query)
    if len(digits) >= 5 and re.fullmatch(r"[\d\s()+.-]+", query):
        condition |= Q(search_text__contains=digits)
    raw = tsquery(query)
    if raw:
        condition |= Q(fts=SearchQuery(raw, config="simple", search_type="raw"))
    return condition


def newest_first(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Newest first, by a sort value no index answers. With a search filter, an index on
    the sort column tempts PostgreSQL to walk it and test every row until the page is full,
    which takes seconds when the search matches little; this way it collects the matches
    from the search indexes and sorts those."""
    return queryset.annotate(
        sort_value=ExpressionWrapper(
            F("created_at") + Value(timedelta(0)), output_field=DateTimeField()
        )
    ).order_by("-sort_value", "-id")


def matching(
    queryset: QuerySet[Any], text: str, *, ranked: bool = False, ordered: bool = True
) -> QuerySet[Any]:
    """`queryset` narrowed to the records matching `text` (unchanged for an empty text),
    newest first (unless `ordered` is false: the caller sorts), or best matches first when
    `ranked` (for the search box)."""
    query = normalise(text)[:MAX_QUERY]
    if not query:
        return queryset
    queryset = queryset.annotate(fts=SearchVector("search_text", config="simple")).filter(
        _condition(query)
    )
    if ordered and not ranked:
        queryset = newest_first(queryset)
    if ranked:
        from django.contrib.postgres.search import TrigramWordSimilarity

        queryset = queryset.annotate(rank=TrigramWordSimilarity(query, "search_text")).order_by(
            "-rank", "-id"
        )
    return queryset


def global_search(user: Any, text: str, *, per_entity: int = 5) -> list[dict[str, Any]]:
    """The best matches of each record type that `user` may see. Ranking looks at the
    newest 200 matches at most, so a common name costs no more than a rare one."""
    groups: list[dict[str, Any]] = []
    query = normalise(text)[:MAX_QUERY]
    if not query:
        return groups
    from django.contrib.postgres.search import TrigramWordSimilarity

    for entity in registry.all_entities():
        newest = matching(entity.selector(user), query).values("pk")[:200]
        records = list(
            entity.selector(user)
            .filter(pk__in=newest)
            .annotate(rank=TrigramWordSimilarity(query, "search_text"))
            .order_by("-rank", "-id")[:per_entity]
        )
        if records:
            rows = [(r, *entity.describe(r)) for r in records]
            groups.append({"entity": entity, "records": records, "rows": rows})
    return groups
