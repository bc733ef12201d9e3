"""The tracer's forms: fast to fill on the phone, every error on its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Role
from tracecenter.cases import engine
from tracecenter.cases.models import CaseStatus, Symptom
from tracecenter.contacts.models import ExposureStatus, PlaceKind, Proximity, Relationship, Setting
from tracecenter.core import codes
from tracecenter.core.outcomes import CallOutcome
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
        field = self.fields["assignee"]
        field.queryset = assignees  # type: ignore[attr-defined]
        roles = {code: str(label) for code, label in Role.choices}  # worded once, not once per worker listed
        field.label_from_instance = lambda u: f"{u.display_name} ({roles.get(u.role, u.role)})"  # type: ignore[attr-defined]
        # The choices read once: a page shows them in more than one menu (a state's county has hundreds of workers),
        # and a ModelChoiceField would read the workers from the database again for each. Validation still asks
        # the queryset.
        field.choices = list(field.choices)  # type: ignore[attr-defined]


class TransferForm(SaysItsLimits, forms.Form):
    jurisdiction = forms.ModelChoiceField(label=_("Transfer to"), queryset=Jurisdiction.objects.none())
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args: Any, jurisdictions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["jurisdiction"].queryset = jurisdictions  # type: ignore[attr-defined]


# The contact's actions. Lengths are checked by the services with a message naming the limit, not by a
# `maxlength` attribute, with which a browser silently cuts what is pasted.


class ContactStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=())
    reason = forms.CharField(label=_("Reason"), strip=False)

    def __init__(self, *args: Any, statuses: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(ExposureStatus.choices)
        self.fields["status"].choices = [(value, labels[value]) for value in statuses]  # type: ignore[attr-defined]


class CallAttemptForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CallOutcome.choices)
    note = forms.CharField(label=_("Note"), required=False, strip=False, widget=forms.Textarea(attrs={"rows": 2}))


class ExposureDatesForm(forms.Form):
    last_exposure_date = forms.DateField(label=_("Last exposure"), widget=DATE)
    first_exposure_date = forms.DateField(label=_("First exposure"), required=False, widget=DATE)
    reason = forms.CharField(label=_("Reason"), strip=False)


# Filters of the work lists: codes, ids and dates only, so that a list's address (in the browser's history,
# a proxy's log) never carries anything personal.

WORK_SORTS = [
    ("priority", _("Priority (why first)")),
    ("newest", _("Newest first")),
    ("oldest", _("Oldest first")),
    ("worker", _("Worker")),
]


def _work_statuses() -> list[tuple[str, Any]]:
    seen: dict[str, Any] = dict(CaseStatus.choices)
    for value, label in ExposureStatus.choices:
        seen.setdefault(value, label)
    return [("", _("Any status")), *seen.items()]


class WorkFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=_work_statuses)
    worker = forms.ChoiceField(label=_("Worker"), required=False, choices=())
    jurisdiction = forms.ModelChoiceField(
        label=_("Jurisdiction"), required=False, queryset=Jurisdiction.objects.none(), empty_label=_("All of mine")
    )
    date_from = forms.DateField(label=_("Arrived from"), required=False, widget=DATE)
    date_to = forms.DateField(label=_("Arrived until"), required=False, widget=DATE)
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=WORK_SORTS)

    def __init__(self, *args: Any, workers: Any, jurisdictions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["worker"].choices = [  # type: ignore[attr-defined]
            ("", _("Anyone")),
            ("none", _("Unassigned")),
            *((str(u.pk), u.display_name) for u in workers),
        ]
        self.fields["jurisdiction"].queryset = jurisdictions  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("This date is before the first one."))
        return data


MAX_BULK = 200
_MAX_ID = 2**63 - 1


class RecordIds(forms.Field):
    """Record numbers ticked on a list: whole numbers, at most MAX_BULK of them."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        if len(values) > MAX_BULK:
            raise forms.ValidationError(_("Choose at most %(n)d at a time.") % {"n": MAX_BULK})
        try:
            ids = [int(v) for v in values]
        except (TypeError, ValueError):
            raise forms.ValidationError(_("These are not record numbers.")) from None
        if any(not 0 < i <= _MAX_ID for i in ids):
            raise forms.ValidationError(_("These are not record numbers."))
        return ids


class BulkAssignForm(forms.Form):
    kind = forms.ChoiceField(choices=[("cases", _("Cases")), ("contacts", _("Contacts"))])
    ids = RecordIds(label=_("Records"), error_messages={"required": _("Tick at least one row.")})
    assignee = forms.ModelChoiceField(label=_("Assign to"), queryset=User.objects.none(), required=False, empty_label=_("Nobody"))

    def __init__(self, *args: Any, assignees: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        field.queryset = assignees  # type: ignore[attr-defined]
        roles = {code: str(label) for code, label in Role.choices}  # worded once, not once per worker listed
        field.label_from_instance = lambda u: f"{u.display_name} ({roles.get(u.role, u.role)})"  # type: ignore[attr-defined]
        # The choices read once: a page shows them in more than one menu (a state's county has hundreds of workers),
        # and a ModelChoiceField would read the workers from the database again for each. Validation still asks
        # the queryset.
        field.choices = list(field.choices)  # type: ignore[attr-defined]

    def clean_ids(self) -> list[int]:
        # Which of them the user may assign is the services' question, asked of each record.
        return list(dict.fromkeys(self.cleaned_data["ids"]))


class AuditFilterForm(forms.Form):
    """The audit trail's filters: who (a staff account's user name), which record, what, when."""

    username = forms.CharField(label=_("User name"), required=False, max_length=150)
    object_type = forms.RegexField(
        label=_("Record type"),
        required=False,
        regex=r"^[a-z][a-z_.]{0,39}$",
        error_messages={"invalid": _("A record type is a short code, such as case, contact or person.")},
    )
    object_id = forms.RegexField(
        label=_("Record number"),
        required=False,
        regex=r"^[0-9A-Za-z_-]{1,40}$",
        error_messages={"invalid": _("Give the record's number.")},
    )
    action = forms.ChoiceField(label=_("Action"), required=False, choices=())
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE)
    date_to = forms.DateField(label=_("Until (inclusive)"), required=False, widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from tracecenter.audit.models import Action

        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Any action")), *Action.choices]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("This date is before the first one."))
        return data
