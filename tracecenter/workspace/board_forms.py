"""The forms of the supervisor's board: its filters and its three actions.

They check the shape of what is typed (a number, a state from the list, a reason of a sane length) and name the
field at fault; whether the supervisor may act on that work or that tracer is the services' question
(routing.supervision), asked with the numbers as typed, so that a refusal outside their reach is audited.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import User
from tracecenter.routing.models import AgentStateChoice, WorkKind
from tracecenter.routing.reasons import MAX_REASON
from tracecenter.routing.supervision import PRIORITY_MAX, PRIORITY_MIN
from tracecenter.workspace.form_limits import SaysItsLimits

ID_MAX = 2**31 - 1  # a record number beyond any the database holds: refused here, not by the database


def _number(label: Any, missing: Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=1,
        max_value=ID_MAX,
        error_messages={
            "required": missing,
            "invalid": _("Give the number as digits."),
            "min_value": _("Give the number as digits."),
            "max_value": _("There is no such number."),
        },
    )


def _reason() -> forms.CharField:
    # The page says above the forms that reasons are seen by others and carry no personal details.
    return forms.CharField(label=_("Reason"), max_length=MAX_REASON, error_messages={"required": _("Say why.")})


class BoardFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of work"), required=False, choices=[("", _("All kinds")), *WorkKind.choices])
    state = forms.ChoiceField(
        label=_("Tracers' state"), required=False, choices=[("", _("All states")), *AgentStateChoice.choices]
    )


def tracer_choices(tracers: QuerySet[User]) -> list[tuple[Any, Any]]:
    """The tracers to choose from, each with their state: read once for the page's two menus (a state's supervisor
    watches hundreds of tracers)."""
    states = dict(AgentStateChoice.choices)
    offline = states[AgentStateChoice.OFFLINE]
    choices: list[tuple[Any, Any]] = [("", _("Choose a tracer"))]
    for tracer in tracers.select_related("agent_status").order_by("last_name", "first_name", "pk"):
        status = getattr(tracer, "agent_status", None)
        state = states.get(status.state, status.state) if status is not None else offline
        choices.append((tracer.pk, f"{tracer.display_name} ({state})"))
    return choices


class _TracerChoice(forms.Form):
    """The tracer is chosen from the list of those the supervisor watches, and posted as their number."""

    def __init__(self, *args: Any, tracers: list[tuple[Any, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agent"].widget = forms.Select(choices=tracers)


class ForceStateForm(SaysItsLimits, _TracerChoice):
    agent = _number(_("Tracer"), _("Choose a tracer."))
    state = forms.ChoiceField(label=_("New state"), choices=AgentStateChoice.choices)
    reason = _reason()


class PriorityForm(SaysItsLimits, forms.Form):
    item = _number(_("Work number"), _("Give the number of the work."))
    priority = forms.IntegerField(
        label=_("New priority (0 to 100, higher first)"),
        min_value=PRIORITY_MIN,
        max_value=PRIORITY_MAX,
        error_messages={
            "required": _("Give the new priority."),
            "invalid": _("Give a whole number from 0 to 100."),
            "min_value": _("Give a whole number from 0 to 100."),
            "max_value": _("Give a whole number from 0 to 100."),
        },
    )
    reason = _reason()


class MoveForm(SaysItsLimits, _TracerChoice):
    item = _number(_("Work number"), _("Give the number of the work."))
    agent = _number(_("Offer it to"), _("Choose a tracer."))
