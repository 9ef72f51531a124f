from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "apps.contacts"
    label = "contacts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import entity

        entity.register()
