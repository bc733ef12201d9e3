from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "tracecenter.cases"
    label = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        from tracecenter.accounts import policy
        from tracecenter.cases import handlers, retention
        from tracecenter.cases.models import Case
        from tracecenter.cases.selectors import case_assigned_to
        from tracecenter.people.merge import fk_mover, register_mover

        handlers.register()
        policy.register_record("cases.case", policy.RecordType(assigned=case_assigned_to))
        register_mover(fk_mover(Case, "person"))  # a merge of two persons moves their cases
        retention.register()
