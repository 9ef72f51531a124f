from django.apps import AppConfig


class MigrappConfig(AppConfig):
    name = "bench.migrapp"
    label = "migrapp"
    default_auto_field = "django.db.models.BigAutoField"
