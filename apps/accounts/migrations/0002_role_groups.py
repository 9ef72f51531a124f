"""Every organisation starts with its five role groups (created in the template, so every
cloned schema has them)."""

from django.db import migrations

ROLE_GROUPS = ["Owner", "Admin", "Manager", "Sales rep", "Read-only"]


def create_groups(apps, schema_editor):  # type: ignore[no-untyped-def]
    group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
