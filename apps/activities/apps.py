from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "apps.activities"
    label = "activities"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.records.timeline import register_source

        from . import entity, timeline

        entity.register()
        register_source(timeline.activity_items)
