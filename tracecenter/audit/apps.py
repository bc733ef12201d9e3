from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tracecenter.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.core import checks

        from tracecenter.audit import jobs  # noqa: F401  (declares the sealing job)
        from tracecenter.audit.checks import audit_retention
        from tracecenter.audit.services import audit_record
        from tracecenter.core import trail

        # Apps below the audit trail (accounts) write to it through this seam.
        trail.install(audit_record)
        checks.register(audit_retention)
