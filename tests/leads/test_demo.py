"""The demo leads: sources, leads in every status, a converted lead, a duplicate pair and a
round-robin form; seeding twice changes nothing."""

from __future__ import annotations

import pytest

from apps.accounts.models import User
from apps.leads import selectors
from apps.leads.demo import LEADS, SOURCES, seed_leads
from apps.leads.models import Lead, LeadSource, WebForm

pytestmark = pytest.mark.django_db


def test_seed_leads_is_idempotent(owner: User, rep: User) -> None:
    seed_leads()
    seed_leads()
    assert sorted(LeadSource.objects.values_list("name", flat=True)) == sorted(SOURCES)
    assert Lead.objects.count() == len(LEADS)
    converted = Lead.objects.get(status="converted")
    assert converted.converted_contact is not None and converted.converted_deal is not None
    assert {lead.status for lead in Lead.objects.all()} == {
        "new",
        "contacted",
        "qualified",
        "unqualified",
        "converted",
    }
    assert Lead.objects.exclude(utm_campaign="").count() >= 5
    pairs = selectors.lead_duplicate_pairs(user=owner)
    assert any("same name" in pair["reasons"] for pair in pairs)
    form = WebForm.objects.get(name="Contact us")
    assert form.assignment == "round_robin" and form.fields.count() == 5
