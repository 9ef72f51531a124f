from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "apps.leads"
    label = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.records import timeline

        from . import entity
        from .conversion import lead_history_source

        entity.register()
        timeline.register_source(lead_history_source)
