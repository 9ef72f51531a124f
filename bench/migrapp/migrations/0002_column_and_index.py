"""The timed migration: a column and an index on a tenant table, twice over: through Django's
operations on the app's own model (AddField, AddIndex: what makemigrations writes), and as SQL
on the contacts table itself (a nullable column, so no table rewrite), each with its reverse."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("migrapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="contactscore",
            name="tier",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
        migrations.AddIndex(
            model_name="contactscore",
            index=models.Index(fields=["tier", "score"], name="migrapp_score_tier"),
        ),
        migrations.RunSQL(
            [
                "ALTER TABLE contacts_contact ADD COLUMN bench_rank integer",
                "CREATE INDEX contacts_contact_bench_rank ON contacts_contact (bench_rank)",
            ],
            [
                "DROP INDEX contacts_contact_bench_rank",
                "ALTER TABLE contacts_contact DROP COLUMN bench_rank",
            ],
        ),
    ]
