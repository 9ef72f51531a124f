"""A new table related to contacts (set up before the timed migration)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("contacts", "0004_external_id")]

    operations = [
        migrations.CreateModel(
            name="ContactScore",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "contact",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="contacts.contact"
                    ),
                ),
                ("score", models.IntegerField(default=0)),
            ],
        ),
    ]
