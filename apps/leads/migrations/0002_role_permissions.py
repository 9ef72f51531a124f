"""What each role may do with leads out of the box; Admins adjust it in Settings → Roles."""

from django.db import migrations

DEFAULTS = {
    "Admin": ["add", "change", "delete", "view"],
    "Manager": ["add", "change", "delete", "view"],
    "Sales rep": ["add", "change", "delete", "view"],
    "Read-only": ["view"],
}


def grant(apps, schema_editor):  # type: ignore[no-untyped-def]
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make them now to grant them.
    config = apps.get_app_config("leads")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    group = apps.get_model("auth", "Group")
    permission = apps.get_model("auth", "Permission")
    for name, actions in DEFAULTS.items():
        role, _ = group.objects.get_or_create(name=name)
        role.permissions.add(*permission.objects.filter(
            content_type__app_label="leads",
            codename__in=[f"{action}_lead" for action in actions],
        ))


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial"), ("accounts", "0002_role_groups")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
