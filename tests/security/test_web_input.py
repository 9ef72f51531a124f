"""Hostile posts to the web forms (signed in, the hosted lead form, the public sign-up):
bodies over the limit get a 413 page saying so, bytes that are not UTF-8 a 400 saying so,
nothing is saved, and SQL/HTML typed into a form is kept verbatim and shown escaped."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.leads.models import Lead
from tenants.models import Tenant

from .conftest import ESCAPED, PAYLOAD, RAW_MARKERS

pytestmark = pytest.mark.django_db

SELECTED = re.compile(
    r'<select name="(\w+)"[^>]*>\s*(?:<option value="[^"]*">[^<]*</option>\s*)*'
    r'<option value="([^"]*)" selected'
)


def _hosted(api: Client, world: dict[str, int]) -> str:
    form = api.get(f"/api/v1/forms/{world['forms']}/").json()
    return f"/f/{form['public_id']}/"


def _token(page: bytes) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page.decode())
    assert found
    return found.group(1)


def test_oversized_web_posts_are_413_and_save_nothing(
    api: Client, world: dict[str, int], tenant_a: Tenant
) -> None:
    filler = "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    visitor = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR="2001:db8::413")
    public = Client(HTTP_HOST="localhost", REMOTE_ADDR="2001:db8::414")
    hosted = _hosted(api, world)
    posts = [
        (api, "/contacts/new/", {"first_name": "Big", "last_name": "Post", "notes": filler}),
        (api, "/deals/new/", {"title": "Big", "notes": filler}),
        (visitor, hosted, {"email": "big@post.example", "first_name": filler}),
        (public, "/signup/", {"name": "Big", "slug": "bigpost", "email": filler}),
        (public, "/find/", {"email": filler}),
    ]
    with schema_context(tenant_a.schema_name):
        before = Contact.objects.count(), Lead.objects.count()
    for client, url, data in posts:
        response = client.post(url, data)
        assert response.status_code == 413, (url, response.status_code)
        assert b"larger than the 5 MB allowed" in response.content, url
        assert b"Nothing was saved" in response.content, url
    with schema_context(tenant_a.schema_name):
        assert (Contact.objects.count(), Lead.objects.count()) == before


def test_web_posts_and_queries_that_are_not_utf8_are_400(
    api: Client, world: dict[str, int], tenant_a: Tenant
) -> None:
    visitor = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR="2001:db8::400")
    hosted = _hosted(api, world)
    form = "application/x-www-form-urlencoded"
    with schema_context(tenant_a.schema_name):
        before = Contact.objects.count(), Lead.objects.count()
    for client, url in ((api, "/contacts/new/"), (visitor, hosted), (api, "/leads/new/")):
        response = client.post(url, b"first_name=%ff%fe&last_name=caf%e9", content_type=form)
        assert response.status_code == 400, (url, response.status_code)
        assert b"not valid UTF-8" in response.content, url
    for url in ("/contacts/?q=%ff", "/search/?q=%c3%28", f"{hosted}?utm_source=%ff"):
        response = api.get(url)
        assert response.status_code == 400 and b"not valid UTF-8" in response.content, url
    with schema_context(tenant_a.schema_name):
        assert (Contact.objects.count(), Lead.objects.count()) == before
    # UTF-8 itself, percent-encoded or not, is fine.
    assert api.get("/contacts/?q=caf%C3%A9").status_code == 200
    assert api.get("/contacts/", {"q": "Zoë 山田"}).status_code == 200


def test_hostile_text_typed_into_forms_is_kept_and_escaped(
    api: Client, world: dict[str, int], tenant_a: Tenant
) -> None:
    blank = api.get("/contacts/new/").content.decode()
    # The form's own defaults for its choices (the owner is required).
    initial = dict(SELECTED.findall(blank))
    created = api.post(
        "/contacts/new/",
        {**initial, "first_name": PAYLOAD, "last_name": PAYLOAD, "title": PAYLOAD},
    )
    assert created.status_code == 302, created.content[:500]
    with schema_context(tenant_a.schema_name):
        contact = Contact.objects.get(last_name=PAYLOAD)
        assert contact.first_name == contact.title == PAYLOAD
    page = api.get(f"/contacts/{contact.pk}/").content.decode()
    assert ESCAPED in page and not any(m in page for m in RAW_MARKERS)
    visitor = Client(HTTP_HOST="alpha.localhost", REMOTE_ADDR="2001:db8::415")
    hosted = _hosted(api, world)
    sent = visitor.post(
        hosted, {"email": "hostile@lead.example", "token": _token(visitor.get(hosted).content)}
    )
    assert sent.status_code in (200, 302)
    search = api.get("/search/", {"q": PAYLOAD}).content.decode()
    assert not any(m in search for m in RAW_MARKERS)
