"""The forms of the person pages: search, edit, a reported case, a contact added directly.

Fields check their size and type; what a value means (a real phone, a known language, a name with
a letter) is checked by the same services the API calls, and their errors land on these fields.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tracecenter.cases.reporting import ReportSource
from tracecenter.contacts.models import Proximity, Relationship, Setting
from tracecenter.intake import conditions
from tracecenter.people.models import Sex
from tracecenter.people.search import MAX_NAME, MAX_PHONE
from tracecenter.people.services import MAX_TEXT
from tracecenter.workspace.forms import DATE, language_choices

MAX_CONTACT_POINTS = 10
MAX_LINES = 2_000  # characters of a list of phones or e-mails, one a line


class PersonSearchForm(forms.Form):
    last_name = forms.CharField(label=_("Last name"), max_length=MAX_NAME, required=False)
    first_name = forms.CharField(label=_("First name"), max_length=MAX_NAME, required=False)
    date_of_birth = forms.DateField(label=_("Date of birth"), required=False, widget=DATE)
    phone = forms.CharField(label=_("Phone"), max_length=MAX_PHONE, required=False)
    case_number = forms.IntegerField(label=_("Case number"), required=False, min_value=1, max_value=2**62)
    contact_number = forms.IntegerField(label=_("Contact number"), required=False, min_value=1, max_value=2**62)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000, widget=forms.HiddenInput)


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class PersonIdentityFields(forms.Form):
    """A person as entered: the fields `people.services.PersonInput` takes."""

    first_name = forms.CharField(label=_("First name"), max_length=MAX_TEXT)
    middle_name = forms.CharField(label=_("Middle name"), max_length=MAX_TEXT, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=MAX_TEXT)
    date_of_birth = forms.DateField(label=_("Date of birth"), required=False, widget=DATE)
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, initial=Sex.UNKNOWN)
    preferred_language = forms.ChoiceField(label=_("Preferred language"), choices=language_choices, initial="en")
    phones = forms.CharField(
        label=_("Phones (one a line)"), max_length=MAX_LINES, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    emails = forms.CharField(
        label=_("E-mail addresses (one a line)"), max_length=MAX_LINES, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    street = forms.CharField(label=_("Street address"), max_length=MAX_TEXT, required=False)
    city = forms.CharField(label=_("City"), max_length=MAX_TEXT, required=False)
    state = forms.CharField(label=_("State"), max_length=2, required=False)
    postal_code = forms.CharField(label=_("Postal code"), max_length=10, required=False)

    def clean_phones(self) -> list[str]:
        phones = _lines(self.cleaned_data["phones"])
        if len(phones) > MAX_CONTACT_POINTS:
            raise forms.ValidationError(_("At most %(n)d phone numbers.") % {"n": MAX_CONTACT_POINTS})
        return phones

    def clean_emails(self) -> list[str]:
        emails = _lines(self.cleaned_data["emails"])
        if len(emails) > MAX_CONTACT_POINTS:
            raise forms.ValidationError(_("At most %(n)d e-mail addresses.") % {"n": MAX_CONTACT_POINTS})
        return emails


class PersonEditForm(PersonIdentityFields):
    pass


class ChosenOrEnteredPerson(PersonIdentityFields):
    """A person chosen from the search (`person`, a record id) or entered (the identity fields)."""

    person = forms.IntegerField(required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput)

    def __init__(self, *args: Any, chosen: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if chosen:  # a person found by the search: nothing to enter
            for name in PersonIdentityFields.base_fields:
                self.fields[name].required = False

    def identity_fields(self) -> list[forms.BoundField]:
        """The fields of a person entered (shown when none was chosen)."""
        return [self[name] for name in PersonIdentityFields.base_fields]


class CaseReportForm(ChosenOrEnteredPerson):
    """A reported case: its source and dates, and its person."""

    condition = forms.ChoiceField(label=_("Condition"), choices=conditions.CHOICES, initial="covid-19")
    source = forms.ChoiceField(label=_("Reported by"), choices=ReportSource.choices, initial=ReportSource.PHONE)
    reporter = forms.CharField(label=_("Provider or caller (optional for a call)"), max_length=200, required=False)
    specimen_collection_date = forms.DateField(label=_("Specimen collection date"), required=False, widget=DATE)
    symptom_onset = forms.DateField(label=_("Symptom onset"), required=False, widget=DATE)


class ContactAddForm(ChosenOrEnteredPerson):
    """A person exposed to a case, added directly (not through the interview)."""

    relationship = forms.ChoiceField(label=_("Relationship"), choices=Relationship.choices, initial=Relationship.OTHER)
    setting = forms.ChoiceField(label=_("Setting"), choices=Setting.choices, initial=Setting.OTHER)
    last_exposure_date = forms.DateField(label=_("Last exposure"), widget=DATE)
    proximity = forms.ChoiceField(label=_("Proximity"), choices=Proximity.choices, initial=Proximity.UNKNOWN)
    duration_minutes = forms.IntegerField(label=_("Minutes together"), required=False, min_value=0, max_value=60 * 24 * 30)
