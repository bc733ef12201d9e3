from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "tracecenter.cases"
    label = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        from tracecenter.cases import handlers

        handlers.register()
