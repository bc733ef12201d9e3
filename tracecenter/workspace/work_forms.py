"""The forms of the tracer's live workspace: their state, an offer declined, an attempt wrapped up."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from tracecenter.core.outcomes import CallOutcome
from tracecenter.routing.models import AgentStateChoice
from tracecenter.routing.reasons import MAX_REASON


class AgentStateForm(forms.Form):
    state = forms.ChoiceField(label=_("My state"), choices=AgentStateChoice.choices)
    reason = forms.CharField(label=_("Why (optional)"), required=False, max_length=MAX_REASON)


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Why do you decline it?"), max_length=MAX_REASON)


class WrapUpForm(forms.Form):
    disposition = forms.ChoiceField(label=_("How did it go?"), choices=[("", "—"), *CallOutcome.choices])
    callback_at = forms.CharField(
        label=_("Call back at"),
        required=False,
        max_length=32,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}),
    )

    def __init__(self, *args: Any, zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.fields["callback_at"].help_text = _(
            "In the person's local time (%(zone)s). Needed when they asked to be called back; "
            "otherwise the next try follows the calling plan."
        ) % {"zone": zone}

    def clean_callback_at(self) -> dt.datetime | None:
        """A local date and time as the browser sends it (2026-12-02T17:30[:00]), in the person's time zone."""
        text = self.cleaned_data["callback_at"].strip()
        if not text:
            return None
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError(_("Enter a date and time like 2026-12-02 17:30.")) from None
        if moment.tzinfo is not None:
            raise forms.ValidationError(_("Enter a local date and time, without a time zone."))
        return moment.replace(tzinfo=ZoneInfo(self.zone))
