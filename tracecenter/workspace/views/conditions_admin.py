"""Administration: which conditions open cases in a jurisdiction, through which tests (cases/condition_settings.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import get_for
from tracecenter.cases import condition_settings
from tracecenter.core.errors import DomainError
from tracecenter.intake import conditions
from tracecenter.intake.models import ConditionTest
from tracecenter.workspace.views.common import signed_in


class ConditionTestForm(forms.Form):
    loinc = forms.CharField(label=gettext_lazy("LOINC code"), max_length=10, help_text=gettext_lazy("Such as 94500-6."))
    condition = forms.ChoiceField(label=gettext_lazy("Condition"), choices=conditions.CHOICES)
    kind = forms.ChoiceField(label=gettext_lazy("Kind of test"), choices=conditions.TEST_KIND_CHOICES)


def _jurisdiction(request: HttpRequest, pk: int) -> tuple[User, Jurisdiction]:
    user = signed_in(request)
    visible: QuerySet[Jurisdiction] = policy.administered(Jurisdiction.objects.all(), user, jurisdiction_field=None)
    return user, get_for(user, visible, pk, object_type="jurisdiction", capability=Capability.MANAGE_USERS)


def _page(request: HttpRequest, jurisdiction: Jurisdiction, form: ConditionTestForm, status: int = 200) -> HttpResponse:
    context = {
        "jurisdiction": jurisdiction,
        "states": condition_settings.condition_states(jurisdiction),
        "kinds": conditions.TEST_KIND_CHOICES,
        "tests": condition_settings.local_tests(jurisdiction),
        "form": form,
    }
    return render(request, "workspace/administration/conditions.html", context, status=status)


@login_required
def conditions_page(request: HttpRequest, pk: int) -> HttpResponse:
    user, jurisdiction = _jurisdiction(request, pk)
    if request.method == "POST":
        condition = request.POST.get("condition", "")
        try:
            if request.POST.get("inherit"):
                condition_settings.traced_condition_inherit(actor=user, jurisdiction=jurisdiction, condition=condition)
            else:
                condition_settings.traced_condition_set(
                    actor=user, jurisdiction=jurisdiction, condition=condition, kinds=request.POST.getlist("kinds")
                )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("%(condition)s: saved.") % {"condition": conditions.name_of(condition)})
        return redirect("workspace:admin_conditions", pk=jurisdiction.pk)
    return _page(request, jurisdiction, ConditionTestForm())


@login_required
@require_POST
def condition_test_add(request: HttpRequest, pk: int) -> HttpResponse:
    user, jurisdiction = _jurisdiction(request, pk)
    form = ConditionTestForm(request.POST)
    if form.is_valid():
        try:
            condition_settings.condition_test_add(actor=user, jurisdiction=jurisdiction, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("The test %(code)s was added.") % {"code": form.cleaned_data["loinc"].strip()})
            return redirect("workspace:admin_conditions", pk=jurisdiction.pk)
    return _page(request, jurisdiction, form, status=422)


@login_required
@require_POST
def condition_test_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    visible: QuerySet[ConditionTest] = policy.administered(ConditionTest.objects.select_related("jurisdiction"), user)
    test = get_for(user, visible, pk, object_type="condition_test", capability=Capability.MANAGE_USERS)
    condition_settings.condition_test_remove(actor=user, test=test)
    messages.success(request, _("The test %(code)s was removed.") % {"code": test.loinc})
    return redirect("workspace:admin_conditions", pk=test.jurisdiction_id)
