from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "tracecenter.intake"
    label = "intake"
    verbose_name = "Intake and lab results"

    def ready(self) -> None:
        from tracecenter.intake import retention
        from tracecenter.intake.models import LabResult
        from tracecenter.people.merge import fk_mover, register_mover

        # A merge of two persons moves their lab results: intake moves its own rows.
        register_mover(fk_mover(LabResult, "person"))
        retention.register()
