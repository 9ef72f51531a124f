from django.apps import AppConfig


class CompaniesConfig(AppConfig):
    name = "apps.companies"
    label = "companies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import entity

        entity.register()
