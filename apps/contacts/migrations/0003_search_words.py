"""Fill the search dictionary from the records that exist already."""

from django.db import migrations

WORDS = """
INSERT INTO records_searchword (word)
SELECT DISTINCT w FROM (
    SELECT regexp_split_to_table(lower(concat_ws(' ', {columns})), '[^[:alpha:]]+') AS w
    FROM {table}
) words
WHERE length(w) BETWEEN 3 AND 40
ON CONFLICT DO NOTHING
"""


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_role_permissions"),
        ("companies", "0003_records"),
        ("records", "0002_search_words"),
    ]

    operations = [
        migrations.RunSQL(
            WORDS.format(table="companies_company", columns="name, industry, city, country"),
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            WORDS.format(
                table="contacts_contact", columns="first_name, last_name, title, city, country"
            ),
            migrations.RunSQL.noop,
        ),
    ]
