"""A selling organisation at scale: 500,000 deals, 5,000,000 activities, 200,000 leads.

    .venv/bin/python bench/sales_data.py [--deals 500000] [--activities 5000000]
                                         [--leads 200000]
                                         [--contacts 50000] [--companies 10000]
                                         [--batch 500000] [--slug bench-sales]

Provisions (or reuses) the organisation `bench-sales` through the provisioning service, with
50 members (the owner, 2 admins, 5 managers each leading a team of 8 reps, 40 reps, 2
read-only), the 30 tags and contact/company custom fields of the contacts benchmark, and fills
it in SQL inside the organisation's schema:

- 10,000 companies and 50,000 contacts, by the contacts generator (bench/contacts_data.py),
  for deals and activities to link to;
- two pipelines: "Sales" (5 open stages, won, lost) and "Renewals" (3 open stages, renewed,
  churned), six lost reasons;
- 500,000 deals over three years, 70% in Sales: the closed ones closed evenly over the three
  years, 5 to 125 days after their creation; the open ones are recent deals still in play,
  about 10,000 open in Sales (more in the early stages, 30/25/20/15/10%) and 3,000 in
  Renewals; the rest won (35% in Sales, 85% in Renewals) or lost with a reason;
  log-uniform values from 500 to 200,000 (USD 92%, EUR, GBP), an owner among the reps and
  managers, a probability override on 10%, expected close dates, won/lost dates,
  stage_entered_at (58% of the open deals rot, most of those in the first stage), a contact
  (75%) and its company, tags on 10%, and a DealStageChange row for every stage each deal
  entered (its creation first): about 1.8 million rows;
- 5,000,000 activities over 36 months (33 back, 3 ahead) on working hours in 15-minute
  slots: tasks 30%, calls 25%, emails 20%, meetings 15% (30-90 minutes, with a place), notes
  10%; done when past (90% of tasks, calls and meetings; every email and note) with outcomes
  for calls and meetings; assigned to 48 members whose volumes differ (reps from about 1,300
  to 5,000 a month, managers and admins fewer), so that in any month's calendar grid some
  rep has about 2,000 activities; 30% linked to a deal (and its contact and company), 30%
  to a contact (and its company), 10% to a company only;
- 200,000 leads over the same three years (as many each day), owned by the 40 reps, with six
  lead sources (Website 30%, Ads 22%, Cold call 14%, Referral 12%, Trade show 10%, Partner
  8%; 4% without a source); UTM values on about 46% (every Ads lead, 70% of the Website ones,
  a few others): 20 campaigns, each with its utm_source and utm_medium (Ads leads from the 12
  paid ones: google/cpc, linkedin and facebook paid_social, ...; the others from newsletters,
  blog, partner portal, ...); about 14% converted, 1 to 45 days after creation, at a rate
  that depends on the source (Referral 32%, Cold call 6%), each pointing at the deal its
  owner created next after the conversion (its contact and company too); the rest new,
  contacted, qualified or unqualified, mostly new or contacted when under 45 days old and
  mostly unqualified or qualified when older; names, emails, job titles, company names of the
  companies above on 80%, search_text as refresh_search_text makes it (the search dictionary
  is not extended: the leads' names are the contacts').

Every row is drawn in the database (`INSERT ... SELECT generate_series`, no data crosses the
wire). Loading is the slow part of keeping indexes, so while the deal, activity and lead
tables are filled their indexes (all but the primary keys and unique constraints) are
dropped, their definitions kept in the table `bench_dropped_indexes` of the schema, and
rebuilt afterwards; foreign-key triggers are skipped (`session_replication_role = replica`)
because the rows are generated consistent. Then VACUUM ANALYZE.

Idempotent and resumable: each batch is one transaction, a run continues from the counts it
finds and rebuilds any index a broken run left dropped; nothing is added when the counts are
reached. Prints how long each part took.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

import contacts_data  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.models import Team, User  # noqa: E402
from apps.accounts.roles import Role  # noqa: E402
from apps.accounts.services import team_create, team_update, user_create, user_set_role  # noqa: E402
from apps.deals.models import LostReason, Pipeline, Stage, StageKind  # noqa: E402
from apps.leads.models import LeadSource  # noqa: E402
from tenants import provisioning  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402

SLUG = "bench-sales"
MEMBERS = (  # role, count (besides the owner made by provisioning): 50 members in all
    (Role.ADMIN, 2),
    (Role.MANAGER, 5),
    (Role.REP, 40),
    (Role.READONLY, 2),
)
REPS_PER_TEAM = 8
# (name, [(stage, probability, kind, rotting days)]); open stages first, in board order.
PIPELINES = [
    (
        "Sales",
        [
            ("Lead in", 10, StageKind.OPEN, 14),
            ("Qualified", 20, StageKind.OPEN, 14),
            ("Demo scheduled", 40, StageKind.OPEN, 21),
            ("Proposal made", 60, StageKind.OPEN, 21),
            ("Negotiation", 80, StageKind.OPEN, 30),
            ("Won", 100, StageKind.WON, None),
            ("Lost", 0, StageKind.LOST, None),
        ],
    ),
    (
        "Renewals",
        [
            ("Upcoming", 50, StageKind.OPEN, 30),
            ("In discussion", 70, StageKind.OPEN, 30),
            ("Committed", 90, StageKind.OPEN, 30),
            ("Renewed", 100, StageKind.WON, None),
            ("Churned", 0, StageKind.LOST, None),
        ],
    ),
]
# Share of the open deals in each open stage, as cumulative bounds (the last is implied).
SALES_STAGE_BOUNDS = [0.30, 0.55, 0.75, 0.90]
RENEWAL_STAGE_BOUNDS = [0.50, 0.80]
SALES_SHARE = 0.7
# Open deals are among the most recent quarter of the deals (the last nine months): of
# those, this share of each pipeline is still open (Sales: 350,000 x 0.25 x 4/35 = 10,000).
OPEN_AGE = 0.25
SALES_OPEN = 4 / 35
RENEWALS_OPEN = 0.08
LOST_REASONS = ["Price", "Competitor", "No budget", "No decision", "Timing", "Other"]
PRODUCTS = [
    "Starter plan", "Growth plan", "Enterprise plan", "Onboarding package", "Support renewal",
    "Annual licence", "Pilot", "Seat expansion", "Training days", "Integration project",
]  # fmt: skip
TASKS = [
    "Send proposal to", "Prepare quote for", "Follow up with", "Update contract for",
    "Check in with", "Send case study to", "Book demo with", "Share pricing with",
]  # fmt: skip
MEETINGS = ["Demo with", "Kick-off with", "Quarterly review with", "Discovery call with",
            "Negotiation with", "Lunch with", "Workshop with"]  # fmt: skip
PLACES = ["Zoom", "Google Meet", "Microsoft Teams", "Office", "Client site", "Phone"]
BODIES = [
    "Discussed timeline and budget.", "Asked for a revised quote.", "Wants a second demo.",
    "Decision expected next month.", "Legal review in progress.", "Sent the deck afterwards.",
]  # fmt: skip
CALL_OUTCOMES = ["connected", "connected", "connected", "no_answer", "left_voicemail", "busy",
                 "wrong_number"]  # fmt: skip
MEETING_OUTCOMES = ["completed"] * 8 + ["rescheduled", "no_show"]
# Deals per member, relative: reps from 0.6 to 1.4, managers 0.5, nobody else.
DEAL_REP_WEIGHTS = (0.6, 1.4)
# Activity volume per member, relative: reps from 0.4 to 1.6, managers 0.5, admins and the
# owner less. With 5,000,000 activities over 36 months the lightest rep gets about 1,300 a
# month, the busiest about 5,000; a month's calendar grid (five or six weeks) of a rep has
# from about 1,500 to 7,000, one rep in 40 every 150 or so.
ACTIVITY_REP_WEIGHTS = (0.4, 1.6)
ACTIVITY_WEIGHT = {Role.OWNER: 0.1, Role.ADMIN: 0.25, Role.MANAGER: 0.5}
SPAN_MONTHS_BACK = 33
SPAN_MONTHS_AHEAD = 3
# Leads: (source, share of the leads, share converted among leads old enough to have been,
# share carrying UTM values); the remaining 4% have no source.
LEAD_SOURCES = [
    ("Website", 0.30, 0.13, 0.70),
    ("Referral", 0.12, 0.32, 0.05),
    ("Trade show", 0.10, 0.16, 0.0),
    ("Cold call", 0.14, 0.06, 0.0),
    ("Partner", 0.08, 0.24, 0.20),
    ("Ads", 0.22, 0.11, 1.0),
]
# UTM campaigns as "campaign|utm_source|utm_medium": Ads leads come from the paid ones, other
# leads with UTM values from the rest (20 in all).
PAID_CAMPAIGNS = [
    "brand-search|google|cpc", "generic-search|google|cpc", "competitor-search|google|cpc",
    "retargeting|google|display", "brand-search-bing|bing|cpc", "demo-offer|linkedin|paid_social",
    "cfo-guide|linkedin|paid_social", "webinar-promo|linkedin|paid_social",
    "spring-sale|facebook|paid_social", "lookalike|facebook|paid_social",
    "black-friday|facebook|paid_social", "youtube-preroll|youtube|video",
]  # fmt: skip
OTHER_CAMPAIGNS = [
    "newsletter-monthly|newsletter|email", "product-launch|newsletter|email",
    "nurture-series|hubspot|email", "blog-pricing|blog|organic", "blog-guides|blog|organic",
    "partner-portal|partner|referral", "g2-reviews|g2|referral", "podcast|podcast|audio",
]  # fmt: skip
# Of the leads not converted: how their statuses fall when the lead is recent (under 45 days)
# and when it is older (cumulative bounds of new, contacted, qualified; the rest unqualified).
LEAD_STATUS_RECENT = [0.45, 0.75, 0.90]
LEAD_STATUS_OLDER = [0.06, 0.24, 0.44]

BIG_TABLES = (
    "deals_deal",
    "deals_deal_contacts",
    "deals_deal_companies",
    "deals_deal_tags",
    "deals_dealstagechange",
    "activities_activity",
    "activities_activity_contacts",
    "activities_activity_companies",
    "activities_activity_deals",
)
LEAD_TABLES = ("leads_lead",)


def _pick(array: str, draw: str, kind: str = "text") -> str:
    """SQL: an element of the array parameter `array`, chosen by `draw` in [0, 1)."""
    return f"({array}::{kind}[])[1 + floor(({draw}) * cardinality({array}::{kind}[]))::int]"


def _spread(g: str, factor: str) -> str:
    """SQL: a well spread value in [0, 1) from the row number (a Kronecker sequence), for
    draws whose shares must come out exact rather than random."""
    return f"mod({g} * {factor}, 1)"


# One batch of deals: draws, then the derived columns (bench_deal), then the rows.
DEAL_BATCH_SQL = [
    f"""
CREATE TEMP TABLE bench_draw ON COMMIT DROP AS
SELECT
    %(base)s::bigint + g AS id,
    g,
    {_spread("g", "0.6180339887")} < %(sales_share)s AS in_sales,
    {_spread("g", "0.7548776662")} AS open_draw,
    (%(total)s::float - g + random()) / %(total)s::float AS age,
    random() AS r_won, random() AS r_stage, random() AS r_value, random() AS r_cur,
    random() AS r_prob, random() AS r_owner, random() AS r_close, random() AS r_entered,
    random() AS r_path, random() AS r_contact, random() AS r_links, random() AS r_tag,
    random() AS r_tag_id, random() AS r_reason, random() AS r_product, random() AS r_company
FROM generate_series(%(start)s::bigint + 1, %(stop)s::bigint) AS g
""",
    """
CREATE TEMP TABLE bench_deal ON COMMIT DROP AS
WITH kinds AS (
    SELECT
        d.*,
        CASE
            WHEN d.age < %(open_age)s AND d.open_draw < CASE WHEN d.in_sales
                THEN %(sales_open)s ELSE %(renewals_open)s END THEN 'open'
            WHEN d.r_won < CASE WHEN d.in_sales THEN 0.35 ELSE 0.85 END THEN 'won'
            ELSE 'lost'
        END AS status,
        CASE WHEN d.in_sales THEN %(sales_open_ids)s::bigint[]
             ELSE %(renewals_open_ids)s::bigint[] END AS open_ids,
        %(now)s::timestamptz - d.age * interval '3 years' AS moment
    FROM bench_draw AS d
), paths AS (
    SELECT
        k.*,
        -- Open stages passed: an open deal's own stage; a closed deal went 1..n stages in.
        CASE WHEN k.status = 'open' THEN 1 + (
                SELECT count(*) FROM unnest(CASE WHEN k.in_sales THEN %(sales_bounds)s::float[]
                    ELSE %(renewals_bounds)s::float[] END) AS b WHERE b <= k.r_stage)
             ELSE 1 + floor(k.r_path * cardinality(k.open_ids))::int
        END AS passed,
        -- An open deal was created at its moment; a closed one closed then (closings spread
        -- evenly over the three years), 5 to 125 days after it was created.
        CASE WHEN k.status = 'open' THEN NULL ELSE k.moment END AS closed_at,
        CASE WHEN k.status = 'open' THEN k.moment
             ELSE k.moment - (5 + k.r_entered * 120) * interval '1 day'
        END AS created_at
    FROM kinds AS k
)
SELECT
    p.*,
    CASE p.status
        WHEN 'open' THEN p.open_ids[p.passed]
        WHEN 'won' THEN CASE WHEN p.in_sales THEN %(sales_won)s ELSE %(renewals_won)s END
        ELSE CASE WHEN p.in_sales THEN %(sales_lost)s ELSE %(renewals_lost)s END
    END::bigint AS stage_id,
    p.open_ids[1:p.passed] || CASE p.status
        WHEN 'open' THEN ARRAY[]::bigint[]
        WHEN 'won' THEN ARRAY[CASE WHEN p.in_sales THEN %(sales_won)s
                                   ELSE %(renewals_won)s END]::bigint[]
        ELSE ARRAY[CASE WHEN p.in_sales THEN %(sales_lost)s ELSE %(renewals_lost)s END]::bigint[]
    END AS path_ids,
    CASE
        WHEN p.status <> 'open' THEN p.closed_at
        -- Still in the first stage: entered it when created.
        WHEN p.passed = 1 THEN p.created_at
        -- Most open deals moved recently; about a fifth sit past their stage's rotting days.
        ELSE greatest(p.created_at, %(now)s::timestamptz
                      - (p.r_entered ^ 3) * (%(now)s::timestamptz - p.created_at))
    END AS entered_at,
    c.id AS contact_id,
    c.name AS contact_name,
    coalesce(c.company_id, CASE WHEN p.r_links > 0.9 THEN co.id END) AS company_id,
    coalesce(c.company_name, CASE WHEN p.r_links > 0.9 THEN co.name END) AS company_name
FROM paths AS p
LEFT JOIN bench_contacts AS c
    ON p.r_links < 0.75 AND c.n = 1 + floor(p.r_contact * %(n_contacts)s)::int
LEFT JOIN bench_companies AS co
    ON p.r_links > 0.9 AND co.n = 1 + floor(p.r_company * %(n_companies)s)::int
""",
    f"""
INSERT INTO deals_deal (
    id, custom_fields, search_text, created_at, updated_at, title, value, currency, status,
    probability, expected_close, lost_note, won_at, lost_at, stage_entered_at, position,
    owner_id, lost_reason_id, pipeline_id, stage_id, external_id
)
SELECT
    s.id, '{{}}'::jsonb, lower(t.title), s.created_at, s.entered_at, t.title,
    round((CASE WHEN s.in_sales THEN 500 * 400 ^ s.r_value ELSE 1000 * 50 ^ s.r_value END)
          ::numeric, -1),
    CASE WHEN s.r_cur < 0.92 THEN 'USD' WHEN s.r_cur < 0.97 THEN 'EUR' ELSE 'GBP' END,
    s.status,
    CASE WHEN s.r_prob < 0.1 THEN floor(s.r_prob * 10 * 101)::int END,
    CASE WHEN s.status = 'open'
         THEN (%(now)s::timestamptz + (-20 + s.r_close * 140) * interval '1 day')::date
         ELSE s.closed_at::date END,
    '',
    CASE WHEN s.status = 'won' THEN s.closed_at END,
    CASE WHEN s.status = 'lost' THEN s.closed_at END,
    s.entered_at,
    s.g::float,
    {_pick("%(owners)s", "s.r_owner", "bigint")},
    CASE WHEN s.status = 'lost' THEN {_pick("%(reasons)s", "s.r_reason", "bigint")} END,
    CASE WHEN s.in_sales THEN %(sales_id)s ELSE %(renewals_id)s END,
    s.stage_id,
    ''
FROM bench_deal AS s
CROSS JOIN LATERAL (
    SELECT {_pick("%(products)s", "s.r_product")} || ' - '
        || coalesce(s.company_name, s.contact_name, 'Deal ' || s.g) AS title
) AS t
""",
    """
INSERT INTO deals_deal_contacts (deal_id, contact_id)
SELECT id, contact_id FROM bench_deal WHERE contact_id IS NOT NULL
""",
    """
INSERT INTO deals_deal_companies (deal_id, company_id)
SELECT id, company_id FROM bench_deal WHERE company_id IS NOT NULL
""",
    f"""
INSERT INTO deals_deal_tags (deal_id, tag_id)
SELECT id, {_pick("%(tag_ids)s", "r_tag_id ^ 2", "bigint")}
FROM bench_deal WHERE r_tag < 0.1
""",
    # Every stage the deal entered, its creation first, evenly spaced from its creation to
    # the moment it entered its current stage.
    f"""
INSERT INTO deals_dealstagechange (
    deal_id, from_stage_id, to_stage_id, changed_at, changed_by_id, seconds_in_previous
)
SELECT
    s.id,
    CASE WHEN j > 1 THEN s.path_ids[j - 1] END,
    s.path_ids[j],
    s.created_at + (s.entered_at - s.created_at) * (j - 1) / greatest(n - 1, 1),
    {_pick("%(owners)s", "s.r_owner", "bigint")},
    CASE WHEN j > 1 THEN
        floor(extract(epoch FROM s.entered_at - s.created_at) / (n - 1))::bigint END
FROM bench_deal AS s
CROSS JOIN LATERAL (SELECT cardinality(s.path_ids) AS n) AS l
CROSS JOIN LATERAL generate_series(1, l.n) AS j
""",
]

# One batch of activities: draws (bench_draw), then the derived columns (bench_act), then the
# rows and their links.
ACTIVITY_BATCH_SQL = [
    """
CREATE TEMP TABLE bench_draw ON COMMIT DROP AS
SELECT
    %(base)s::bigint + g AS id,
    g,
    %(first_day)s::date + floor((g - 1 + random()) / %(total)s::float * %(days)s)::int AS day,
    random() AS r_type, random() AS r_time, random() AS r_len, random() AS r_owner,
    random() AS r_done, random() AS r_outcome, random() AS r_links, random() AS r_target,
    random() AS r_subject, random() AS r_body, random() AS r_created, random() AS r_allday,
    random() AS r_place
FROM generate_series(%(start)s::bigint + 1, %(stop)s::bigint) AS g
""",
    f"""
CREATE TEMP TABLE bench_act ON COMMIT DROP AS
WITH typed AS (
    SELECT
        d.*,
        CASE WHEN d.r_type < 0.30 THEN 'task' WHEN d.r_type < 0.55 THEN 'call'
             WHEN d.r_type < 0.75 THEN 'email' WHEN d.r_type < 0.90 THEN 'meeting'
             ELSE 'note' END AS type,
        d.r_type < 0.30 AND d.r_allday < 0.15 AS all_day
    FROM bench_draw AS d
), timed AS (
    SELECT
        t.*,
        CASE WHEN t.all_day THEN t.day::timestamp AT TIME ZONE 'UTC'
             ELSE (t.day + time '08:00' + floor(t.r_time * 40) * interval '15 minutes')
                  AT TIME ZONE 'UTC' END AS at
    FROM typed AS t
)
SELECT
    t.*,
    t.at < %(now)s::timestamptz AND (t.type IN ('email', 'note') OR t.r_done < 0.9) AS done,
    {_pick("%(owners)s", "t.r_owner", "bigint")} AS owner_id,
    dl.id AS deal_id,
    coalesce(dl.contact_id, c.id) AS contact_id,
    coalesce(dl.company_id, c.company_id, co.id) AS company_id,
    coalesce(dl.contact_name, c.name, dl.company_name, co.name) AS target
FROM timed AS t
LEFT JOIN bench_deals AS dl
    ON t.r_links < 0.30 AND dl.n = 1 + floor(t.r_target * %(n_deals)s)::int
LEFT JOIN bench_contacts AS c
    ON t.r_links >= 0.30 AND t.r_links < 0.60
    AND c.n = 1 + floor(t.r_target * %(n_contacts)s)::int
LEFT JOIN bench_companies AS co
    ON t.r_links >= 0.60 AND t.r_links < 0.70
    AND co.n = 1 + floor(t.r_target * %(n_companies)s)::int
""",
    f"""
INSERT INTO activities_activity (
    id, custom_fields, search_text, created_at, updated_at, type, subject, body, due_at,
    start_at, end_at, all_day, scheduled_at, done, done_at, outcome, location, created_by_id,
    owner_id, external_id
)
SELECT
    a.id, '{{}}'::jsonb, lower(concat_ws(' ', v.subject, nullif(v.body, ''))), v.created_at,
    coalesce(v.done_at, v.created_at), a.type, v.subject, v.body,
    CASE WHEN a.type IN ('task', 'call', 'email') THEN a.at END,
    CASE WHEN a.type = 'meeting' THEN a.at END,
    CASE WHEN a.type = 'meeting' THEN a.at + (1 + floor(a.r_len * 3)) * interval '30 minutes' END,
    a.all_day, a.at, a.done, v.done_at,
    CASE WHEN NOT a.done THEN ''
         WHEN a.type = 'call' THEN {_pick("%(call_outcomes)s", "a.r_outcome")}
         WHEN a.type = 'meeting' THEN {_pick("%(meeting_outcomes)s", "a.r_outcome")}
         ELSE '' END,
    CASE WHEN a.type = 'meeting' THEN {_pick("%(places)s", "a.r_place")} ELSE '' END,
    a.owner_id, a.owner_id, ''
FROM bench_act AS a
CROSS JOIN LATERAL (
    SELECT
        CASE a.type
            WHEN 'task' THEN {_pick("%(tasks)s", "a.r_subject")} || ' '
                || coalesce(a.target, 'the team')
            WHEN 'call' THEN 'Call ' || coalesce(a.target, 'back')
            WHEN 'email' THEN 'Email to ' || coalesce(a.target, 'the team')
            WHEN 'meeting' THEN {_pick("%(meetings)s", "a.r_subject")} || ' '
                || coalesce(a.target, 'the team')
            ELSE 'Note on ' || coalesce(a.target, 'pipeline review')
        END AS subject,
        CASE WHEN a.r_body < 0.3 THEN {_pick("%(bodies)s", "a.r_body / 0.3")} ELSE '' END AS body,
        CASE WHEN a.type = 'note' THEN a.at
             ELSE least(a.at, %(now)s::timestamptz) - a.r_created * interval '10 days'
        END AS created_at,
        CASE WHEN a.done THEN least(%(now)s::timestamptz,
                                    a.at + a.r_len * interval '2 hours') END AS done_at
) AS v
""",
    """
INSERT INTO activities_activity_deals (activity_id, deal_id)
SELECT id, deal_id FROM bench_act WHERE deal_id IS NOT NULL
""",
    """
INSERT INTO activities_activity_contacts (activity_id, contact_id)
SELECT id, contact_id FROM bench_act WHERE contact_id IS NOT NULL
""",
    """
INSERT INTO activities_activity_companies (activity_id, company_id)
SELECT id, company_id FROM bench_act WHERE company_id IS NOT NULL
""",
]


# One batch of leads: draws (bench_draw), then the derived columns (bench_lead), then the
# rows. A converted lead points at the deal its owner created next after the conversion (or
# just before it, for the owner's latest deals), with that deal's contact and company.
LEAD_BATCH_SQL = [
    f"""
CREATE TEMP TABLE bench_draw ON COMMIT DROP AS
SELECT
    %(base)s::bigint + g AS id,
    g,
    %(now)s::timestamptz
        - (%(total)s::float - g + random()) / %(total)s::float * interval '3 years' AS created_at,
    random() AS r_source, random() AS r_convert, random() AS r_days, random() AS r_status,
    random() AS r_utm, random() AS r_campaign, random() AS r_owner, random() AS r_company,
    random() AS r_title, random() AS r_phone, random() AS r_term, random() AS r_updated,
    {_pick("%(first)s", "random()")} AS first_name,
    {_pick("%(surnames)s", "random() ^ 1.5")} AS last_name
FROM generate_series(%(start)s::bigint + 1, %(stop)s::bigint) AS g
""",
    f"""
CREATE TEMP TABLE bench_lead ON COMMIT DROP AS
WITH sourced AS (
    SELECT
        d.*,
        -- Index into the source arrays; past the last bound: no source.
        1 + (SELECT count(*) FROM unnest(%(source_bounds)s::float[]) AS b
             WHERE b <= d.r_source)::int AS source_n,
        d.created_at + (1 + d.r_days ^ 2 * 44) * interval '1 day' AS would_convert_at
    FROM bench_draw AS d
), converted AS (
    SELECT
        s.*,
        s.source_n <= cardinality(%(source_ids)s::bigint[]) AS has_source,
        coalesce((%(source_converts)s::float[])[s.source_n], 0.10) AS converts,
        coalesce((%(source_utm)s::float[])[s.source_n], 0.30) AS utm_share,
        {_pick("%(owners)s", "s.r_owner", "bigint")} AS owner_id,
        c.name AS company_name,
        c.domain
    FROM sourced AS s
    LEFT JOIN bench_companies AS c
        ON s.r_company < 0.8 AND c.n = 1 + floor(s.r_company / 0.8 * %(n_companies)s)::int
)
SELECT
    v.*,
    CASE WHEN v.is_converted THEN 'converted'
         ELSE (ARRAY['new', 'contacted', 'qualified', 'unqualified'])[1 + (
            SELECT count(*) FROM unnest(CASE WHEN v.created_at > %(now)s::timestamptz
                - interval '45 days' THEN %(status_recent)s::float[]
                ELSE %(status_older)s::float[] END) AS b WHERE b <= v.r_status)::int]
    END AS status,
    CASE WHEN v.r_utm < v.utm_share THEN CASE
        WHEN v.source_n = %(ads_n)s THEN {_pick("%(paid_campaigns)s", "v.r_campaign ^ 1.3")}
        ELSE {_pick("%(other_campaigns)s", "v.r_campaign ^ 1.3")} END
    END AS campaign
FROM (
    SELECT
        c.*,
        c.r_convert < c.converts AND c.would_convert_at < %(now)s::timestamptz AS is_converted
    FROM converted AS c
) AS v
""",
    """
CREATE TEMP TABLE bench_conversion ON COMMIT DROP AS
SELECT l.id, l.would_convert_at AS converted_at, x.deal_id,
       (SELECT min(contact_id) FROM deals_deal_contacts WHERE deal_id = x.deal_id) AS contact_id,
       (SELECT min(company_id) FROM deals_deal_companies WHERE deal_id = x.deal_id) AS company_id
FROM bench_lead AS l
CROSS JOIN LATERAL (
    SELECT coalesce(
        (SELECT d.id FROM deals_deal AS d
         WHERE d.owner_id = l.owner_id AND d.created_at >= l.would_convert_at
         ORDER BY d.created_at LIMIT 1),
        (SELECT d.id FROM deals_deal AS d
         WHERE d.owner_id = l.owner_id AND d.created_at < l.would_convert_at
         ORDER BY d.created_at DESC LIMIT 1)
    ) AS deal_id
) AS x
WHERE l.is_converted
""",
    f"""
INSERT INTO leads_lead (
    id, custom_fields, external_id, search_text, created_at, updated_at, first_name,
    last_name, email, phone, company_name, title, status, notes, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, referrer, landing_page, converted_at, converted_deal_id,
    converted_contact_id, converted_company_id, owner_id, source_id, merged_into_id, web_form_id
)
SELECT
    l.id, '{{}}'::jsonb, '',
    lower(btrim(concat_ws(' ', nullif(l.first_name, ''), nullif(l.last_name, ''), v.email,
                          nullif(v.phone, ''), l.company_name, nullif(v.title, '')))),
    l.created_at,
    coalesce(x.converted_at, l.created_at + l.r_updated * (%(now)s::timestamptz - l.created_at)),
    l.first_name, l.last_name, v.email, v.phone, coalesce(l.company_name, ''), v.title,
    l.status, '',
    coalesce(split_part(l.campaign, '|', 2), ''),
    coalesce(split_part(l.campaign, '|', 3), ''),
    coalesce(split_part(l.campaign, '|', 1), ''),
    CASE WHEN l.campaign IS NOT NULL AND l.r_term < 0.3 THEN 'crm software' ELSE '' END,
    '', '',
    CASE WHEN l.campaign IS NOT NULL
         THEN 'https://www.example.com/?utm_campaign=' || split_part(l.campaign, '|', 1)
         ELSE '' END,
    x.converted_at, x.deal_id, x.contact_id, x.company_id,
    l.owner_id,
    CASE WHEN l.has_source THEN (%(source_ids)s::bigint[])[l.source_n] END,
    NULL, NULL
FROM bench_lead AS l
LEFT JOIN bench_conversion AS x ON x.id = l.id
CROSS JOIN LATERAL (
    SELECT
        regexp_replace(lower(l.first_name || '.' || l.last_name), '[^a-z.]', '', 'g') || l.g
            || '@' || coalesce(l.domain, 'example.org') AS email,
        CASE WHEN l.r_phone < 0.6 THEN
            '+1' || (201 + mod(l.g * 37, 700)) || (2000000 + mod(l.g * 7919, 8000000))
            ELSE '' END AS phone,
        CASE WHEN l.r_title < 0.7 THEN {_pick("%(titles)s", "l.r_title / 0.7")} ELSE '' END
            AS title
) AS v
""",
]


def ensure_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        result = provisioning.tenant_provision(
            slug=slug, name="Bench Sales", owner_email=f"owner@{slug}.test", use_pool=False
        )
        tenant = result.tenant
        print(f"provisioned {slug} ({result.source}, {result.seconds * 1000:.0f} ms)")
    return tenant


def member_email(slug: str, role: Role, index: int) -> str:
    return f"{role.value}{index:02d}@{slug}.test"


def ensure_team(slug: str) -> dict[Role, list[int]]:
    """The 50 members and 5 teams (a manager and 8 reps each); member ids by role."""
    owner = User.objects.filter(is_superuser=True).order_by("pk").first()
    assert owner is not None, "the organisation has no owner"
    by_role: dict[Role, list[int]] = {Role.OWNER: [owner.pk]}
    for role, count in MEMBERS:
        by_role[role] = []
        for index in range(1, count + 1):
            email = member_email(slug, role, index)
            user = User.objects.filter(email=email).first()
            if user is None:
                user = user_create(email=email, full_name=f"{role.label} {index}")
                user_set_role(user=user, role=role)
            by_role[role].append(user.pk)
    for index, manager_id in enumerate(by_role[Role.MANAGER]):
        name = f"Team {index + 1}"
        if Team.objects.filter(name=name).exists():
            continue
        manager = User.objects.get(pk=manager_id)
        team = team_create(name=name, manager=manager, actor=owner)
        reps = by_role[Role.REP][index * REPS_PER_TEAM : (index + 1) * REPS_PER_TEAM]
        team_update(
            team=team, manager=manager, members=list(User.objects.filter(pk__in=reps)), actor=owner
        )
    return by_role


def ensure_pipelines() -> dict[str, Any]:
    """The two pipelines with their stages, and the lost reasons; ids for the SQL."""
    ids: dict[str, Any] = {}
    for order, (name, stages) in enumerate(PIPELINES):
        pipeline, _ = Pipeline.objects.get_or_create(
            name=name, defaults={"order": order, "is_default": order == 0}
        )
        found = []
        for position, (stage_name, probability, kind, rotting) in enumerate(stages):
            stage, _ = Stage.objects.get_or_create(
                pipeline=pipeline,
                name=stage_name,
                defaults={
                    "order": position,
                    "probability": probability,
                    "kind": kind,
                    "rotting_days": rotting,
                },
            )
            found.append(stage)
        key = name.lower()
        ids[f"{key}_id"] = pipeline.pk
        ids[f"{key}_open_ids"] = [s.pk for s in found if s.kind == StageKind.OPEN]
        ids[f"{key}_won"] = next(s.pk for s in found if s.kind == StageKind.WON)
        ids[f"{key}_lost"] = next(s.pk for s in found if s.kind == StageKind.LOST)
    for order, reason in enumerate(LOST_REASONS):
        LostReason.objects.get_or_create(name=reason, defaults={"order": order})
    ids["reasons"] = list(LostReason.objects.order_by("order").values_list("pk", flat=True))
    return ids


def ensure_lead_sources() -> dict[str, Any]:
    """The lead sources, and what the leads' SQL draws from them."""
    ids = []
    for order, (name, *_) in enumerate(LEAD_SOURCES):
        source, _ = LeadSource.objects.get_or_create(name=name, defaults={"order": order})
        ids.append(source.pk)
    bounds, total = [], 0.0
    for _, share, _, _ in LEAD_SOURCES:
        total += share
        bounds.append(round(total, 6))
    return {
        "source_ids": ids,
        "source_bounds": bounds,
        "source_converts": [converts for _, _, converts, _ in LEAD_SOURCES],
        "source_utm": [utm for _, _, _, utm in LEAD_SOURCES],
        "ads_n": 1 + [name for name, *_ in LEAD_SOURCES].index("Ads"),
        "paid_campaigns": PAID_CAMPAIGNS,
        "other_campaigns": OTHER_CAMPAIGNS,
        "status_recent": LEAD_STATUS_RECENT,
        "status_older": LEAD_STATUS_OLDER,
        "first": contacts_data.FIRST_NAMES,
        "surnames": contacts_data.SURNAMES,
        "titles": contacts_data.TITLES,
    }


def weighted(
    ids_by_role: dict[Role, list[int]],
    weights: dict[Role, float],
    reps: tuple[float, float],
    size: int = 10_000,
) -> list[int]:
    """An array of member ids in which each appears in proportion to its weight (the reps'
    weights spread evenly over the range `reps`, the first rep the lightest), for picking by
    a uniform draw."""
    shares: list[tuple[int, float]] = []
    rep_ids = ids_by_role[Role.REP]
    low, high = reps
    for i, pk in enumerate(rep_ids):
        shares.append((pk, low + (high - low) * i / max(len(rep_ids) - 1, 1)))
    for role, weight in weights.items():
        shares.extend((pk, weight) for pk in ids_by_role.get(role, []))
    total = sum(w for _, w in shares)
    array: list[int] = []
    for pk, w in shares:
        array.extend([pk] * max(1, round(size * w / total)))
    return array


# -- indexes dropped while loading -----------------------------------------------------------

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS bench_dropped_indexes (
    name text PRIMARY KEY, tablename text NOT NULL, definition text NOT NULL
)"""


def drop_indexes(tables: tuple[str, ...]) -> None:
    """Drop the indexes of `tables` that back no constraint, keeping their definitions."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(BOOKKEEPING)
        cursor.execute(
            """
            INSERT INTO bench_dropped_indexes (name, tablename, definition)
            SELECT i.indexname, i.tablename, i.indexdef
            FROM pg_indexes AS i
            WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
              AND NOT EXISTS (
                  SELECT 1 FROM pg_constraint AS c
                  WHERE c.conindid = (quote_ident(i.schemaname) || '.'
                                      || quote_ident(i.indexname))::regclass)
            ON CONFLICT DO NOTHING
            RETURNING name
            """,
            [list(tables)],
        )
        names = [row[0] for row in cursor.fetchall()]
        for name in names:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    if names:
        print(f"dropped {len(names)} indexes for the load", flush=True)


def rebuild_indexes() -> None:
    """Create every index a load dropped (also after a broken run)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_dropped_indexes') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return
        cursor.execute(
            "SELECT name, tablename, definition FROM bench_dropped_indexes ORDER BY 2, 1"
        )
        rows = cursor.fetchall()
    for name, table, definition in rows:
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
            cursor.execute("SET LOCAL max_parallel_maintenance_workers = 1")
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            if not cursor.fetchone()[0]:
                cursor.execute(definition)
            cursor.execute("DELETE FROM bench_dropped_indexes WHERE name = %s", [name])
        print(f"  index {name} on {table}: {time.perf_counter() - started:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_dropped_indexes")


# -- the fill ------------------------------------------------------------------------------


def _count(cursor: Any, table: str) -> tuple[int, int]:
    cursor.execute(f"SELECT count(*), coalesce(max(id), 0) FROM {table}")
    count, top = cursor.fetchone()
    return int(count), int(top)


def _run_batches(
    label: str, table: str, statements: list[str], target: int, batch: int, params: dict[str, Any]
) -> None:
    with connection.cursor() as cursor:
        present, _ = _count(cursor, table)
    started = time.perf_counter()
    first = present
    while present < target:
        stop = min(target, present + batch)
        batch_started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            _, top = _count(cursor, table)
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET LOCAL work_mem = '256MB'")
            # The rows are drawn consistent: skip the foreign-key triggers.
            cursor.execute("SET LOCAL session_replication_role = replica")
            # Reproducible data: the same batch always draws the same values.
            cursor.execute("SELECT setseed(%s)", [(stop % 1_000_003) / 1_000_003])
            values = {**params, "base": top - present, "start": present, "stop": stop}
            for statement in statements:
                cursor.execute(statement, values)
            contacts_data._sync_identity(cursor, table)
        elapsed = time.perf_counter() - started
        rate = (stop - first) / elapsed
        print(
            f"{label}: {stop:,}/{target:,} (batch {time.perf_counter() - batch_started:.1f} s, "
            f"{rate:,.0f}/s, about {(target - stop) / rate:.0f} s left)",
            flush=True,
        )
        present = stop


def _numbered(name: str, query: str) -> int:
    """A session temp table `name` of `query`'s rows numbered n = 1.. ; its row count."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(f"CREATE TEMP TABLE {name} AS {query}")
        cursor.execute(f"CREATE UNIQUE INDEX ON {name} (n)")
        cursor.execute(f"ANALYZE {name}")
        cursor.execute(f"SELECT count(*) FROM {name}")
        return int(cursor.fetchone()[0])


def link_targets() -> dict[str, int]:
    n_companies = _numbered(
        "bench_companies",
        "SELECT row_number() OVER (ORDER BY id) AS n, id, name FROM companies_company "
        "WHERE merged_into_id IS NULL",
    )
    n_contacts = _numbered(
        "bench_contacts",
        """
        SELECT row_number() OVER (ORDER BY c.id) AS n, c.id,
               c.first_name || ' ' || c.last_name AS name, cc.company_id, co.name AS company_name
        FROM contacts_contact AS c
        LEFT JOIN contacts_contactcompany AS cc ON cc.contact_id = c.id AND cc.is_primary
        LEFT JOIN companies_company AS co ON co.id = cc.company_id
        WHERE c.merged_into_id IS NULL
        """,
    )
    return {"n_companies": n_companies, "n_contacts": n_contacts}


def fill_deals(target: int, batch: int, params: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        present, _ = _count(cursor, "deals_deal")
    if present >= target:
        print(f"deals: {present:,} present, nothing to add")
        return
    if target - present > 50_000:
        drop_indexes(BIG_TABLES[:5])
    _run_batches("deals", "deals_deal", DEAL_BATCH_SQL, target, batch, params)


def fill_activities(target: int, batch: int, params: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        present, _ = _count(cursor, "activities_activity")
    if present >= target:
        print(f"activities: {present:,} present, nothing to add")
        return
    if target - present > 200_000:
        drop_indexes(BIG_TABLES[5:])
    params["n_deals"] = _numbered(
        "bench_deals",
        """
        SELECT row_number() OVER (ORDER BY d.id) AS n, d.id, dc.contact_id, dco.company_id,
               c.first_name || ' ' || c.last_name AS contact_name, co.name AS company_name
        FROM deals_deal AS d
        LEFT JOIN (SELECT DISTINCT ON (deal_id) deal_id, contact_id FROM deals_deal_contacts
                   ORDER BY deal_id, contact_id) AS dc ON dc.deal_id = d.id
        LEFT JOIN (SELECT DISTINCT ON (deal_id) deal_id, company_id FROM deals_deal_companies
                   ORDER BY deal_id, company_id) AS dco ON dco.deal_id = d.id
        LEFT JOIN contacts_contact AS c ON c.id = dc.contact_id
        LEFT JOIN companies_company AS co ON co.id = dco.company_id
        """,
    )
    _run_batches("activities", "activities_activity", ACTIVITY_BATCH_SQL, target, batch, params)


def fill_leads(target: int, batch: int, params: dict[str, Any]) -> None:
    with connection.cursor() as cursor:
        present, _ = _count(cursor, "leads_lead")
    if present >= target:
        print(f"leads: {present:,} present, nothing to add")
        return
    if target - present > 50_000:
        drop_indexes(LEAD_TABLES)
    # Company names (and their domains, for emails) for the leads that name one.
    _numbered(
        "bench_companies",
        "SELECT row_number() OVER (ORDER BY id) AS n, id, name, domain FROM companies_company "
        "WHERE merged_into_id IS NULL",
    )
    _run_batches("leads", "leads_lead", LEAD_BATCH_SQL, target, batch, params)


def vacuum_analyze() -> None:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in BIG_TABLES + LEAD_TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    print(f"VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")


def summary(by_role: dict[Role, list[int]]) -> None:
    with connection.cursor() as cursor:
        for table in BIG_TABLES + LEAD_TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            print(f"  {table}: {cursor.fetchone()[0]:,} rows")
        for table in ("deals_deal", "activities_activity"):
            cursor.execute(
                f"SELECT pg_size_pretty(pg_total_relation_size('{table}')), "
                f"pg_size_pretty(pg_indexes_size('{table}'))"
            )
            total, indexes = cursor.fetchone()
            print(f"  {table}: {total} with {indexes} of indexes")
        cursor.execute(
            "SELECT p.name, d.status, count(*) FROM deals_deal AS d "
            "JOIN deals_pipeline AS p ON p.id = d.pipeline_id GROUP BY 1, 2 ORDER BY 1, 2"
        )
        print("  deals: " + ", ".join(f"{p} {s} {n:,}" for p, s, n in cursor.fetchall()))
        now = timezone.now()
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        cursor.execute(
            "SELECT min(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n), max(n) FROM ("
            "  SELECT owner_id, count(*) AS n FROM activities_activity"
            "  WHERE scheduled_at >= %s AND scheduled_at < %s AND owner_id = ANY(%s)"
            "  GROUP BY owner_id) AS m",
            [month, (month + timedelta(days=32)).replace(day=1), by_role[Role.REP]],
        )
        low, mid, high = cursor.fetchone()
        print(
            f"  activities this month per rep: {low or 0:,} to {high or 0:,} "
            f"(median {mid or 0:,.0f})"
        )
        cursor.execute(
            "SELECT coalesce(s.name, '(no source)'), count(*), "
            "count(*) FILTER (WHERE l.status = 'converted'), "
            "count(*) FILTER (WHERE l.utm_campaign <> '') "
            "FROM leads_lead AS l LEFT JOIN leads_leadsource AS s ON s.id = l.source_id "
            "GROUP BY 1 ORDER BY 2 DESC"
        )
        rows = cursor.fetchall()
        print(
            "  leads by source (converted, with UTM): "
            + ", ".join(f"{name} {n:,} ({conv:,}, {utm:,})" for name, n, conv, utm in rows)
        )
        cursor.execute("SELECT status, count(*) FROM leads_lead GROUP BY 1 ORDER BY 2 DESC")
        print("  leads by status: " + ", ".join(f"{s} {n:,}" for s, n in cursor.fetchall()))
        cursor.execute(
            "SELECT count(DISTINCT utm_campaign) FILTER (WHERE utm_campaign <> ''), "
            "count(*) FILTER (WHERE converted_deal_id IS NOT NULL), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(extract(epoch FROM "
            "d.created_at - l.converted_at)) / 3600) "
            "FROM leads_lead AS l LEFT JOIN deals_deal AS d ON d.id = l.converted_deal_id"
        )
        campaigns, linked, hours = cursor.fetchone()
        print(
            f"  leads: {campaigns} UTM campaigns; {linked:,} linked to a deal, created a median "
            f"{hours or 0:.1f} h from the conversion"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=500_000)
    parser.add_argument("--activities", type=int, default=5_000_000)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500_000)
    parser.add_argument("--slug", default=SLUG, help="the organisation to fill")
    args = parser.parse_args()

    started = time.perf_counter()
    connection.set_schema_to_public()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = ensure_tenant(args.slug)
    with schema_context(tenant.schema_name):
        with transaction.atomic():
            by_role = ensure_team(args.slug)
            tag_ids = contacts_data.ensure_definitions()
            stages = ensure_pipelines()
            lead_params = ensure_lead_sources()
        owners = [
            pk for role in (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.REP) for pk in by_role[role]
        ]
        part = time.perf_counter()
        contacts_data.fill(args.contacts, args.companies, 50_000, owners, tag_ids)
        print(f"contacts and companies: {time.perf_counter() - part:.1f} s", flush=True)

        with connection.cursor() as cursor:
            before = [
                _count(cursor, t)[0] for t in ("deals_deal", "activities_activity", "leads_lead")
            ]
        # A run that broke while indexes were dropped: rebuild them before anything reads.
        rebuild_indexes()
        today = timezone.now().date()
        first_day = (today.replace(day=1) - timedelta(days=30 * SPAN_MONTHS_BACK)).replace(day=1)
        last_day = (today.replace(day=1) + timedelta(days=31 * SPAN_MONTHS_AHEAD)).replace(day=1)
        params: dict[str, Any] = {
            **stages,
            **link_targets(),
            # Fixed within a day, so that a resumed run draws like the first.
            "now": timezone.now().replace(hour=12, minute=0, second=0, microsecond=0),
            "tag_ids": tag_ids,
            "sales_share": SALES_SHARE,
            "open_age": OPEN_AGE,
            "sales_open": SALES_OPEN,
            "renewals_open": RENEWALS_OPEN,
            "sales_bounds": SALES_STAGE_BOUNDS,
            "renewals_bounds": RENEWAL_STAGE_BOUNDS,
            "products": PRODUCTS,
            "tasks": TASKS,
            "meetings": MEETINGS,
            "places": PLACES,
            "bodies": BODIES,
            "call_outcomes": CALL_OUTCOMES,
            "meeting_outcomes": MEETING_OUTCOMES,
            "first_day": first_day,
            "days": (last_day - first_day).days,
        }
        part = time.perf_counter()
        deal_owners = weighted(by_role, {Role.MANAGER: 0.5}, DEAL_REP_WEIGHTS)
        fill_deals(args.deals, args.batch, {**params, "total": args.deals, "owners": deal_owners})
        rebuild_indexes()  # the activities' links read the deals' links
        print(f"deals: {time.perf_counter() - part:.1f} s", flush=True)
        part = time.perf_counter()
        activity_owners = weighted(by_role, ACTIVITY_WEIGHT, ACTIVITY_REP_WEIGHTS)
        fill_activities(
            args.activities,
            args.batch,
            {**params, "total": args.activities, "owners": activity_owners},
        )
        print(f"activities: {time.perf_counter() - part:.1f} s", flush=True)
        part = time.perf_counter()
        rebuild_indexes()
        print(f"indexes: {time.perf_counter() - part:.1f} s", flush=True)
        part = time.perf_counter()
        # Converted leads look their deals up by owner and creation time (deal_owner_created).
        fill_leads(
            args.leads,
            args.batch,
            {**params, **lead_params, "total": args.leads, "owners": by_role[Role.REP]},
        )
        rebuild_indexes()
        print(f"leads: {time.perf_counter() - part:.1f} s", flush=True)
        with connection.cursor() as cursor:
            after = [
                _count(cursor, t)[0] for t in ("deals_deal", "activities_activity", "leads_lead")
            ]
            for table in contacts_data.TABLES:
                cursor.execute(f"ANALYZE {table}")
        if after != before:
            vacuum_analyze()
        else:
            with connection.cursor() as cursor:
                for table in BIG_TABLES + LEAD_TABLES:
                    cursor.execute(f"ANALYZE {table}")
        summary(by_role)
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
