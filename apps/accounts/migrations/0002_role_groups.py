"""Every organisation starts with its five role groups (created in the template, so every
cloned schema has them)."""

from django.db import migrations

ROLE_GROUPS = ["Owner", "Admin", "Manager", "Sales rep", "Read-only"]


def create_groups(apps, schema_editor):  # type: ignore[no-untyped-def]
    group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        group.objects.get_or_create(name=name)
    # Organisations made before roles existed: their owners (superusers) become Owners.
    owner = group.objects.get(name="Owner")
    user = apps.get_model("accounts", "User")
    for person in user.objects.filter(is_superuser=True).exclude(groups__name__in=ROLE_GROUPS):
        person.groups.add(owner)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
