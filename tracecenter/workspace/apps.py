from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "tracecenter.workspace"
    label = "workspace"
    verbose_name = "Tracer workspace"
