from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "tracecenter.contacts"
    label = "contacts"
    verbose_name = "Contacts, places and events"

    def ready(self) -> None:
        from tracecenter.contacts import handlers, retention
        from tracecenter.contacts.models import Attendance, Exposure
        from tracecenter.people.merge import fk_mover, register_mover

        handlers.register()
        # A merge of two persons moves their exposures and visits: contacts moves its own rows.
        register_mover(fk_mover(Exposure, "person"))
        register_mover(fk_mover(Attendance, "person"))
        retention.register()
