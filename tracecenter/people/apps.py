from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "tracecenter.people"
    label = "people"
    verbose_name = "People"

    def ready(self) -> None:
        from tracecenter.audit import retention, selectors
        from tracecenter.people.models import Person
        from tracecenter.people.retention import PERSONS

        retention.register(PERSONS)
        # The person, and the records merged into them (read before the merge, they were the same person).
        selectors.register_person_records(
            "person", lambda pk: [pk, *Person.objects.filter(merged_into_id=pk).values_list("pk", flat=True)]
        )
