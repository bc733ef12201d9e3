"""The administration pages' forms: they check types and choices; the services check the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction, Proficiency, Skill, Team
from tracecenter.accounts.roles import Role
from tracecenter.accounts.validation import time_zones
from tracecenter.cases.rules import MAX_DAYS, NOTE_MAX
from tracecenter.intake import conditions
from tracecenter.workspace.form_limits import SaysItsLimits
from tracecenter.workspace.forms import DATE, language_choices

NAME_MAX = 150
PLACE_MAX = 120


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(time_zones())]


class JurisdictionForm(SaysItsLimits, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=PLACE_MAX)
    code = forms.SlugField(
        label=_("Code"), max_length=40, help_text=_("Lower-case letters, digits and hyphens; feeds and reports use it.")
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices, initial="America/New_York")
    parent = forms.ModelChoiceField(label=_("Belongs to"), queryset=Jurisdiction.objects.none(), required=False)
    calling_from = forms.TimeField(
        label=_("Calls and texts from"),
        initial="09:00",
        help_text=_("In each person's own local time; routing offers calls only in these hours."),
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    calling_until = forms.TimeField(
        label=_("Calls and texts until"), initial="21:00", widget=forms.TimeInput(attrs={"type": "time"})
    )

    def __init__(self, *args: Any, parents: QuerySet[Jurisdiction] | None = None, hours: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not hours:  # set on a jurisdiction that exists (a new one takes the defaults)
            del self.fields["calling_from"], self.fields["calling_until"]
        if parents is None:  # the jurisdiction stays where it is: not the administrator's to move
            del self.fields["parent"]
        else:
            self.fields["parent"].queryset = parents  # type: ignore[attr-defined]
            self.fields["parent"].required = True


class TeamForm(SaysItsLimits, forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=PLACE_MAX)


class SkillForm(SaysItsLimits, forms.Form):
    name = forms.CharField(label=_("Skill"), max_length=PLACE_MAX)
    code = forms.SlugField(label=_("Code"), max_length=40, help_text=_("Routing rules refer to the skill by this code."))
    jurisdiction = forms.ModelChoiceField(label=_("Defined for"), queryset=Jurisdiction.objects.none())

    def __init__(self, *args: Any, jurisdictions: QuerySet[Jurisdiction], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["jurisdiction"].queryset = jurisdictions  # type: ignore[attr-defined]


class UserForm(SaysItsLimits, forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=NAME_MAX)
    last_name = forms.CharField(label=_("Last name"), max_length=NAME_MAX)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    jurisdiction = forms.ModelChoiceField(label=_("Jurisdiction"), queryset=Jurisdiction.objects.none())
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False, empty_label=_("No team"))
    skills = forms.ModelMultipleChoiceField(
        label=_("Skills"), queryset=Skill.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self,
        *args: Any,
        jurisdictions: QuerySet[Jurisdiction],
        teams: QuerySet[Team],
        skills: QuerySet[Skill],
        new: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if not new:  # the user name is kept for good: the audit trail names people by it
            del self.fields["username"]
        self.fields["jurisdiction"].queryset = jurisdictions  # type: ignore[attr-defined]
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        self.fields["team"].label_from_instance = lambda t: f"{t.name} ({t.jurisdiction.name})"  # type: ignore[attr-defined]
        self.fields["skills"].queryset = skills  # type: ignore[attr-defined]


class LanguageForm(SaysItsLimits, forms.Form):
    language = forms.ChoiceField(label=_("Language"), required=False)
    proficiency = forms.ChoiceField(label=_("How well"), choices=Proficiency.choices, initial=Proficiency.FLUENT)

    def __init__(self, *args: Any, extra_codes: tuple[tuple[str, str], ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The common interpreter languages, and any other a user already speaks (from before this list existed).
        common = language_choices()
        known = {code for code, _name in common}
        self.fields["language"].choices = [("", "—"), *common, *(c for c in extra_codes if c[0] not in known)]  # type: ignore[attr-defined]


LanguageFormSet = formset_factory(LanguageForm, extra=1, max_num=20, validate_max=True, absolute_max=20)


class RuleSetForm(SaysItsLimits, forms.Form):
    condition = forms.ChoiceField(
        label=_("Condition"),
        choices=[("", _("Every condition without its own rules")), *conditions.CHOICES],
        required=False,
        help_text=_("A condition's own rules win over the rules for every condition, here and above."),
    )
    effective_from = forms.DateField(label=_("In force from"), widget=DATE)
    days_before_onset = forms.IntegerField(label=_("Infectious days before onset"), min_value=0, max_value=MAX_DAYS, initial=2)
    days_before_specimen = forms.IntegerField(
        label=_("Infectious days before specimen (no symptoms)"), min_value=0, max_value=MAX_DAYS, initial=2
    )
    isolation_days = forms.IntegerField(label=_("Isolation days"), min_value=0, max_value=MAX_DAYS, initial=10)
    quarantine_days = forms.IntegerField(label=_("Quarantine days"), min_value=0, max_value=MAX_DAYS, initial=14)
    monitoring_days = forms.IntegerField(
        label=_("Monitoring days"),
        min_value=0,
        max_value=MAX_DAYS,
        initial=14,
        required=False,
        help_text=_("How long a contact's daily symptom check-ins last after the last exposure (14 when left empty)."),
    )

    def clean_monitoring_days(self) -> int:
        days = self.cleaned_data.get("monitoring_days")
        return 14 if days is None else int(days)

    test_based_release = forms.BooleanField(label=_("Release needs negative tests"), required=False)
    note = forms.CharField(label=_("Guidance it follows"), max_length=NOTE_MAX, required=False)


ACTIVE_CHOICES = [("", _("Active and inactive")), ("yes", _("Active")), ("no", _("Inactive"))]


class UserFilterForm(SaysItsLimits, forms.Form):
    jurisdiction = forms.ModelChoiceField(
        label=_("Jurisdiction"), queryset=Jurisdiction.objects.none(), required=False, empty_label=_("All")
    )
    role = forms.ChoiceField(label=_("Role"), choices=[("", _("All")), *Role.choices], required=False)
    active = forms.ChoiceField(label=_("Status"), choices=ACTIVE_CHOICES, required=False)

    def __init__(self, *args: Any, jurisdictions: QuerySet[Jurisdiction], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["jurisdiction"].queryset = jurisdictions  # type: ignore[attr-defined]
