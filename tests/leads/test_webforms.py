"""Web forms: the builder in Settings (Admins only), lead sources, and the public hosted page
with UTM capture, honeypot, signed token, rate limit, round-robin and framing headers."""

from __future__ import annotations

import re
import secrets

import pytest
from django.core import signing
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.audit.models import AuditEntry
from apps.leads.models import Lead, LeadSource, WebForm
from apps.leads.web.public_views import SIGNING_SALT, SUBMISSIONS_PER_MINUTE
from apps.leads.webforms import webform_update
from apps.records.services import customfield_create
from tenants.models import Tenant
from tests.conftest import fresh_window
from tests.leads.conftest import client_for, make_form

pytestmark = pytest.mark.django_db


def visitor(tenant: Tenant) -> Client:
    """An anonymous visitor with an address of their own (the rate limit counts per IP)."""
    address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    return Client(HTTP_HOST=f"{tenant.slug}.localhost", REMOTE_ADDR=address)


def token_of(page: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    return found.group(1) if found else ""


# The builder -------------------------------------------------------------------------------


def test_admin_builds_a_form_and_gets_its_snippet(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        source = LeadSource.objects.create(name="Website")
        customfield_create(
            actor=owner, entity="lead", label="Team size", type="select", options=["1-10", "11+"]
        )
    assert "No web forms yet" in owner_client_a.get("/settings/web-forms/").content.decode()
    page = owner_client_a.get("/settings/web-forms/new/").content.decode()
    assert 'name="on_cf_team_size"' in page and 'name="on_email" value="1" checked' in page
    data = {
        "name": "Contact us",
        "title": "Talk to sales",
        "submit_label": "Send",
        "thank_you_message": "Thanks!",
        "source": source.pk,
        "assignment": "fixed",
        "fixed_owner": owner.pk,
        "tags": "web, inbound",
        "active": "on",
        "on_first_name": "1",
        "label_first_name": "Your name",
        "required_first_name": "1",
        "order_first_name": "1",
        "on_email": "1",
        "label_email": "Email",
        "required_email": "1",
        "order_email": "2",
        "on_cf_team_size": "1",
        "label_cf_team_size": "Team size",
        "order_cf_team_size": "3",
    }
    created = owner_client_a.post("/settings/web-forms/new/", data)
    assert created.status_code == 302, created.content.decode()[:3000]
    edit = owner_client_a.get(created["Location"]).content.decode()
    with schema_context(tenant_a.schema_name):
        form = WebForm.objects.get()
        assert [f.target for f in form.fields.all()] == ["first_name", "email", "cf_team_size"]
        assert form.fields.first().label == "Your name"  # type: ignore[union-attr]
        assert {t.name for t in form.tags.all()} == {"web", "inbound"}
    hosted = f"http://alpha.localhost/f/{form.public_id}/"
    assert hosted in edit and "&lt;iframe src=&quot;" + hosted in edit
    listed = owner_client_a.get("/settings/web-forms/").content.decode()
    assert "Contact us" in listed and f"/f/{form.public_id}/" in listed
    # Bad input keeps what was typed and names the problem.
    nofields = owner_client_a.post(
        created["Location"], {**data, "on_first_name": "", "on_email": "", "name": "Renamed"}
    )
    page = nofields.content.decode()
    assert nofields.status_code == 200 and "name or an email field" in page
    assert 'value="Renamed"' in page
    nobody = owner_client_a.post(
        created["Location"], {**data, "assignment": "round_robin", "round_robin_users": []}
    )
    assert "Choose the users who take turns" in nobody.content.decode()
    deleted = owner_client_a.post(f"/settings/web-forms/{form.pk}/delete/")
    assert deleted.status_code == 302
    with schema_context(tenant_a.schema_name):
        assert not WebForm.objects.exists()


def test_builder_and_sources_are_admins_only(tenant_a: Tenant, rep: User, owner: User) -> None:
    form = make_form(owner)
    client = client_for(tenant_a, rep)
    for url in (
        "/settings/web-forms/",
        "/settings/web-forms/new/",
        f"/settings/web-forms/{form.pk}/",
        "/settings/web-forms/sources/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/settings/web-forms/{form.pk}/delete/").status_code == 403
    assert client.post("/settings/web-forms/sources/", {"name": "Sneaky"}).status_code == 403
    with schema_context(tenant_a.schema_name):
        assert WebForm.objects.filter(pk=form.pk).exists()
        assert not LeadSource.objects.filter(name="Sneaky").exists()


def test_lead_sources_page(owner_client_a: Client, tenant_a: Tenant) -> None:
    added = owner_client_a.post("/settings/web-forms/sources/", {"name": "Podcast"}, follow=True)
    assert "Added the source Podcast" in added.content.decode()
    dupe = owner_client_a.post("/settings/web-forms/sources/", {"name": "podcast"}, follow=True)
    assert "already a lead source" in dupe.content.decode()
    with schema_context(tenant_a.schema_name):
        source = LeadSource.objects.get()
    owner_client_a.post(
        "/settings/web-forms/sources/",
        {"pk": source.pk, "name": "Podcasts", "order": "4", "archived": "1"},
    )
    page = owner_client_a.get("/settings/web-forms/sources/").content.decode()
    assert "Podcasts" in page and "archived" in page
    owner_client_a.post("/settings/web-forms/sources/", {"pk": source.pk, "delete": "1"})
    with schema_context(tenant_a.schema_name):
        assert not LeadSource.objects.exists()


# The hosted page ---------------------------------------------------------------------------


def test_submission_captures_campaign_and_referrer(tenant_a: Tenant, owner: User) -> None:
    source = LeadSource.objects.create(name="Website")
    form = make_form(owner, source=source, tags=["inbound"])
    browser = visitor(tenant_a)
    url = f"/f/{form.public_id}/"
    page = browser.get(
        url + "?utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale"
        "&utm_term=crm&utm_content=hero&landing=https://acme.example/pricing",
        HTTP_REFERER="https://mail.example/inbox",
    ).content.decode()
    assert hidden(page, "utm_campaign") == "spring-sale"
    assert hidden(page, "ref") == "https://mail.example/inbox"
    assert 'class="hp-field"' in page and "style=" not in page
    fields = {
        name: hidden(page, name)
        for name in (
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
            "ref",
            "landing",
            "token",
        )
    }
    done = browser.post(
        url,
        {**fields, "first_name": "Jane", "last_name": "Doe", "email": "jane@acme.example"},
    )
    assert done.status_code == 200 and "We will be in touch" in done.content.decode()
    with schema_context(tenant_a.schema_name):
        lead = Lead.objects.get()
        assert (lead.first_name, lead.email) == ("Jane", "jane@acme.example")
        assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == (
            "newsletter",
            "email",
            "spring-sale",
        )
        assert (lead.utm_term, lead.utm_content) == ("crm", "hero")
        assert lead.referrer == "https://mail.example/inbox"
        assert lead.landing_page == "https://acme.example/pricing"
        assert lead.source == source and lead.web_form == form and lead.owner == owner
        assert [t.name for t in lead.tags.all()] == ["inbound"]
        form.refresh_from_db()
        assert form.submissions == 1
        entry = AuditEntry.objects.get(action="lead.created", target_id=str(lead.pk))
        assert entry.actor is None and entry.actor_label == "Web form Contact us"


def test_bad_submission_keeps_everything_typed(tenant_a: Tenant, owner: User) -> None:
    customfield_create(actor=owner, entity="lead", label="Seats", type="number")
    form = make_form(
        owner,
        fields=[
            {"target": "first_name", "label": "First name", "required": True},
            {"target": "email", "label": "Work email", "required": True},
            {"target": "cf_seats", "label": "Seats", "placeholder": "How many?"},
            {"target": "notes", "label": "Message"},
        ],
    )
    browser = visitor(tenant_a)
    url = f"/f/{form.public_id}/"
    page = browser.get(url + "?utm_campaign=launch").content.decode()
    assert 'placeholder="How many?"' in page
    sent = {
        "first_name": "",
        "email": "jane@",
        "cf_seats": "lots",
        "notes": "Call me <b>maybe</b>",
        "utm_campaign": "launch",
        "token": token_of(page),
    }
    bad = browser.post(url, sent)
    text = bad.content.decode()
    assert bad.status_code == 400
    assert "This field is required." in text and "Enter a valid email address." in text
    assert 'value="jane@"' in text and "Call me &lt;b&gt;maybe&lt;/b&gt;" in text
    assert hidden(text, "utm_campaign") == "launch"
    # The service's own checks (a number field) come back next to the field too.
    bad = browser.post(url, {**sent, "first_name": "Jane", "email": "jane@acme.example"})
    text = bad.content.decode()
    assert bad.status_code == 400 and 'value="lots"' in text and "number" in text.lower()
    with schema_context(tenant_a.schema_name):
        assert not Lead.objects.exists()
    good = browser.post(
        url, {**sent, "first_name": "Jane", "email": "jane@acme.example", "cf_seats": "12"}
    )
    assert good.status_code == 200
    with schema_context(tenant_a.schema_name):
        assert Lead.objects.get().custom_fields == {"seats": 12}


def test_honeypot_and_token(tenant_a: Tenant, owner: User) -> None:
    form = make_form(owner)
    browser = visitor(tenant_a)
    url = f"/f/{form.public_id}/"
    token = token_of(browser.get(url).content.decode())
    bot = browser.post(
        url,
        {
            "first_name": "Bot",
            "email": "bot@spam.example",
            "website": "http://spam",
            "token": token,
        },
    )
    assert bot.status_code == 200 and "We will be in touch" in bot.content.decode()
    forged = browser.post(
        url, {"first_name": "Forged", "email": "f@x.example", "token": "not-a-token"}
    )
    assert forged.status_code == 400 and "expired" in forged.content.decode()
    assert 'value="Forged"' in forged.content.decode()
    other_form = signing.dumps({"f": "someotherform"}, salt=SIGNING_SALT)
    wrong = browser.post(url, {"first_name": "W", "email": "w@x.example", "token": other_form})
    assert wrong.status_code == 400
    # The re-rendered page carries a fresh token: sending it again works.
    again = browser.post(
        url,
        {
            "first_name": "Forged",
            "email": "f@x.example",
            "token": token_of(forged.content.decode()),
        },
    )
    assert again.status_code == 200
    with schema_context(tenant_a.schema_name):
        assert [lead.first_name for lead in Lead.objects.all()] == ["Forged"]
        form.refresh_from_db()
        assert form.submissions == 1


def test_rate_limit_answers_429(tenant_a: Tenant, owner: User) -> None:
    form = make_form(owner)
    browser = visitor(tenant_a)
    url = f"/f/{form.public_id}/"
    fresh_window(60, needed=10)
    for _ in range(SUBMISSIONS_PER_MINUTE):
        assert browser.post(url, {"first_name": "x"}).status_code == 400
    limited = browser.post(url, {"first_name": "x"})
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "Too many requests" in limited.content.decode()
    # ... shown inside the embedding site's frame too.
    assert "frame-ancestors *" in limited["Content-Security-Policy"]
    assert "X-Frame-Options" not in limited.headers
    # Reading the form is not limited; another visitor is not affected.
    assert browser.get(url).status_code == 200
    assert visitor(tenant_a).post(url, {"first_name": "x"}).status_code == 400


def test_round_robin_alternates_owners(
    tenant_a: Tenant, owner: User, rep: User, other_rep: User
) -> None:
    form = make_form(owner, assignment="round_robin", round_robin_users=[rep, other_rep])
    browser = visitor(tenant_a)
    url = f"/f/{form.public_id}/"
    token = token_of(browser.get(url).content.decode())
    for index in range(4):
        sent = browser.post(
            url, {"first_name": f"Visitor {index}", "email": f"v{index}@x.example", "token": token}
        )
        assert sent.status_code == 200
    with schema_context(tenant_a.schema_name):
        owners = [lead.owner_id for lead in Lead.objects.order_by("pk")]
        first, second = sorted([rep.pk, other_rep.pk])
        assert owners == [first, second, first, second]
        # An inactive user is skipped; with nobody left the Owner gets the lead.
        User.objects.filter(pk=second).update(is_active=False)
    browser.post(url, {"first_name": "Five", "email": "5@x.example", "token": token})
    with schema_context(tenant_a.schema_name):
        assert Lead.objects.get(first_name="Five").owner_id == first
        User.objects.filter(pk=first).update(is_active=False)
    browser.post(url, {"first_name": "Six", "email": "6@x.example", "token": token})
    with schema_context(tenant_a.schema_name):
        assert Lead.objects.get(first_name="Six").owner == owner


def test_inactive_or_unknown_form_is_404(tenant_a: Tenant, owner: User) -> None:
    form = make_form(owner)
    browser = visitor(tenant_a)
    url = f"/f/{form.public_id}/"
    token = token_of(browser.get(url).content.decode())
    with schema_context(tenant_a.schema_name):
        webform_update(actor=owner, form=form, active=False)
    assert browser.get(url).status_code == 404
    assert (
        browser.post(url, {"first_name": "x", "email": "x@x.example", "token": token}).status_code
        == 404
    )
    assert browser.get("/f/nosuchform/").status_code == 404
    with schema_context(tenant_a.schema_name):
        assert not Lead.objects.exists()


def test_redirect_and_framing_headers(
    tenant_a: Tenant, owner: User, owner_client_a: Client
) -> None:
    form = make_form(owner, redirect_url="https://acme.example/thanks")
    browser = visitor(tenant_a)
    url = f"/f/{form.public_id}/"
    page = browser.get(url)
    assert "X-Frame-Options" not in page.headers
    policy = page["Content-Security-Policy"]
    assert "frame-ancestors *" in policy and "script-src 'self'" in policy
    assert "form-action 'self' https://acme.example" in policy
    assert "csrftoken" not in page.cookies
    done = browser.post(
        url,
        {
            "first_name": "Jane",
            "email": "jane@acme.example",
            "token": token_of(page.content.decode()),
        },
    )
    assert done.status_code == 302 and done["Location"] == "https://acme.example/thanks"
    # Every other page keeps the strict defaults.
    app_page = owner_client_a.get("/leads/")
    assert app_page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in app_page["Content-Security-Policy"]


# The services' own checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fields": []}, "fields"),
        ({"fields": [{"target": "email"}, {"target": "email"}]}, "fields"),
        ({"fields": [{"target": "company_name"}]}, "fields"),
        ({"fields": [{"target": f"cf_x{i}"} for i in range(3)]}, "fields"),
        ({"name": " "}, "name"),
        ({"assignment": "lottery"}, "assignment"),
        ({"redirect_url": "javascript:alert(1)"}, "redirect_url"),
        ({"fixed_owner": None}, "fixed_owner"),
        ({"source": "Nowhere"}, "source"),
    ],
)
def test_form_services_name_the_bad_field(owner: User, changes: dict, field: str) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        make_form(owner, **changes)
    assert field in caught.value.message_dict


def test_form_limits_inactive_people_and_permissions(owner: User, rep: User) -> None:
    from django.core.exceptions import PermissionDenied, ValidationError

    from apps.leads.webforms import MAX_FIELDS, webform_delete

    for index in range(MAX_FIELDS):
        customfield_create(actor=owner, entity="lead", label=f"Extra {index}", type="text")
    many = [{"target": "email"}, *({"target": f"cf_extra_{i}"} for i in range(MAX_FIELDS))]
    with pytest.raises(ValidationError, match="at most"):
        make_form(owner, fields=many)
    form = make_form(owner, submit_label="")
    assert form.submit_label == "Send" and form.fixed_owner == owner
    rep.is_active = False
    rep.save()
    with pytest.raises(ValidationError) as caught:
        webform_update(actor=owner, form=form, fixed_owner=rep)
    assert "fixed_owner" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        webform_update(actor=owner, form=form, assignment="round_robin", round_robin_users=[rep])
    assert "round_robin_users" in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        make_form(rep)
    with pytest.raises(PermissionDenied):
        webform_delete(actor=rep, form=form)


def test_hosted_page_draws_custom_fields_by_type(tenant_a: Tenant, owner: User) -> None:
    customfield_create(
        actor=owner, entity="lead", label="Plan", type="select", options=["Basic", "Pro"]
    )
    customfield_create(actor=owner, entity="lead", label="Start", type="date")
    gone = customfield_create(actor=owner, entity="lead", label="Old", type="text")
    form = make_form(
        owner,
        fields=[
            {"target": "email", "label": "Email", "required": True},
            {"target": "phone", "label": "Phone"},
            {"target": "cf_plan", "label": "Plan", "required": True},
            {"target": "cf_start", "label": "Start date"},
            {"target": "cf_old", "label": "Old"},
        ],
    )
    gone.archived = True
    gone.save()
    page = visitor(tenant_a).get(f"/f/{form.public_id}/").content.decode()
    assert '<option value="Pro">Pro</option>' in page and 'type="date"' in page
    assert 'type="tel"' in page and 'name="cf_old"' not in page
    browser = visitor(tenant_a)
    sent = browser.post(
        f"/f/{form.public_id}/",
        {
            "email": "a@b.example",
            "phone": "12",
            "cf_plan": "Pro",
            "cf_start": "2026-12-01",
            "token": token_of(page),
            "ref": "not a url",
        },
    )
    assert sent.status_code == 400 and "phone" in sent.content.decode().lower()
    sent = browser.post(
        f"/f/{form.public_id}/",
        {"email": "a@b.example", "cf_plan": "Pro", "token": token_of(page), "ref": "nope"},
    )
    assert sent.status_code == 200
    with schema_context(tenant_a.schema_name):
        lead = Lead.objects.get()
        assert lead.custom_fields == {"plan": "Pro"} and lead.referrer == ""
