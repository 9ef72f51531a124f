"""Records holding SQL and HTML in every text field, then every page of the web app (found by
walking the URL patterns, with the records' ids filled in): no page fails, none carries the
markup unescaped, the records' own pages show it escaped, and no CSV cell starts like a
formula."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from .conftest import ESCAPED, PAYLOAD, RAW_MARKERS, Route, tenant_routes
from .world import make_hostile_world

pytestmark = pytest.mark.django_db

# URL prefix -> the resource whose id fills the pattern's <pk>.
PREFIXES = {
    "contacts/": "contacts",
    "companies/": "companies",
    "deals/": "deals",
    "leads/": "leads",
    "activities/": "activities",
    "settings/pipelines/": "pipelines",
    "settings/web-forms/": "forms",
    "settings/custom-fields/": "custom-fields",
    "settings/tags/": "tags",
    "settings/api-keys/": "api-keys",
    "settings/currencies/": "report-subscriptions",
    "reports/": "report-subscriptions",
}
# Pages not fetched, each with the reason.
SKIPPED = {
    "accounts/logout/": "signs the client out",
    "api/docs/": "the Swagger page (static files); the API's JSON is not HTML",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def hostile(api: Client) -> dict[str, int]:
    return make_hostile_world(api)


def _values(route: Route, ids: dict[str, int]) -> dict[str, str]:
    resource = next(
        (r for prefix, r in PREFIXES.items() if route.route.startswith(prefix)), "contacts"
    )
    values = {name: str(ids.get(resource, 1)) for name in route.kwargs}
    if "entity" in values:
        values["entity"] = "contact"
    return values


def pages(ids: dict[str, int]) -> list[str]:
    urls = []
    for route in tenant_routes():
        if route.is_api or any(route.route.startswith(s) for s in SKIPPED):
            continue
        urls.append(route.url(_values(route, ids)))
    return sorted(set(urls))


def content_of(response: Any) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return bytes(response.content)


def _cells(content: bytes) -> list[str]:
    text = content.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_every_page_escapes_hostile_text(api: Client, hostile: dict[str, int]) -> None:
    shown_escaped: list[str] = []
    csv_files = 0
    failures: list[Any] = []
    for url in pages(hostile):
        response = api.get(url)
        if response.status_code >= 500:
            failures.append((url, response.status_code))
            continue
        kind = response.get("Content-Type", "")
        body = content_of(response)
        text = body.decode("utf-8", "replace")
        if kind.startswith("text/html"):
            assert not any(m in text for m in RAW_MARKERS), url
            if ESCAPED in text:
                shown_escaped.append(url)
        elif kind.startswith("text/csv"):
            csv_files += 1
            for cell in _cells(body):
                assert not cell.startswith(FORMULA_STARTS), (url, cell)
                if PAYLOAD[1:] in cell:
                    assert cell == "'" + PAYLOAD or not cell.startswith("="), (url, cell)
    assert not failures, failures
    # The records' own pages, the lists and the board show the text - escaped.
    for expected in (
        f"/contacts/{hostile['contacts']}/",
        f"/companies/{hostile['companies']}/",
        f"/deals/{hostile['deals']}/",
        f"/leads/{hostile['leads']}/",
        f"/activities/{hostile['activities']}/",
        "/contacts/",
        "/companies/",
        "/leads/",
    ):
        assert expected in shown_escaped, (expected, shown_escaped)
    assert len(shown_escaped) >= 12, shown_escaped


def test_search_board_and_exports_with_hostile_text(api: Client, hostile: dict[str, int]) -> None:
    for url in ("/search/?q=DROP", "/deals/?view=board", "/deals/board/", "/activities/calendar/"):
        response = api.get(url, {"q": PAYLOAD})
        assert response.status_code < 500, url
        assert not any(m in response.content.decode() for m in RAW_MARKERS), url
    for entity in ("contacts", "companies", "deals", "leads", "activities"):
        exported = api.get(f"/api/v1/{entity}/export/", {"format": "csv"})
        assert exported.status_code == 200, (entity, exported.content[:200])
        body = content_of(exported)
        cells = _cells(body)
        assert "'" + PAYLOAD in cells, entity
        assert not any(cell.startswith(FORMULA_STARTS) for cell in cells), entity
