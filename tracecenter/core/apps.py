from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tracecenter.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from tracecenter.core import jobs  # noqa: F401  (declares the platform's periodic jobs)
