from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tracecenter.audit"
    label = "audit"
    verbose_name = "Audit trail"
