from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "apps.deals"
    label = "deals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import entity

        entity.register()
