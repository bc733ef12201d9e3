"""What the engine's rule violations say to a user, in the user's language.

The engine is plain Python and speaks English for logs; every caller that shows a
violation to a person goes through `rule_error`, so a new rule is translated once.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from tracecenter.cases.engine import RuleViolation
from tracecenter.core.errors import DomainError

MESSAGES = {
    "no_reference_date": _("A case needs a symptom onset date or a specimen collection date."),
    "onset_in_future": _("Symptom onset cannot be in the future."),
    "specimen_in_future": _("Specimen collection cannot be in the future."),
    "onset_after_release": _("Symptom onset cannot be after the case was released from isolation."),
    "exposure_in_future": _("The last exposure cannot be in the future."),
    "first_after_last": _("The first exposure is after the last exposure."),
    "exposure_before_infectious": _("The last exposure is before the case's infectious period (which starts %(date)s)."),
    "exposure_after_infectious": _("The last exposure is after the case's infectious period (which ends %(date)s)."),
    "unknown_status": _("%(status)s is not a case status."),
    "transition_refused": _("A case cannot go from %(from)s to %(to)s."),
}


def rule_message(exc: RuleViolation) -> str:
    template = MESSAGES.get(exc.code)
    if template is None:  # a rule added to the engine without a message here still says something true
        return str(exc)
    return str(template) % exc.params if exc.params else str(template)


def rule_error(exc: RuleViolation, *, field: str | None = None) -> DomainError:
    """The DomainError to raise for `exc`, on `field` or on the field the engine named."""
    return DomainError(rule_message(exc), field=field or exc.field)
