from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "apps.activities"
    label = "activities"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import entity

        entity.register()
