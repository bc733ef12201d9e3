"""Start-up checks of the audit trail's settings: a trail kept shorter than a record is refused before anything runs.

Periods set in the database (`RetentionRule`) are checked where they are set (`retention.rule_set`) and
again by the retention command; here, the record types' defaults, which are known at start-up.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

# HIPAA keeps documentation six years (45 CFR 164.316(b)(2)); the audit trail is part of it.
HIPAA_DAYS = 6 * 365


def audit_retention(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from tracecenter.audit.retention import record_types

    days = settings.AUDIT_RETENTION_DAYS
    longest = max(record_types().values(), key=lambda t: t.default_days, default=None)
    if days < 1:
        return [checks.Error(f"AUDIT_RETENTION_DAYS must be at least 1 day, not {days}.", id="audit.E001")]
    if longest is not None and days < longest.default_days:
        return [
            checks.Error(
                f"AUDIT_RETENTION_DAYS is {days} days, shorter than the {longest.default_days} days {longest.name} is "
                "kept by default: the audit trail must outlive every record it is about.",
                hint=f"Set AUDIT_RETENTION_DAYS to {max(longest.default_days, HIPAA_DAYS)} or more.",
                id="audit.E001",
            )
        ]
    if days < HIPAA_DAYS:
        return [
            checks.Warning(
                f"AUDIT_RETENTION_DAYS is {days} days, less than the six years ({HIPAA_DAYS} days) HIPAA asks "
                "documentation to be kept.",
                hint="Keep it shorter only where the law that applies to the center allows it.",
                id="audit.W001",
            )
        ]
    return []
