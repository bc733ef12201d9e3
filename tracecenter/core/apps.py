from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tracecenter.core"
    label = "core"
    verbose_name = "Core"
