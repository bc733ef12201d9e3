from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "tracecenter.intake"
    label = "intake"
    verbose_name = "Intake and lab results"
