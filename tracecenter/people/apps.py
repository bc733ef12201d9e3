from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "tracecenter.people"
    label = "people"
    verbose_name = "People"
