"""The person pages: find a person, see one person with every record of theirs the user may see, correct
them, report a case by telephone or from a provider, add a contact to a case directly.

Every person comes through the access policy (`contacts.persons`), every read of one is audited
(a search writes one entry for the search and one per person shown), and searches are POSTed, so
no name, phone or birth date is ever in a URL.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import get_for, require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.cases.models import Case
from tracecenter.cases.reporting import CaseReport, case_report
from tracecenter.cases.selectors import cases_permitted
from tracecenter.contacts.models import Exposure
from tracecenter.contacts.persons import person_record_for, persons_editable_by, persons_visible_to
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core.errors import DomainError
from tracecenter.people.models import ContactPoint, Person, Sex
from tracecenter.people.search import PersonQuery, clean_person_query, persons_matching
from tracecenter.people.services import PersonInput, person_update
from tracecenter.workspace.person_forms import CaseReportForm, ContactAddForm, PersonEditForm, PersonSearchForm
from tracecenter.workspace.views.cases import case_queryset
from tracecenter.workspace.views.common import PAGE_SIZE, audit_list, render_page_or_part, signed_in

IDENTITY_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "sex",
    "preferred_language",
    "street",
    "city",
    "state",
    "postal_code",
)


def _attach(form: Form, exc: DomainError) -> None:
    """A service's error on the form field it names (or the whole form when it names none of them)."""
    field = exc.field if exc.field in form.fields and not form.fields[exc.field].widget.is_hidden else None
    form.add_error(field, exc.message)


# --- Search -------------------------------------------------------------------------------------


def _search(user: User, data: dict[str, Any]) -> tuple[QuerySet[Person], list[str]]:
    """The persons the search means, among those the user may see, and the names of the fields it used."""
    visible = persons_visible_to(user)
    used: list[str] = []
    if data.get("case_number"):
        visible = visible.filter(pk__in=cases_permitted(user, policy.Act.READ).filter(pk=data["case_number"]).values("person_id"))
        used.append("case_number")
    if data.get("contact_number"):
        exposures = policy.permitted(Exposure.objects.all(), user, policy.Act.READ).filter(pk=data["contact_number"])
        visible = visible.filter(pk__in=exposures.values("person_id"))
        used.append("contact_number")
    query = PersonQuery(
        first_name=data.get("first_name") or "",
        last_name=data.get("last_name") or "",
        date_of_birth=data.get("date_of_birth"),
        phone=data.get("phone") or "",
    )
    if used and not (query.first_name or query.last_name or query.date_of_birth or query.phone):
        return visible.filter(merged_into__isnull=True).order_by("-pk"), used
    clean = clean_person_query(query)
    return persons_matching(visible, clean), used + clean.fields


def _phones_of(persons: list[Person]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {p.pk: [] for p in persons}
    for point in ContactPoint.objects.filter(person__in=persons, kind=ContactPoint.Kind.PHONE).order_by("rank", "pk"):
        found[point.person_id].append(point.value)
    return found


def _for_case(request: HttpRequest, user: User) -> int | None:
    """The case a search looks for a contact of (from its "Add a contact" page), if the user may edit it."""
    raw = request.POST.get("for_case") or request.GET.get("for_case") or ""
    if not raw.isdigit() or len(raw) > 18:
        return None
    return cases_permitted(user, policy.Act.EDIT).filter(pk=int(raw)).values_list("pk", flat=True).first()


@login_required
def person_search(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.VIEW_RECORDS, object_type="person")
    for_case = _for_case(request, user)
    context: dict[str, Any] = {
        "may_report": user.has_capability(Capability.REPORT_CASES),
        "for_case": for_case,
        "add_url": reverse("workspace:contact_add", args=[for_case]) if for_case else "",
    }
    if request.method != "POST":
        context["form"] = PersonSearchForm()
        return render(request, "workspace/person_search.html", context)
    form = PersonSearchForm(request.POST)
    context["form"] = form
    if form.is_valid():
        try:
            found, used = _search(user, form.cleaned_data)
            found = found.select_related("jurisdiction")
        except DomainError as exc:
            _attach(form, exc)
        else:
            page = Paginator(found, PAGE_SIZE).get_page(form.cleaned_data.get("page") or 1)
            shown = list(page.object_list)
            audit_record(
                actor=user,
                action=Action.SEARCH,
                object_type="person",
                fields=used,
                detail=f"{page.paginator.count} found, page {page.number}",
                jurisdiction_id=user.jurisdiction_id,
            )
            audit_list(user, "person_search", [p.pk for p in shown], records=shown, record_type="person")
            phones = _phones_of(shown)
            context.update(page=page, rows=[(p, phones[p.pk]) for p in shown])
    return render_page_or_part(
        request,
        "workspace/person_search.html",
        "workspace/parts/person_results.html",
        "search-results",
        context,
        status=200 if form.is_valid() else 400,
    )


# --- One person ---------------------------------------------------------------------------------


@login_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    person = get_for(user, persons_visible_to(user).select_related("jurisdiction"), pk, object_type="person")
    record = person_record_for(user, person)
    # Other persons named on the page (household, contacts the person's cases named): their names were shown.
    others = [*record.household, *(e.person for e in record.named_contacts)]
    audit_list(user, "person_page", [p.pk for p in others], records=others, record_type="person")
    return render(
        request,
        "workspace/person_detail.html",
        {
            "record": record,
            "person": person,
            "timeline": record.timeline(),
            "may_report": user.has_capability(Capability.REPORT_CASES),
        },
    )


def _person_input(data: dict[str, Any], *, notes: str = "") -> PersonInput:
    values: dict[str, Any] = {name: data.get(name) or "" for name in IDENTITY_FIELDS}
    values["date_of_birth"] = data.get("date_of_birth")
    values["sex"] = values["sex"] or Sex.UNKNOWN
    values["preferred_language"] = values["preferred_language"] or "en"
    return PersonInput(
        **values,
        phones=data.get("phones") or [],
        emails=data.get("emails") or [],
        notes=notes,
    )


@login_required
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    person: Person = get_for(
        user,
        persons_editable_by(user).select_related("jurisdiction"),
        pk,
        object_type="person",
        capability=Capability.EDIT_RECORDS,
    )
    points = list(person.contact_points.all())
    if request.method == "POST":
        form = PersonEditForm(request.POST)
        if form.is_valid():
            try:
                person_update(actor=user, person=person, data=_person_input(form.cleaned_data, notes=person.notes))
            except DomainError as exc:
                _attach(form, exc)
            else:
                messages.success(request, _("The person's details were saved."))
                return redirect("workspace:person_detail", pk=person.pk)
        return render(request, "workspace/person_edit.html", {"form": form, "person": person}, status=400)
    # The form shows the person's values: a read of the record.
    audit_record(
        actor=user, action=Action.READ, object_type="person", object_id=person.pk, jurisdiction_id=person.jurisdiction_id
    )
    initial = {name: getattr(person, name) for name in IDENTITY_FIELDS}
    initial["phones"] = "\n".join(p.value for p in points if p.kind == ContactPoint.Kind.PHONE)
    initial["emails"] = "\n".join(p.value for p in points if p.kind == ContactPoint.Kind.EMAIL)
    return render(request, "workspace/person_edit.html", {"form": PersonEditForm(initial=initial), "person": person})


# --- A reported case, a contact added directly --------------------------------------------------


def _chosen_person(request: HttpRequest, user: User) -> Person | None:
    """The person picked from the search (an id, in the form or the link from the search), if any."""
    raw = request.POST.get("person") or request.GET.get("person") or ""
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise DomainError(_("Choose the person again from the search."), field="person")
    person: Person = get_for(user, persons_visible_to(user).select_related("jurisdiction"), int(raw), object_type="person")
    return person


@login_required
def case_report_view(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.REPORT_CASES, object_type="case")
    try:
        chosen = _chosen_person(request, user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("workspace:person_search")
    context: dict[str, Any] = {"chosen": chosen}
    if request.method != "POST":
        context["form"] = CaseReportForm(chosen=chosen is not None, initial={"person": chosen.pk if chosen else None})
        return render(request, "workspace/case_report.html", context)
    form = CaseReportForm(request.POST, chosen=chosen is not None)
    context["form"] = form
    if user.jurisdiction is None:
        form.add_error(None, _("Your account has no jurisdiction: ask an administrator."))
    if form.is_valid() and user.jurisdiction is not None:
        data = form.cleaned_data
        report = CaseReport(
            source=data["source"],
            reporter=data["reporter"],
            specimen_collection_date=data["specimen_collection_date"],
            symptom_onset=data["symptom_onset"],
            condition=data["condition"],
        )
        try:
            case = case_report(
                actor=user,
                jurisdiction=chosen.jurisdiction if chosen else user.jurisdiction,
                person=chosen or _person_input(data),
                report=report,
                seen=persons_visible_to(user),
            )
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("Case %(id)s opened.") % {"id": case.pk})
            return redirect("workspace:case_detail", pk=case.pk)
    return render(request, "workspace/case_report.html", context, status=400)


@login_required
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    case: Case = get_for(user, case_queryset(user, policy.Act.EDIT), pk, object_type="case", capability=Capability.EDIT_RECORDS)
    try:
        chosen = _chosen_person(request, user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("workspace:case_detail", pk=case.pk)
    context: dict[str, Any] = {"case": case, "chosen": chosen}
    if request.method != "POST":
        context["form"] = ContactAddForm(chosen=chosen is not None, initial={"person": chosen.pk if chosen else None})
        return render(request, "workspace/contact_add.html", context)
    form = ContactAddForm(request.POST, chosen=chosen is not None)
    context["form"] = form
    if form.is_valid():
        data = form.cleaned_data
        exposure = ExposureInput(
            last_exposure_date=data["last_exposure_date"],
            setting=data["setting"],
            proximity=data["proximity"],
            duration_minutes=data["duration_minutes"],
            relationship=data["relationship"],
        )
        try:
            added = exposure_add(actor=user, case=case, person=chosen or _person_input(data), data=exposure)
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("Contact %(id)s added.") % {"id": added.pk})
            return redirect("workspace:contact_detail", pk=added.pk)
    return render(request, "workspace/contact_add.html", context, status=400)
