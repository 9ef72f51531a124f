"""Search needs trigram similarity and accent folding; extensions live in the public schema,
which every tenant's search path includes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE EXTENSION IF NOT EXISTS unaccent;",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
