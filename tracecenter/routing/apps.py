from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "tracecenter.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from django.db.models import Q

        from tracecenter.accounts import policy
        from tracecenter.routing import handlers, jobs, surge  # noqa: F401 (jobs, surge: periodic jobs declared when imported)
        from tracecenter.routing.models import WorkStatus

        handlers.register()
        # Whoever holds accepted work on a record sees it while the work is open (docs/ownership.md).
        policy.register_holder("cases.case", lambda user: Q(work_items__holder=user, work_items__status=WorkStatus.ACCEPTED))
        policy.register_holder(
            "contacts.exposure", lambda user: Q(work_items__holder=user, work_items__status=WorkStatus.ACCEPTED)
        )
