from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "tracecenter.contacts"
    label = "contacts"
    verbose_name = "Contacts, places and events"

    def ready(self) -> None:
        from tracecenter.contacts import handlers
        from tracecenter.contacts.models import Attendance
        from tracecenter.contacts.services import exposures_move, exposures_move_back
        from tracecenter.people.merge import Mover, fk_mover, register_mover

        handlers.register()
        # A merge of two persons moves their exposures and visits: contacts moves its own rows (and
        # refuses a merge that would put one person twice on a case).
        register_mover(Mover(label="contacts.exposure.person", move=exposures_move, move_back=exposures_move_back))
        register_mover(fk_mover(Attendance, "person"))
