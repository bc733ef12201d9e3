from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "tracecenter.workspace"
    label = "workspace"
    verbose_name = "Tracer workspace"

    def ready(self) -> None:
        # Every screen module, so that the panels and live updates they register exist before a page asks.
        from tracecenter.workspace import live, live_board
        from tracecenter.workspace.views import (  # noqa: F401
            administration,
            audit,
            cases,
            contacts,
            intake,
            people,
            privacy,
            system,
            work,
        )

        live.register()
        live_board.register()
