"""A large organisation for the contacts benchmarks: 1,000,000 contacts, 200,000 companies.

    .venv/bin/python bench/contacts_data.py [--contacts 1000000] [--companies 200000]
                                            [--batch 100000] [--slug bench-contacts]

Provisions (or reuses) the organisation `bench-contacts` through the provisioning service,
gives it a team of 24 members besides its owner, custom field definitions (`tier` select,
`score` number, `renewal` date, for contacts and companies) and 30 tags, then fills it in
SQL, inside the organisation's schema, with `INSERT ... SELECT generate_series(...)` batches
(never the ORM row by row). Every index the migrations made stays in place and is maintained
by the inserts, as it would be in production.

Each record gets an owner among the members, custom field values valid for the definitions,
`search_text` built exactly as `refresh_search_text` builds it, a created_at spread over
three years; each contact its primary email (and phone, for most) both in its columns and as
ContactEmail/ContactPhone rows, a link to a company (for most), tags (for a fraction); the
words of every search_text go into the search dictionary, as `refresh_search_text` does.
Names are drawn from lists of first names, common surnames and composed surnames; emails
carry a number so that they are unique.

Idempotent and resumable: each batch is one transaction, and a run continues from the counts
it finds (nothing happens if they are already reached). Ends with VACUUM ANALYZE of the
tables (statistics for the planner, GIN pending lists merged, visibility map set) and a check
of a sample of records against the application's own code (search_text, custom fields).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.accounts.roles import Role  # noqa: E402
from apps.accounts.services import user_create, user_set_role  # noqa: E402
from apps.companies import services as company_services  # noqa: E402
from apps.companies.models import Company  # noqa: E402
from apps.contacts import services as contact_services  # noqa: E402
from apps.contacts.models import Contact, LifecycleStage  # noqa: E402
from apps.records import customfields, search  # noqa: E402
from apps.records import services as record_services  # noqa: E402
from apps.records.models import CustomField, FieldType, SearchWord, Tag  # noqa: E402
from tenants import provisioning  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402

SLUG = "bench-contacts"
MEMBERS = (  # role, count (besides the owner made by provisioning)
    (Role.ADMIN, 2),
    (Role.MANAGER, 4),
    (Role.REP, 16),
    (Role.READONLY, 2),
)
TIERS = ["bronze", "silver", "gold", "platinum"]
# (entity, key, label, type, options)
FIELDS = [
    (entity, key, label, kind, options)
    for entity in ("contact", "company")
    for key, label, kind, options in (
        ("tier", "Tier", FieldType.SELECT, TIERS),
        ("score", "Score", FieldType.NUMBER, []),
        ("renewal", "Renewal", FieldType.DATE, []),
    )
]
TAGS = [
    "newsletter", "customer", "prospect", "vip", "partner", "webinar", "trade-show", "churn-risk",
    "upsell", "renewal-q1", "renewal-q2", "renewal-q3", "renewal-q4", "beta", "referral",
    "enterprise", "smb", "mid-market", "decision-maker", "champion", "influencer", "billing",
    "technical", "legal", "do-not-call", "event-2025", "event-2026", "inbound", "outbound",
    "cold",
]  # fmt: skip

FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Christopher", "Karen", "Charles", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
    "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Dorothy", "Jason",
    "Rebecca", "Edward", "Sharon", "Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob", "Amy", "Gary",
    "Kathleen", "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Brenda", "Stephen", "Emma",
    "Larry", "Anna", "Justin", "Pamela", "Scott", "Nicole", "Brandon", "Samantha", "Benjamin",
    "Katherine", "Samuel", "Christine", "Gregory", "Debra", "Alexander", "Rachel", "Patrick",
    "Carolyn", "Frank", "Janet", "Raymond", "Maria", "Jack", "Olivia", "Dennis", "Heather",
    "Jerry", "Helen", "Tyler", "Catherine", "Aaron", "Diane", "Jose", "Julie", "Adam", "Victoria",
    "Nathan", "Joyce", "Henry", "Lauren", "Zachary", "Kelly", "Douglas", "Christina", "Peter",
    "Ruth", "Kyle", "Joan", "Noah", "Virginia", "Ethan", "Judith", "Jeremy", "Evelyn", "Walter",
    "Hannah", "Christian", "Andrea", "Keith", "Megan", "Roger", "Cheryl", "Terry", "Jacqueline",
    "Austin", "Madison", "Sean", "Teresa", "Gerald", "Abigail", "Carl", "Sophia", "Harold",
    "Martha", "Dylan", "Sara", "Arthur", "Gloria", "Lawrence", "Janice", "Jordan", "Kathryn",
    "Jesse", "Ann", "Bryan", "Isabella", "Billy", "Judy", "Bruce", "Charlotte", "Gabriel", "Julia",
    "Joe", "Grace", "Logan", "Amber", "Alan", "Alice", "Juan", "Jean", "Albert", "Denise",
    "Willie", "Frances", "Elijah", "Danielle", "Wayne", "Marilyn", "Randy", "Natalie", "Vincent",
    "Beverly", "Mason", "Diana", "Roy", "Brittany", "Ralph", "Theresa", "Bobby", "Kayla",
    "Russell", "Alexis", "Bradley", "Doris", "Philip", "Lori", "Eugene", "Tiffany", "Amelia",
    "Liam", "Mia", "Lucas", "Chloe", "Oliver", "Zoe", "Hugo", "Ines", "Mateo", "Lucia", "Felix",
    "Clara", "Leon", "Greta", "Matteo", "Giulia", "Luca", "Sofia", "Lars", "Ingrid", "Sven",
    "Astrid", "Pierre", "Camille", "Louis", "Manon", "Arjun", "Priya", "Rohan", "Ananya", "Wei",
    "Mei", "Hiroshi", "Yuki", "Kenji", "Aiko", "Omar", "Layla", "Yusuf", "Amira", "Diego",
    "Valentina", "Tomas", "Elena", "Mikhail", "Olga", "Piotr", "Agnieszka", "Jan", "Katarina",
    "Nikos", "Eleni", "Kwame", "Amara", "Tariq", "Nadia",
]  # fmt: skip

SURNAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera",
    "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz",
    "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
    "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed",
    "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez",
    "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell",
    "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes",
    "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander",
    "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes",
    "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray",
    "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods",
    "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker",
    "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez",
    "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks", "Holmes", "Palmer",
    "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills",
    "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto",
    "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Hawkins",
    "Arnold", "Pierce", "Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley", "Knight",
    "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson", "Carroll", "Lane", "Riley",
    "Andrews", "Alvarado", "Ray", "Delgado", "Berry", "Perkins", "Hoffman", "Johnston", "Matthews",
    "Pena", "Richards", "Contreras", "Willis", "Carpenter", "Lawrence", "Sandoval", "Guerrero",
    "George", "Chapman", "Rios", "Estrada", "Ortega", "Watkins", "Greene", "Nunez", "Wheeler",
    "Valdez", "Harper", "Burke", "Larson", "Santiago", "Maldonado", "Morrison", "Franklin",
    "Carlson", "Austin", "Dominguez", "Carr", "Lawson", "Jacobs", "O'Brien", "Lynch", "Singh",
    "Vega", "Bishop", "Montgomery", "Oliver", "Jensen", "Harvey", "Williamson", "Gilbert", "Dean",
    "Sims", "Espinoza", "Howell", "Li", "Wong", "Reid", "Hanson", "Le", "McCoy", "Garrett",
    "Burton", "Fuller", "Wang", "Weber", "Welch", "Rojas", "Lucas", "Marquez", "Fields", "Park",
    "Yang", "Little", "Banks", "Padilla", "Day", "Walsh", "Bowman", "Schultz", "Luna", "Fowler",
    "Mejia", "Davidson", "Acosta", "Brewer", "May", "Holland", "Juarez", "Newman", "Pearson",
    "Curtis", "Cortez", "Douglas", "Schneider", "Joseph", "Barrett", "Navarro", "Figueroa",
    "Keller", "Avila", "Wade", "Molina", "Stanley", "Hopkins", "Campos", "Barnett", "Bates",
    "Chambers", "Caldwell", "Beck", "Lambert", "Miranda", "Byrd", "Craig", "Ayala", "Lowe",
    "Frazier", "Powers", "Neal", "Leonard", "Gregory", "Carrillo", "Sutton", "Fleming", "Rhodes",
    "Shelton", "Schwartz", "Norris", "Jennings", "Watts", "Duran", "Walters", "Cohen", "McDaniel",
    "Moran", "Parks", "Steele", "Vaughn", "Becker", "Holt", "DeLeon", "Barker", "Terry", "Hale",
    "Leon", "Hail", "Benson", "Haynes", "Horton", "Miles", "Lyons", "Pham", "Graves", "Bush",
    "Thornton", "Wolfe", "Warner", "Cabrera", "McKinney", "Mann", "Zimmerman", "Dawson", "Lara",
    "Fletcher", "Page", "McCarthy", "Love", "Robles", "Cervantes", "Solis", "Erickson", "Reeves",
    "Chang", "Klein", "Salinas", "Fuentes", "Baldwin", "Daniel", "Simon", "Velasquez", "Hardy",
    "Higgins", "Aguirre", "Lin", "Cummings", "Chandler", "Sharp", "Barber", "Bowen", "Ochoa",
    "Dennis", "Robbins", "Liu", "Ramsey", "Francis", "Griffith", "Paul", "Blair", "Houston",
    "Mueller", "Fischer", "Kowalski", "Novak", "Rossi", "Russo", "Bianchi", "Dubois", "Lefebvre",
    "Moreau", "Laurent", "Jansen", "Visser", "Andersson", "Nilsson", "Eriksson", "Larsen",
    "Nielsen", "Virtanen", "Kowalczyk", "Nowak", "Horvat", "Papadopoulos", "Yilmaz", "Kaya",
    "Tanaka", "Suzuki", "Takahashi", "Watanabe", "Sato", "Gupta", "Sharma", "Kumar", "Reddy",
    "Iyer", "Okafor", "Adeyemi", "Mensah", "Haddad", "Khalil", "Rahman", "Hussain", "Costa",
    "Oliveira", "Pereira", "Almeida", "Ferreira", "Sousa",
]  # fmt: skip
# Composed surnames ("Ashford", "Whitmore") widen the variety beyond the common ones.
SURNAME_HEADS = [
    "Ash", "Black", "Brad", "Brook", "Cal", "Chad", "Clay", "Dal", "Don", "Ed", "Els", "Fair",
    "Fern", "Har", "Hart", "Hol", "Kings", "Lang", "Lock", "Mar", "Mid", "Mont", "Nor", "Oak",
    "Pem", "Pres", "Rad", "Ren", "Rock", "Rox", "Shel", "Stan", "Sted", "Thorn", "Wal", "War",
    "West", "Whit", "Wick", "Wins",
]  # fmt: skip
SURNAME_TAILS = [
    "ford", "field", "more", "ley", "ton", "wood", "worth", "by", "well", "ham", "bridge", "brook",
    "stone", "dale", "wick", "hurst", "ridge", "combe", "land", "shaw", "bury", "mere", "wright",
    "ing", "sby", "cott", "win", "gate", "holm", "lock", "man", "son", "den", "burn",
]  # fmt: skip
COMPANY_HEADS = [
    "Acme", "Apex", "Atlas", "Aurora", "Beacon", "Blue", "Bright", "Cascade", "Cedar", "Summit",
    "Cobalt", "Crescent", "Delta", "Eagle", "Echo", "Ember", "Evergreen", "Falcon", "Frontier",
    "Granite", "Harbor", "Horizon", "Ion", "Iron", "Juniper", "Keystone", "Lumen", "Maple",
    "Meridian", "Nimbus", "North", "Northwind", "Nova", "Oak", "Orbit", "Pacific", "Peak", "Pine",
    "Pioneer", "Prairie", "Prime", "Quantum", "Quartz", "Radiant", "Redwood", "Ridge", "River",
    "Sage", "Sapphire", "Sierra", "Silver", "Solar", "Spruce", "Starling", "Sterling", "Stone",
    "Sun", "Tidal", "Titan", "Trident", "Union", "Vantage", "Vector", "Velvet", "Vertex", "Vista",
    "Willow", "Zenith",
]  # fmt: skip
COMPANY_ROOTS = [
    "Analytics", "Bakery", "Biotech", "Brands", "Builders", "Capital", "Cargo", "Chemicals",
    "Cloud", "Consulting", "Construction", "Dynamics", "Electric", "Energy", "Engineering",
    "Foods", "Freight", "Games", "Health", "Holdings", "Hospitality", "Imaging", "Industries",
    "Insurance", "Interactive", "Labs", "Learning", "Legal", "Logistics", "Machines", "Media",
    "Medical", "Metals", "Mining", "Motors", "Networks", "Outdoor", "Packaging", "Partners",
    "Pharma", "Plastics", "Power", "Printing", "Realty", "Robotics", "Security", "Semiconductors",
    "Shipping", "Software", "Solutions", "Sports", "Studios", "Systems", "Telecom", "Textiles",
    "Therapeutics", "Tools", "Travel", "Ventures", "Vision", "Water", "Wellness", "Wireless",
    "Works",
]  # fmt: skip
COMPANY_KINDS = ["Inc", "LLC", "Ltd", "Group", "Co", "Corp", "GmbH", "AG", "SA", "plc"]
INDUSTRIES = [
    "Software", "Manufacturing", "Retail", "Healthcare", "Finance", "Education", "Logistics",
    "Construction", "Energy", "Media", "Hospitality", "Real estate", "Telecommunications",
    "Agriculture", "Automotive", "Biotechnology", "Consulting", "Legal services", "Insurance",
    "Non-profit",
]  # fmt: skip
SIZES = ["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+"]
# (city, region, country)
PLACES = [
    ("New York", "NY", "United States"), ("Los Angeles", "CA", "United States"),
    ("Chicago", "IL", "United States"), ("Houston", "TX", "United States"),
    ("Phoenix", "AZ", "United States"), ("Philadelphia", "PA", "United States"),
    ("San Antonio", "TX", "United States"), ("San Diego", "CA", "United States"),
    ("Dallas", "TX", "United States"), ("Austin", "TX", "United States"),
    ("Seattle", "WA", "United States"), ("Denver", "CO", "United States"),
    ("Boston", "MA", "United States"), ("Atlanta", "GA", "United States"),
    ("Miami", "FL", "United States"), ("Portland", "OR", "United States"),
    ("Minneapolis", "MN", "United States"), ("Nashville", "TN", "United States"),
    ("Toronto", "ON", "Canada"), ("Vancouver", "BC", "Canada"), ("Montreal", "QC", "Canada"),
    ("London", "England", "United Kingdom"), ("Manchester", "England", "United Kingdom"),
    ("Edinburgh", "Scotland", "United Kingdom"), ("Dublin", "Leinster", "Ireland"),
    ("Paris", "Ile-de-France", "France"), ("Lyon", "Auvergne-Rhone-Alpes", "France"),
    ("Berlin", "Berlin", "Germany"), ("Munich", "Bavaria", "Germany"),
    ("Hamburg", "Hamburg", "Germany"), ("Amsterdam", "North Holland", "Netherlands"),
    ("Madrid", "Madrid", "Spain"), ("Barcelona", "Catalonia", "Spain"),
    ("Milan", "Lombardy", "Italy"), ("Rome", "Lazio", "Italy"),
    ("Stockholm", "Stockholm", "Sweden"), ("Copenhagen", "Capital Region", "Denmark"),
    ("Oslo", "Oslo", "Norway"), ("Helsinki", "Uusimaa", "Finland"),
    ("Warsaw", "Masovia", "Poland"), ("Zurich", "Zurich", "Switzerland"),
    ("Vienna", "Vienna", "Austria"), ("Sydney", "NSW", "Australia"),
    ("Melbourne", "VIC", "Australia"), ("Auckland", "Auckland", "New Zealand"),
    ("Singapore", "", "Singapore"), ("Tokyo", "Tokyo", "Japan"),
    ("Bangalore", "Karnataka", "India"), ("Mumbai", "Maharashtra", "India"),
    ("Sao Paulo", "SP", "Brazil"), ("Mexico City", "CDMX", "Mexico"),
    ("Cape Town", "Western Cape", "South Africa"), ("Lagos", "Lagos", "Nigeria"),
    ("Tel Aviv", "Tel Aviv", "Israel"), ("Dubai", "Dubai", "United Arab Emirates"),
]  # fmt: skip
STREETS = [
    "Main St", "Oak Ave", "Maple Dr", "Park Rd", "High St", "Station Rd", "Church Ln",
    "Market St", "King St", "Queen St", "Elm St", "Cedar Ave", "Lake Rd", "Hill St", "Mill Ln",
]  # fmt: skip
TITLES = [
    "CEO", "CTO", "CFO", "COO", "VP Sales", "VP Marketing", "VP Engineering", "Head of Product",
    "Head of Operations", "Sales Manager", "Account Executive", "Account Manager",
    "Marketing Manager", "Product Manager", "Software Engineer", "Senior Software Engineer",
    "Data Analyst", "Operations Manager", "Procurement Manager", "Office Manager",
    "HR Manager", "Customer Success Manager", "Founder", "Director of Finance", "Buyer",
    "Consultant", "IT Manager", "Purchasing Agent", "Engineering Manager", "Designer",
]  # fmt: skip
SOURCES = ["web", "referral", "event", "import", "outbound", "partner", "inbound call", "ads"]
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "gmx.de"]
# Lifecycle stages, weighted: more leads and subscribers than customers.
STAGES = (
    [LifecycleStage.SUBSCRIBER.value] * 3
    + [LifecycleStage.LEAD.value] * 5
    + [LifecycleStage.MQL.value] * 2
    + [LifecycleStage.SQL.value] * 2
    + [LifecycleStage.OPPORTUNITY.value] * 2
    + [LifecycleStage.CUSTOMER.value] * 4
    + [LifecycleStage.EVANGELIST.value]
    + [LifecycleStage.OTHER.value]
)


def _pick(array: str, draw: str) -> str:
    """SQL: an element of the text[] parameter `array`, chosen by `draw` in [0, 1)."""
    return f"({array}::text[])[1 + floor(({draw}) * cardinality({array}::text[]))::int]"


def _spread(g: str, factor: str) -> str:
    """SQL: a well spread value in [0, 1) derived from the row number (golden-ratio style),
    for columns that need no randomness of their own."""
    return f"mod({g} * {factor}, 1)"


def _document(*parts: str) -> str:
    """SQL for search.document(): the parts that are not empty, joined by spaces, whitespace
    runs folded to one space, stripped, lower-cased."""
    joined = ", ".join(f"nullif({part}, '')" for part in parts)
    return f"lower(btrim(regexp_replace(concat_ws(' ', {joined}), '\\s+', ' ', 'g')))"


# The custom field values: `tier` on 85% (bronze 40%, silver 30%, gold 20%, platinum 10% of
# those), `score` 0-100 on 80%, `renewal` on 60% (a date from a year ago to two years ahead).
CUSTOM_FIELDS_SQL = """
jsonb_strip_nulls(jsonb_build_object(
    'tier', CASE WHEN s.r_tier < 0.85 THEN
        (ARRAY['bronze', 'silver', 'gold', 'platinum'])[
            CASE WHEN s.r_tier < 0.34 THEN 1 WHEN s.r_tier < 0.595 THEN 2
                 WHEN s.r_tier < 0.765 THEN 3 ELSE 4 END]
        END,
    'score', CASE WHEN s.r_score < 0.8 THEN floor(s.r_score / 0.8 * 101)::int END,
    'renewal', CASE WHEN s.r_renewal < 0.6 THEN
        to_char(current_date - 365 + floor(s.r_renewal / 0.6 * 1095)::int, 'YYYY-MM-DD') END
))"""

OWNER_SQL = "(%(owners)s::bigint[])[1 + floor(s.r_owner * cardinality(%(owners)s::bigint[]))::int]"
TAG_SQL = "(%(tag_ids)s::bigint[])[1 + floor(t.draw ^ 2 * cardinality(%(tag_ids)s::bigint[]))::int]"

# refresh_search_text also remembers the words of the text (search.remember_words: runs of
# 3 to 40 letters) in the dictionary typo correction looks in; the same for the batch's rows.
WORDS_SQL = """
INSERT INTO records_searchword (word)
SELECT DISTINCT w
FROM {table} AS r
JOIN bench_stage AS s ON s.id = r.id
CROSS JOIN LATERAL regexp_split_to_table(lower(concat_ws(' ', {columns})), '[^[:alpha:]]+') AS w
WHERE length(w) BETWEEN 3 AND 40
ON CONFLICT DO NOTHING
"""

# One batch of companies: row numbers start+1..stop, ids base+row number.
COMPANY_BATCH_SQL = [
    f"""
CREATE TEMP TABLE bench_stage ON COMMIT DROP AS
SELECT
    %(base)s::bigint + g AS id,
    g,
    {_pick("%(heads)s", "random()")} || ' ' || {_pick("%(roots)s", "random()")}
        || ' ' || {_pick("%(kinds)s", "random()")} AS name,
    floor(random() * %(n_places)s)::int + 1 AS place,
    random() AS r_tier, random() AS r_score, random() AS r_renewal,
    random() AS r_created, random() AS r_updated,
    random() AS r_owner, random() AS r_tags, random() AS r_tag1, random() AS r_tag2
FROM generate_series(%(start)s::bigint + 1, %(stop)s::bigint) AS g
""",
    f"""
INSERT INTO companies_company (
    id, name, domain, industry, size, phone, street, city, region, postal_code, country,
    owner_id, custom_fields, search_text, created_at, updated_at, merged_into_id, external_id
)
SELECT
    s.id, s.name, v.domain, v.industry, v.size, v.phone, v.street, v.city, v.region,
    v.postal_code, v.country, {OWNER_SQL}, {CUSTOM_FIELDS_SQL},
    {_document("s.name", "v.domain", "v.industry", "v.city", "v.country")},
    v.created_at, v.created_at + s.r_updated * (now() - v.created_at), NULL, ''
FROM bench_stage AS s
CROSS JOIN LATERAL (
    SELECT
        regexp_replace(lower(s.name), '^(\\S+) (\\S+) .*$', '\\1\\2') || s.g || '.com' AS domain,
        {_pick("%(industries)s", _spread("s.g", "0.6180339887"))} AS industry,
        {_pick("%(sizes)s", _spread("s.g", "0.7548776662"))} AS size,
        '+1' || (201 + mod(s.g, 700)) || (2000000 + mod(s.g * 7919, 8000000)) AS phone,
        (1 + mod(s.g, 9999)) || ' ' || {_pick("%(streets)s", _spread("s.g", "0.5698402910"))}
            AS street,
        (%(cities)s::text[])[s.place] AS city,
        (%(regions)s::text[])[s.place] AS region,
        lpad(mod(s.g * 7727, 100000)::text, 5, '0') AS postal_code,
        (%(countries)s::text[])[s.place] AS country,
        now() - s.r_created * interval '3 years' AS created_at
) AS v
""",
    # Tags on 20% of companies, two on a quarter of those; low tag ids are the common ones.
    f"""
INSERT INTO companies_company_tags (company_id, tag_id)
SELECT DISTINCT s.id, {TAG_SQL}
FROM bench_stage AS s
CROSS JOIN LATERAL (VALUES (1, s.r_tag1), (2, s.r_tag2)) AS t(k, draw)
WHERE s.r_tags < 0.2 AND (t.k = 1 OR s.r_tags < 0.05)
ON CONFLICT DO NOTHING
""",
    WORDS_SQL.format(
        table="companies_company",
        columns=", ".join(f"r.{c}" for c in company_services.DICTIONARY_COLUMNS),
    ),
]

# As refresh_search_text: first, last, email, every email (primary first), phone, every
# phone, title, the names of the linked companies, city.
CONTACT_DOCUMENT_SQL = _document(
    "s.first_name",
    "s.last_name",
    "s.email",
    "s.email",
    "s.second_email",
    "s.phone",
    "s.phone",
    "s.title",
    "s.company_name",
    "s.city",
)

# One batch of contacts: the random draws, then everything derived from them.
CONTACT_BATCH_SQL = [
    f"""
CREATE TEMP TABLE bench_draw ON COMMIT DROP AS
SELECT
    %(base)s::bigint + g AS id,
    g,
    {_pick("%(first)s", "random()")} AS first_name,
    CASE WHEN random() < 0.65 THEN {_pick("%(surnames)s", "random() ^ 1.5")}
         ELSE {_pick("%(heads)s", "random()")} || {_pick("%(tails)s", "random()")}
    END AS last_name,
    CASE WHEN random() < 0.85 THEN 1 + floor(random() * %(n_companies)s)::int END AS company_n,
    random() < 0.85 AS has_phone,
    random() < 0.10 AS has_second_email,
    random() < 0.30 AS has_linkedin,
    CASE WHEN random() < 0.9 THEN {_pick("%(titles)s", "random()")} ELSE '' END AS title,
    floor(random() * %(n_places)s)::int + 1 AS place,
    random() AS r_tier, random() AS r_score, random() AS r_renewal,
    random() AS r_created, random() AS r_updated, random() AS r_owner,
    random() AS r_tags, random() AS r_tag1, random() AS r_tag2, random() AS r_tag3
FROM generate_series(%(start)s::bigint + 1, %(stop)s::bigint) AS g
""",
    f"""
CREATE TEMP TABLE bench_stage ON COMMIT DROP AS
SELECT
    d.*,
    co.id AS company_id,
    co.name AS company_name,
    regexp_replace(lower(d.first_name || '.' || d.last_name), '[^a-z.]', '', 'g') || d.g
        || '@' || coalesce(co.domain, {_pick("%(free_mail)s", _spread("d.g", "0.6180339887"))})
        AS email,
    CASE WHEN d.has_second_email THEN
        regexp_replace(lower(d.first_name || d.last_name), '[^a-z]', '', 'g') || d.g
        || '@' || {_pick("%(free_mail)s", _spread("d.g", "0.7548776662"))} END AS second_email,
    CASE WHEN d.has_phone THEN
        '+1' || (201 + mod(d.g * 31, 700)) || (2000000 + mod(d.g * 104729, 8000000))
        ELSE '' END AS phone,
    (%(cities)s::text[])[d.place] AS city,
    now() - d.r_created * interval '3 years' AS created_at
FROM bench_draw AS d
LEFT JOIN bench_companies AS co ON co.n = d.company_n
""",
    f"""
INSERT INTO contacts_contact (
    id, first_name, last_name, email, phone, title, owner_id, street, city, region,
    postal_code, country, linkedin, twitter, website, source, lifecycle_stage, notes,
    custom_fields, search_text, created_at, updated_at, merged_into_id, external_id
)
SELECT
    s.id, s.first_name, s.last_name, s.email, s.phone, s.title, {OWNER_SQL},
    (1 + mod(s.g, 9999)) || ' ' || {_pick("%(streets)s", _spread("s.g", "0.5698402910"))},
    s.city, (%(regions)s::text[])[s.place], lpad(mod(s.g * 7727, 100000)::text, 5, '0'),
    (%(countries)s::text[])[s.place],
    CASE WHEN s.has_linkedin THEN 'https://www.linkedin.com/in/'
        || regexp_replace(lower(s.first_name || '-' || s.last_name), '[^a-z-]', '', 'g')
        || '-' || s.g ELSE '' END,
    '', '',
    {_pick("%(sources)s", _spread("s.g", "0.4142135624"))},
    {_pick("%(stages)s", _spread("s.g", "0.7320508076"))},
    '',
    {CUSTOM_FIELDS_SQL},
    {CONTACT_DOCUMENT_SQL},
    s.created_at, s.created_at + s.r_updated * (now() - s.created_at), NULL, ''
FROM bench_stage AS s
""",
    """
INSERT INTO contacts_contactemail (contact_id, email, label, is_primary)
SELECT id, email, 'work', true FROM bench_stage
UNION ALL
SELECT id, second_email, 'personal', false FROM bench_stage WHERE second_email IS NOT NULL
""",
    """
INSERT INTO contacts_contactphone (contact_id, number, label, is_primary)
SELECT id, phone, 'work', true FROM bench_stage WHERE phone <> ''
""",
    """
INSERT INTO contacts_contactcompany (contact_id, company_id, role, is_primary, created_at)
SELECT id, company_id, title, true, created_at FROM bench_stage WHERE company_id IS NOT NULL
""",
    # Tags on 25% of contacts, a second on 10%, a third on 3%; low tag ids are the common ones.
    f"""
INSERT INTO contacts_contact_tags (contact_id, tag_id)
SELECT DISTINCT s.id, {TAG_SQL}
FROM bench_stage AS s
CROSS JOIN LATERAL (VALUES (1, s.r_tag1), (2, s.r_tag2), (3, s.r_tag3)) AS t(k, draw)
WHERE s.r_tags < 0.25 AND (t.k = 1 OR (t.k = 2 AND s.r_tags < 0.10) OR s.r_tags < 0.03)
ON CONFLICT DO NOTHING
""",
    WORDS_SQL.format(
        table="contacts_contact",
        columns=", ".join(f"r.{c}" for c in contact_services.DICTIONARY_COLUMNS),
    ),
]


def ensure_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        result = provisioning.tenant_provision(
            slug=slug,
            name="Bench Contacts",
            owner_email=f"owner@{slug}.test",
            use_pool=False,
        )
        tenant = result.tenant
        print(f"provisioned {slug} ({result.source}, {result.seconds * 1000:.0f} ms)")
    return tenant


def ensure_team(slug: str) -> list[int]:
    """The members records are owned by (everyone but the read-only ones); their ids."""
    owner = User.objects.filter(is_superuser=True).order_by("pk").first()
    assert owner is not None, "the organisation has no owner"
    for role, count in MEMBERS:
        for index in range(1, count + 1):
            email = f"{role.value}{index:02d}@{slug}.test"
            if not User.objects.filter(email=email).exists():
                user = user_create(email=email, full_name=f"{role.label} {index}")
                user_set_role(user=user, role=role)
    readonly = [f"{Role.READONLY.value}{i:02d}@{slug}.test" for i in range(1, 10)]
    return list(
        User.objects.exclude(email__in=readonly).order_by("pk").values_list("pk", flat=True)
    )


def ensure_definitions() -> list[int]:
    """Custom field definitions and tags, through the services; the tag ids."""
    owner = User.objects.filter(is_superuser=True).order_by("pk").first()
    for entity, key, label, kind, options in FIELDS:
        if not CustomField.objects.filter(entity=entity, key=key).exists():
            record_services.customfield_create(
                actor=owner, entity=entity, key=key, label=label, type=kind, options=options
            )
    tags = record_services.tags_resolve(actor=owner, names=TAGS)
    return [tag.pk for tag in tags]


def _count(cursor: Any, table: str) -> tuple[int, int]:
    cursor.execute(f"SELECT count(*), coalesce(max(id), 0) FROM {table}")
    count, top = cursor.fetchone()
    return int(count), int(top)


def _sync_identity(cursor: Any, table: str) -> None:
    """Rows were inserted with explicit ids: move the identity past them."""
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
    )


def _run_batches(
    label: str,
    table: str,
    statements: list[str],
    target: int,
    batch: int,
    params: dict[str, Any],
) -> None:
    with connection.cursor() as cursor:
        present, _ = _count(cursor, table)
    if present >= target:
        print(f"{label}: {present:,} present, nothing to add")
        return
    started = time.perf_counter()
    first = present
    while present < target:
        stop = min(target, present + batch)
        batch_started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            _, top = _count(cursor, table)
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET LOCAL work_mem = '256MB'")
            # Reproducible data: the same batch always draws the same values.
            cursor.execute("SELECT setseed(%s)", [(stop % 1_000_003) / 1_000_003])
            values = {**params, "base": top - present, "start": present, "stop": stop}
            for statement in statements:
                cursor.execute(statement, values)
            _sync_identity(cursor, table)
        elapsed = time.perf_counter() - started
        rate = (stop - first) / elapsed
        print(
            f"{label}: {stop:,}/{target:,} (batch {time.perf_counter() - batch_started:.1f} s, "
            f"{rate:,.0f}/s, about {(target - stop) / rate:.0f} s left)",
            flush=True,
        )
        present = stop


def fill(contacts: int, companies: int, batch: int, owners: list[int], tag_ids: list[int]) -> None:
    common: dict[str, Any] = {
        "owners": owners,
        "tag_ids": tag_ids,
        "cities": [p[0] for p in PLACES],
        "regions": [p[1] for p in PLACES],
        "countries": [p[2] for p in PLACES],
        "n_places": len(PLACES),
        "streets": STREETS,
    }
    _run_batches(
        "companies",
        "companies_company",
        COMPANY_BATCH_SQL,
        companies,
        batch,
        {
            **common,
            "heads": COMPANY_HEADS,
            "roots": COMPANY_ROOTS,
            "kinds": COMPANY_KINDS,
            "industries": INDUSTRIES,
            "sizes": SIZES,
        },
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_companies")
        cursor.execute(
            "CREATE TEMP TABLE bench_companies AS SELECT row_number() OVER (ORDER BY id) AS n, "
            "id, name, domain FROM companies_company WHERE merged_into_id IS NULL"
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_companies (n)")
        cursor.execute("ANALYZE bench_companies")
        cursor.execute("SELECT count(*) FROM bench_companies")
        (n_companies,) = cursor.fetchone()
    _run_batches(
        "contacts",
        "contacts_contact",
        CONTACT_BATCH_SQL,
        contacts,
        batch,
        {
            **common,
            "n_companies": n_companies,
            "first": FIRST_NAMES,
            "surnames": SURNAMES,
            "heads": SURNAME_HEADS,
            "tails": SURNAME_TAILS,
            "titles": TITLES,
            "free_mail": FREE_MAIL,
            "sources": SOURCES,
            "stages": STAGES,
        },
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_companies")


TABLES = (
    "records_searchword",
    "companies_company",
    "companies_company_tags",
    "contacts_contact",
    "contacts_contactemail",
    "contacts_contactphone",
    "contacts_contactcompany",
    "contacts_contact_tags",
)


def vacuum_analyze() -> None:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    print(f"VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")


def check_sample(size: int = 300) -> None:
    """The application's own code agrees with the generated rows."""
    contacts = list(Contact.objects.order_by("?")[:size])
    companies = list(Company.objects.order_by("?")[:size])
    texts = [
        *(
            search.document(*(getattr(r, c) for c in contact_services.DICTIONARY_COLUMNS))
            for r in contacts
        ),
        *(
            search.document(*(getattr(r, c) for c in company_services.DICTIONARY_COLUMNS))
            for r in companies
        ),
    ]
    words = {w for text in texts for w in search.WORD.findall(text)}
    words = {w for w in words if len(w) >= 3}
    known = set(SearchWord.objects.filter(word__in=words).values_list("word", flat=True))
    assert words == known, f"words missing from the search dictionary: {sorted(words - known)}"
    for contact in contacts:
        stored = contact.search_text
        contact_services.refresh_search_text(contact)
        assert contact.search_text == stored, (contact.pk, stored, contact.search_text)
        assert customfields.clean_values("contact", contact.custom_fields) == contact.custom_fields
        assert contact.emails.filter(is_primary=True, email=contact.email).exists(), contact.pk
        if contact.phone:
            assert contact.phones.filter(is_primary=True, number=contact.phone).exists()
    for company in companies:
        stored = company.search_text
        company_services.refresh_search_text(company)
        assert company.search_text == stored, (company.pk, stored, company.search_text)
        assert customfields.clean_values("company", company.custom_fields) == company.custom_fields
    print(f"checked {size} contacts and {size} companies against the application's code: ok")


def summary() -> None:
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            print(f"  {table}: {cursor.fetchone()[0]:,} rows")
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('contacts_contact')), "
            "pg_size_pretty(pg_indexes_size('contacts_contact'))"
        )
        total, indexes = cursor.fetchone()
        print(f"  contacts_contact: {total} with {indexes} of indexes")
    print(
        f"  tags: {Tag.objects.count()}, members: {User.objects.count()}, "
        f"words in the search dictionary: {SearchWord.objects.count():,}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--companies", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--slug", default=SLUG, help="the organisation to fill")
    args = parser.parse_args()

    started = time.perf_counter()
    connection.set_schema_to_public()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = ensure_tenant(args.slug)
    with schema_context(tenant.schema_name):
        with transaction.atomic():
            owners = ensure_team(args.slug)
            tag_ids = ensure_definitions()
        with connection.cursor() as cursor:
            before = [_count(cursor, t)[0] for t in ("contacts_contact", "companies_company")]
        fill(args.contacts, args.companies, args.batch, owners, tag_ids)
        with connection.cursor() as cursor:
            after = [_count(cursor, t)[0] for t in ("contacts_contact", "companies_company")]
        if after != before:
            vacuum_analyze()
        else:
            with connection.cursor() as cursor:
                for table in TABLES:
                    cursor.execute(f"ANALYZE {table}")
        check_sample()
        summary()
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
