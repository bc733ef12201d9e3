"""The case timeline's lines, written as a code and its facts and worded when shown, in the reader's language.

A line stored as English words stayed English for a Spanish-speaking tracer (and a line written while
someone read Spanish stayed Spanish for everyone). So a line is stored as a code (`CaseActivity.code`)
and its parameters (JSON, in the encrypted `summary`: a transfer's reason or a place's name is personal),
and `activity_line` words it with gettext at display time. Lines stored before this have no code and
their text is shown as stored.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext_lazy as _

from tracecenter.cases.models import CaseStatus
from tracecenter.core.outcomes import CallOutcome
from tracecenter.intake.models import ResultClass

# code -> wording; every parameter a wording names is given by the service that writes the line. Wordings of
# names and arrows alone are not for translators (their parts are worded: the statuses, the results).
LINES: dict[str, Any] = {
    "opened_from_lab": _("Opened from lab result %(id)s"),
    "lab_added": _("Lab result %(id)s added"),
    "lab_retracted": _("Lab result %(id)s was retracted by the lab (entered in error): review whether this case stands."),
    "lab_no_longer_positive": _("Lab result %(id)s was corrected from positive to %(result)s: review whether this case stands."),
    "lab_corrected": _("Lab result %(id)s was corrected from %(previous)s to %(result)s."),
    "merged_duplicate": _(
        "Person records merged (merge %(merge)s): this person has another open case, %(others)s. Keep one and close the other."
    ),
    "status": "%(from)s → %(to)s",
    "assigned": "%(assignee)s",
    "unassigned": _("Unassigned"),
    "transferred": "%(origin)s → %(to)s: %(reason)s",
    "interview": _("%(contacts)s contacts, %(places)s places"),
    "contact_added": _("Contact %(id)s, last exposed %(date)s"),
    "place_visited": "%(place)s %(date)s",
    "attempt": _("Attempt %(number)s: %(outcome)s"),
}


def stored(code: str, **params: Any) -> str:
    """What `CaseActivity.summary` holds for a line: its parameters, as JSON."""
    if code not in LINES:
        raise ValueError(f"no wording for the timeline line {code!r}")
    return json.dumps(params, ensure_ascii=False, separators=(",", ":"), default=str)


def _worded(key: str, value: Any) -> Any:
    # Codes the reader should see in their language: case statuses and lab result classes.
    if key in {"from", "to"} and value in CaseStatus.values:
        return CaseStatus(value).label
    if key in {"previous", "result"} and value in ResultClass.values:
        return ResultClass(value).label
    if key == "outcome" and value in CallOutcome.values:
        return CallOutcome(value).label
    return value


def activity_line(code: str, summary: str) -> str:
    """The line in the active language; a line without a code is its stored text; a wiped one (retention) is empty."""
    if not code:
        return summary
    template = LINES.get(code)
    if template is None or not summary:
        return ""
    try:
        params = json.loads(summary)
        return str(template) % {key: _worded(key, value) for key, value in params.items()}
    except (ValueError, KeyError, TypeError):
        return ""  # a line written by a later release this one does not know how to word
