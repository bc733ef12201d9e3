"""The case's screens: the case page, the interview, status, assignment, transfer."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracecenter.accounts import policy
from tracecenter.accounts.models import User, Viewer
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import get_for
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.cases import engine
from tracecenter.cases.models import Case, CaseActivity, Symptom
from tracecenter.cases.rule_messages import rule_message
from tracecenter.cases.selectors import case_assignees, case_transfer_targets, cases_from_intake_batch, cases_permitted
from tracecenter.cases.services import CaseFacts, case_assign, case_change_status, case_preview_dates, case_transfer
from tracecenter.contacts.interview import ContactInput, InterviewError, VisitInput, interview_record
from tracecenter.contacts.selectors import exposures_visible_to
from tracecenter.contacts.services import ExposureInput, PlaceInput
from tracecenter.core.errors import DomainError
from tracecenter.intake.models import IntakeBatch
from tracecenter.people.models import ContactPoint
from tracecenter.people.services import PersonInput
from tracecenter.workspace import forms, panels
from tracecenter.workspace.error_summary import interview_summary
from tracecenter.workspace.views.common import signed_in
from tracecenter.workspace.views.desk import held_work

_CASE_PAGE_RELATED = ("person", "jurisdiction", "owner", "team", "rules")


def case_queryset(user: Viewer, act: policy.Act = policy.Act.READ) -> QuerySet[Case]:
    """The cases on which `user` may `act`, with what the case's pages show."""
    return cases_permitted(user, act).select_related(*_CASE_PAGE_RELATED)


def _timeline(case: Case) -> list[CaseActivity]:
    return list(case.activities.select_related("actor").order_by("-at", "-pk")[:200])


def _symptom_labels(case: Case) -> list[str]:
    labels = dict(Symptom.choices)
    return [str(labels.get(code, code)) for code in case.symptoms or []]


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    # Fetched with what the policy lets this user do with it (no query more): a tracer who only follows
    # a contact of the case sees its summary, the others the whole case.
    case = get_for(user, policy.with_acts(Case.objects.all(), user).select_related(*_CASE_PAGE_RELATED), pk, object_type="case")
    allowed = policy.acts(user, case)
    exposures = list(exposures_visible_to(user).filter(case=case).select_related("person").order_by("-last_exposure_date", "pk"))
    if policy.Act.READ not in allowed:
        return render(request, "workspace/case_summary.html", {"case": case, "exposures": exposures})
    points = list(case.person.contact_points.all())  # ordered by kind and rank
    attendances = list(case.attendances.select_related("place", "event").order_by("arrived_at"))
    can_assign = policy.Act.ASSIGN in allowed
    context = {
        "case": case,
        "person": case.person,
        "phones": [cp for cp in points if cp.kind == ContactPoint.Kind.PHONE],
        "emails": [cp for cp in points if cp.kind == ContactPoint.Kind.EMAIL],
        "lab_results": list(case.lab_results.all()),
        "symptom_labels": _symptom_labels(case),
        "timeline": _timeline(case),
        "exposures": exposures,
        "attendances": attendances,
        "can_edit": policy.Act.EDIT in allowed,
        "can_assign": can_assign,
        "status_form": forms.StatusForm(current=case.status),
        "assign_form": forms.AssignForm(assignees=case_assignees(case), initial={"assignee": case.owner_id})
        if can_assign
        else None,
        "transfer_form": forms.TransferForm(jurisdictions=case_transfer_targets(case)) if can_assign else None,
        **held_work(user, case_id=case.pk),
    }
    return render(request, "workspace/case_detail.html", context)


def _edit_case(request: HttpRequest, pk: int, act: policy.Act = policy.Act.EDIT) -> Case:
    """The case, if the user may `act` on it (refused, and audited, otherwise)."""
    user = signed_in(request)
    return get_for(user, case_queryset(user, act), pk, object_type="case", capability=policy.needs(act))


@login_required
@require_POST
def case_status(request: HttpRequest, pk: int) -> HttpResponse:
    case = _edit_case(request, pk)
    form = forms.StatusForm(request.POST, current=case.status)
    if form.is_valid():
        try:
            case_change_status(
                actor=signed_in(request), case=case, to_status=form.cleaned_data["status"], reason=form.cleaned_data["reason"]
            )
            messages.success(request, _("Status changed."))
        except DomainError as exc:
            messages.error(request, exc.message)
    elif "status" in form.errors and form.data.get("status"):
        # A move the lifecycle does not allow from here (a stale page, a forged post): say so, not "choose a status".
        messages.error(
            request,
            _("A case that is %(status)s cannot go to that status: choose one the list offers, and give the reason.")
            % {"status": case.get_status_display()},
        )
    else:
        messages.error(request, _("Choose a status and give the reason."))
    return redirect("workspace:case_detail", pk=case.pk)


@login_required
@require_POST
def case_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = _edit_case(request, pk, policy.Act.ASSIGN)
    form = forms.AssignForm(request.POST, assignees=case_assignees(case))
    if form.is_valid():
        try:
            case_assign(actor=signed_in(request), case=case, assignee=form.cleaned_data["assignee"])
            messages.success(request, _("Assignment saved."))
        except DomainError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("Choose someone from the list."))
    return redirect("workspace:case_detail", pk=case.pk)


@login_required
@require_POST
def case_transfer_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = _edit_case(request, pk, policy.Act.ASSIGN)
    form = forms.TransferForm(request.POST, jurisdictions=case_transfer_targets(case))
    if form.is_valid():
        try:
            case_transfer(
                actor=signed_in(request), case=case, to=form.cleaned_data["jurisdiction"], reason=form.cleaned_data["reason"]
            )
            messages.success(request, _("Case transferred."))
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("workspace:case_detail", pk=case.pk)
        # The case may now be outside this supervisor's jurisdiction.
        return redirect("workspace:my_work")
    messages.error(request, _("Choose a jurisdiction and give the reason."))
    return redirect("workspace:case_detail", pk=case.pk)


def _facts(form: forms.CaseFactsForm) -> CaseFacts:
    data = form.cleaned_data
    return CaseFacts(
        symptom_onset=data["symptom_onset"],
        asymptomatic=data["asymptomatic"],
        symptoms=list(data["symptoms"]),
        hospitalized=data["hospitalized"],
        congregate_setting=data["congregate_setting"],
        notes=data["notes"],
    )


def _visits(formset: Any) -> list[VisitInput]:
    visits = []
    for form in formset:
        if not form.has_changed():
            continue
        d = form.cleaned_data
        visits.append(
            VisitInput(
                place=PlaceInput(name=d["place_name"], kind=d["place_kind"], street=d["street"]),
                day=d["day"],
                arrived=d["arrived"],
                left=d["left"],
                event_name=d["event_name"],
            )
        )
    return visits


def _contacts(formset: Any) -> list[ContactInput]:
    contacts = []
    for form in formset:
        if not form.has_changed():
            continue
        d = form.cleaned_data
        person = PersonInput(
            first_name=d["first_name"],
            last_name=d["last_name"],
            date_of_birth=d["date_of_birth"],
            phones=[d["phone"]] if d["phone"] else [],
            preferred_language=d["preferred_language"],
        )
        exposure = ExposureInput(
            last_exposure_date=d["last_exposure_date"],
            setting=d["setting"],
            proximity=d["proximity"],
            duration_minutes=d["duration_minutes"],
            relationship=d["relationship"],
        )
        contacts.append(ContactInput(person=person, exposure=exposure))
    return contacts


def _attach_errors(exc: InterviewError, facts: Any, visits: Any, contacts: Any) -> None:
    for error in exc.errors:
        target = {"visits": visits, "contacts": contacts}.get(error.section or "")
        row = error.row
        form = target.forms[row] if target is not None and row is not None and row < len(target.forms) else facts
        field = error.field if error.field in form.fields else None
        form.add_error(field, error.message)


@login_required
def interview(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    case = get_for(user, case_queryset(user, policy.Act.EDIT), pk, object_type="case", capability=Capability.EDIT_RECORDS)
    if request.method == "POST":
        facts_form = forms.CaseFactsForm(request.POST, prefix="case")
        visit_formset = forms.VisitFormSet(request.POST, prefix="visits")
        contact_formset = forms.ContactFormSet(request.POST, prefix="contacts")
        if all([facts_form.is_valid(), visit_formset.is_valid(), contact_formset.is_valid()]):
            try:
                interview_record(
                    actor=user,
                    case=case,
                    facts=_facts(facts_form),
                    visits=_visits(visit_formset),
                    contacts=_contacts(contact_formset),
                )
            except InterviewError as exc:
                _attach_errors(exc, facts_form, visit_formset, contact_formset)
            else:
                messages.success(request, _("Interview saved."))
                return redirect("workspace:case_detail", pk=case.pk)
        # Every form is checked (not only up to the first with an error): the summary lists every error at once.
        errors = interview_summary(facts_form, visit_formset, contact_formset)
        status = 422
    else:
        facts_form = forms.CaseFactsForm(
            prefix="case",
            initial={
                "asymptomatic": case.asymptomatic,
                "symptom_onset": case.symptom_onset,
                "symptoms": case.symptoms,
                "hospitalized": case.hospitalized,
                "congregate_setting": case.congregate_setting,
                "notes": case.interview_notes,
            },
        )
        visit_formset = forms.VisitFormSet(prefix="visits")
        contact_formset = forms.ContactFormSet(prefix="contacts")
        errors = []
        audit_record(
            actor=user,
            action=Action.READ,
            object_type="case",
            object_id=case.pk,
            jurisdiction_id=case.jurisdiction_id,
            detail="interview form",
        )
        status = 200
    return render(
        request,
        "workspace/interview.html",
        {
            "case": case,
            "person": case.person,
            "facts_form": facts_form,
            "visit_formset": visit_formset,
            "contact_formset": contact_formset,
            # What earlier interviews recorded: reopening the interview shows them, so nobody enters them twice.
            "recorded_exposures": list(
                exposures_visible_to(user).filter(case=case).select_related("person").order_by("-last_exposure_date", "pk")
            ),
            "recorded_attendances": list(case.attendances.select_related("place", "event").order_by("arrived_at")),
            "error_summary": errors,
        },
        status=status,
    )


@login_required
@require_POST
def derived_dates(request: HttpRequest, pk: int) -> JsonResponse:
    """The infectious period and isolation end the typed onset would give, before saving."""
    user = signed_in(request)
    case = get_for(
        user, case_queryset(user, policy.Act.EDIT), pk, object_type="case", capability=Capability.EDIT_RECORDS, audit=False
    )
    form = forms.CaseFactsForm(request.POST, prefix="case")
    form.is_valid()
    if "symptom_onset" in form.errors:
        # A date the browser let through half typed: say so, rather than count from the specimen as if it were empty.
        why = _("Cannot compute: %(reason)s") % {"reason": " ".join(str(e) for e in form.errors["symptom_onset"])}
        return JsonResponse({"error": why, "field": "symptom_onset"}, status=422)
    onset = form.cleaned_data.get("symptom_onset")
    try:
        dates = case_preview_dates(case=case, symptom_onset=onset, asymptomatic=bool(form.cleaned_data.get("asymptomatic")))
    except engine.RuleViolation as exc:
        why = _("Cannot compute: %(reason)s") % {"reason": rule_message(exc)}
        return JsonResponse({"error": why, "field": exc.field}, status=422)
    return JsonResponse(
        {
            "infectious_start": dates.infectious_start.isoformat(),
            "infectious_end": dates.infectious_end.isoformat(),
            "isolation_end": dates.isolation_end.isoformat(),
        }
    )


def _cases_from_batch(user: User, batch: IntakeBatch) -> dict[str, Any] | None:
    # Read from what exists: the workers open cases from the positives after intake is done with them.
    return {"count": cases_from_intake_batch(batch.pk).count()}


panels.register(
    panels.Panel(slot="intake_batch", name="cases", template="workspace/panels/cases_from_batch.html", context=_cases_from_batch)
)
