from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "apps.records"
    label = "records"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Records (custom fields, tags, views, timeline, merges)"
