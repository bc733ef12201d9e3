"""The tracer's forms: fast to fill on the phone, every error on its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.cases import engine
from tracecenter.cases.models import CaseStatus, Symptom
from tracecenter.contacts.models import PlaceKind, Proximity, Relationship, Setting
from tracecenter.core import codes
from tracecenter.workspace.form_limits import SaysItsLimits

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def language_choices() -> list[tuple[str, str]]:
    """The common interpreter languages, named in the user's language; called each time a form is shown."""
    return codes.language_choices(translation.get_language() or "en")


class CaseFactsForm(SaysItsLimits, forms.Form):
    asymptomatic = forms.BooleanField(label=_("No symptoms"), required=False)
    symptom_onset = forms.DateField(label=_("Symptom onset"), required=False, widget=DATE)
    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms"), choices=Symptom.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    hospitalized = forms.BooleanField(label=_("Hospitalized"), required=False)
    congregate_setting = forms.BooleanField(label=_("Lives or works in a congregate setting"), required=False)
    notes = forms.CharField(
        label=_("Interview notes"), required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 4})
    )


class VisitForm(SaysItsLimits, forms.Form):
    place_name = forms.CharField(label=_("Place"), max_length=200)
    place_kind = forms.ChoiceField(label=_("Type of place"), choices=PlaceKind.choices, initial=PlaceKind.OTHER)
    street = forms.CharField(label=_("Street address"), max_length=200, required=False)
    event_name = forms.CharField(label=_("Event (optional)"), max_length=200, required=False)
    day = forms.DateField(label=_("Date"), widget=DATE)
    arrived = forms.TimeField(label=_("From"), widget=TIME)
    left = forms.TimeField(label=_("To"), widget=TIME)


class ContactForm(SaysItsLimits, forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=200)
    last_name = forms.CharField(label=_("Last name"), max_length=200)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    date_of_birth = forms.DateField(label=_("Date of birth"), required=False, widget=DATE)
    preferred_language = forms.ChoiceField(label=_("Language"), choices=language_choices, initial="en")
    relationship = forms.ChoiceField(label=_("Relationship"), choices=Relationship.choices, initial=Relationship.OTHER)
    setting = forms.ChoiceField(label=_("Setting"), choices=Setting.choices, initial=Setting.OTHER)
    last_exposure_date = forms.DateField(label=_("Last exposure"), widget=DATE)
    proximity = forms.ChoiceField(label=_("Proximity"), choices=Proximity.choices, initial=Proximity.UNKNOWN)
    duration_minutes = forms.IntegerField(label=_("Minutes together"), required=False, min_value=0, max_value=60 * 24 * 30)


VisitFormSet = formset_factory(VisitForm, extra=0, max_num=100, validate_max=True, absolute_max=100)
ContactFormSet = formset_factory(ContactForm, extra=1, max_num=100, validate_max=True, absolute_max=100)


class StatusForm(SaysItsLimits, forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=())
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args: Any, current: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the moves the lifecycle allows from where the case is: the same rules the service checks.
        self.fields["status"].choices = [(s, CaseStatus(s).label) for s in engine.next_statuses(current)]  # type: ignore[attr-defined]


class AssignForm(SaysItsLimits, forms.Form):
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=User.objects.none(), required=False, empty_label=_("Nobody"))

    def __init__(self, *args: Any, assignees: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees  # type: ignore[attr-defined]
        self.fields["assignee"].label_from_instance = lambda u: f"{u.display_name} ({u.get_role_display()})"  # type: ignore[attr-defined]


class TransferForm(SaysItsLimits, forms.Form):
    jurisdiction = forms.ModelChoiceField(label=_("Transfer to"), queryset=Jurisdiction.objects.none())
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args: Any, jurisdictions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["jurisdiction"].queryset = jurisdictions  # type: ignore[attr-defined]
