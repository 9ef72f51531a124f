from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "apps.deals"
    label = "deals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.records.timeline import register_source

        from . import entity, timeline

        entity.register()
        register_source(timeline.stage_items)
