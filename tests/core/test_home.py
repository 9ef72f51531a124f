"""The start page: the user's day, their open deals and the new leads, each a link."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _post(client: Client, url: str, data: dict[str, object]) -> dict[str, object]:
    response = client.post(url, data, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def test_home_shows_an_empty_day_then_what_arrives(owner_client_a: Client) -> None:
    empty = owner_client_a.get("/").content.decode()
    assert "Nothing due today" in empty and "No open deals yet" in empty
    assert "None waiting" in empty

    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    _post(
        owner_client_a,
        "/api/v1/activities/",
        {"type": "task", "subject": "Late", "due_at": yesterday},
    )
    _post(
        owner_client_a, "/api/v1/deals/", {"title": "Home deal", "value": "1200", "currency": "EUR"}
    )
    _post(owner_client_a, "/api/v1/leads/", {"first_name": "Nora", "email": "nora@new.example"})
    page = owner_client_a.get("/").content.decode()
    assert "<strong>1</strong> overdue" in page and 'class="is-overdue"' in page
    assert "<strong>1</strong> open · 1,200 EUR" in page
    assert "<strong>1</strong> waiting to be contacted" in page
    assert 'href="/deals/board/?owner=me"' in page and 'href="/leads/?status=new"' in page
    assert "/activities/today/" in page
