from django.apps import AppConfig


class DataExportConfig(AppConfig):
    name = "apps.dataexport"
    label = "dataexport"
    verbose_name = "Data export"
    default_auto_field = "django.db.models.BigAutoField"
