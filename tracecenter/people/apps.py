from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "tracecenter.people"
    label = "people"
    verbose_name = "People"

    def ready(self) -> None:
        from tracecenter.audit import retention
        from tracecenter.people.retention import PERSONS

        retention.register(PERSONS)
