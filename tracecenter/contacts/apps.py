from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "tracecenter.contacts"
    label = "contacts"
    verbose_name = "Contacts, places and events"

    def ready(self) -> None:
        from tracecenter.accounts import policy
        from tracecenter.contacts import handlers, retention
        from tracecenter.contacts.models import Attendance
        from tracecenter.contacts.selectors import case_linked_to, exposure_assigned_to
        from tracecenter.contacts.services import exposures_move, exposures_move_back
        from tracecenter.people.merge import Mover, fk_mover, register_mover

        handlers.register()
        policy.register_record("contacts.exposure", policy.RecordType(assigned=exposure_assigned_to))
        # Whoever follows a contact sees its case through it, in part: its dates, not its person.
        policy.register_link("cases.case", case_linked_to)
        # A merge of two persons moves their exposures and visits: contacts moves its own rows (and
        # refuses a merge that would put one person twice on a case).
        register_mover(Mover(label="contacts.exposure.person", move=exposures_move, move_back=exposures_move_back))
        register_mover(fk_mover(Attendance, "person"))
        retention.register()
