"""The routing pages' forms: a queue with its workflow steps as repeating rows, the preview's sample work, surge mode.

They check types, ranges and the expressions' grammar (with the parser's own message, which names the
character); routing/queue_config.py and routing/surge.py check everything again when saving.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms import BaseFormSet, formset_factory
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction, Team
from tracecenter.routing import queue_config, surge
from tracecenter.routing.queues import QueueSpec, Step
from tracecenter.routing.reasons import MAX_REASON
from tracecenter.workspace.form_limits import SaysItsLimits
from tracecenter.workspace.forms import language_choices

EXPRESSION_HELP = _(
    'Such as role == "case_investigator" and languages.es >= 3. Names read the tracer (role, jurisdiction, team, '
    "languages, skills); task. reads the work (task.team, task.jurisdiction, task.language). Empty: anyone."
)
OWNER, RULE = "owner", "rule"


def _expression_field(label: Any) -> forms.CharField:
    # No length limit here: the grammar refuses more than 1,000 characters itself, and says where.
    return forms.CharField(
        label=label, required=False, strip=False, widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"})
    )


def _checked_expression(value: str) -> str:
    error = queue_config.expression_error(value)
    if error:
        raise forms.ValidationError(error)
    return value.strip()


class QueueForm(SaysItsLimits, forms.Form):
    expression = _expression_field(_("Who may take this work"))
    aging_points = forms.IntegerField(
        label=_("Priority gained every 30 minutes of waiting"), min_value=0, max_value=queue_config.MAX_AGING_POINTS
    )
    aging_cap = forms.IntegerField(
        label=_("Priority gained by waiting, at most"), min_value=0, max_value=queue_config.MAX_AGING_CAP
    )
    offer_seconds = forms.IntegerField(
        label=_("Seconds an offer waits for its answer"),
        min_value=queue_config.MIN_OFFER_SECONDS,
        max_value=queue_config.MAX_OFFER_SECONDS,
    )
    active = forms.BooleanField(
        label=_("Offer this work to tracers (unticked: nothing is offered, the work waits for a supervisor)"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expression"].help_text = EXPRESSION_HELP

    def clean_expression(self) -> str:
        return _checked_expression(self.cleaned_data.get("expression") or "")


class StepForm(SaysItsLimits, forms.Form):
    who = forms.ChoiceField(
        label=_("Who"),
        required=False,
        choices=[("", _("— no step —")), (OWNER, _("The record's owner only")), (RULE, _("Tracers the expression matches"))],
    )
    expression = _expression_field(_("Expression (empty: anyone the queue accepts)"))
    minutes = forms.IntegerField(
        label=_("Minutes before the next step (empty for the last step)"),
        required=False,
        min_value=1,
        max_value=queue_config.MAX_MINUTES,
    )
    skip_without_team = forms.BooleanField(label=_("Skipped at once for work without a team"), required=False)

    def clean_expression(self) -> str:
        return _checked_expression(self.cleaned_data.get("expression") or "")

    def step(self) -> Step | None:
        """The step this row says, None for a row left empty or marked for removal."""
        data = self.cleaned_data
        if not data or data.get("DELETE") or not data.get("who"):
            return None
        return Step(
            owner_only=data["who"] == OWNER,
            expression=data.get("expression") or "",
            minutes=data.get("minutes"),
            needs="team" if data.get("skip_without_team") else "",
        )


# Field names of the service's problems -> this row's fields.
_ROW_FIELD = {"owner_only": "who", "needs": "skip_without_team", "expression": "expression", "minutes": "minutes"}


class BaseStepFormSet(BaseFormSet):
    def clean(self) -> None:
        kept = [form for form in self.forms if not _removed(form)]
        if any(form.errors for form in kept):
            return
        unsaid = [form for form in kept if not form.cleaned_data.get("who") and _filled(form)]
        for form in unsaid:
            form.add_error("who", _("Choose who this step is for, or remove the row."))
        if unsaid:
            return
        rows = [(form, step) for form in kept if (step := form.step()) is not None]
        for index, field, message in queue_config.step_problems([step for _form, step in rows]):
            if index is None:
                raise forms.ValidationError(message)
            rows[index][0].add_error(_ROW_FIELD.get(field), message)

    def steps(self) -> list[Step]:
        return [step for form in self.forms if not _removed(form) and (step := form.step()) is not None]


def _removed(form: forms.Form) -> bool:
    return bool(getattr(form, "cleaned_data", {}).get("DELETE"))


def _filled(form: forms.Form) -> bool:
    data = getattr(form, "cleaned_data", {})
    return bool(data.get("expression") or data.get("minutes") is not None or data.get("skip_without_team"))


StepFormSet = formset_factory(
    StepForm,
    formset=BaseStepFormSet,
    extra=1,
    can_delete=True,
    max_num=queue_config.MAX_STEPS,
    validate_max=True,
    absolute_max=queue_config.MAX_STEPS,
)


def queue_initial(spec: QueueSpec) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The form's and the step rows' initial values for a queue as it stands."""
    form = {
        "expression": spec.expression,
        "aging_points": spec.aging_points,
        "aging_cap": spec.aging_cap,
        "offer_seconds": spec.offer_seconds,
        "active": spec.active,
    }
    steps = [
        {
            "who": OWNER if step.owner_only else RULE,
            "expression": step.expression,
            "minutes": step.minutes,
            "skip_without_team": step.needs == "team",
        }
        for step in spec.steps
    ]
    return form, steps


class SampleForm(forms.Form):
    """The work the preview asks about: where it is, its team, its language."""

    jurisdiction = forms.ModelChoiceField(label=_("Work in"), queryset=Jurisdiction.objects.none(), required=False)
    team = forms.ModelChoiceField(label=_("Of the team"), queryset=Team.objects.none(), required=False, empty_label=_("No team"))
    language = forms.ChoiceField(label=_("In the language"), required=False)

    def __init__(self, *args: Any, jurisdictions: QuerySet[Jurisdiction], teams: QuerySet[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["jurisdiction"].queryset = jurisdictions  # type: ignore[attr-defined]
        self.fields["jurisdiction"].empty_label = None  # type: ignore[attr-defined]
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        self.fields["team"].label_from_instance = lambda t: f"{t.name} ({t.jurisdiction.name})"  # type: ignore[attr-defined]
        self.fields["language"].choices = [("", _("The center's working language")), *language_choices()]  # type: ignore[attr-defined]


class SurgeForm(SaysItsLimits, forms.Form):
    active = forms.BooleanField(label=_("Surge mode on"), required=False)
    recent_first = forms.BooleanField(label=_("Recent cases first (symptom onset or specimen in the last days)"), required=False)
    recent_days = forms.IntegerField(label=_("Days that count as recent"), min_value=1, max_value=surge.MAX_RECENT_DAYS)
    household_first = forms.BooleanField(label=_("Household contacts first"), required=False)
    high_risk_first = forms.BooleanField(label=_("High-risk settings first (congregate living, healthcare)"), required=False)
    reason = forms.CharField(label=_("Why"), max_length=MAX_REASON)

    def rules(self) -> surge.SurgeRules:
        data = self.cleaned_data
        return surge.SurgeRules(
            recent_first=data["recent_first"],
            recent_days=data["recent_days"],
            household_first=data["household_first"],
            high_risk_first=data["high_risk_first"],
        )
