from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "apps.leads"
    label = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import entity

        entity.register()
