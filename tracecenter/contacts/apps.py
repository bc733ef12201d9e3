from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "tracecenter.contacts"
    label = "contacts"
    verbose_name = "Contacts, places and events"

    def ready(self) -> None:
        from tracecenter.contacts import handlers

        handlers.register()
