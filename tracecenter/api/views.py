"""The endpoints. Reads go through the scoped selectors and `get_for`; writes through the services."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from tracecenter.accounts.models import Jurisdiction, Team, User
from tracecenter.accounts.policy import Act
from tracecenter.accounts.roles import Capability
from tracecenter.api.auth import current_user
from tracecenter.api.listing import audited_page
from tracecenter.api.schemas import (
    CaseAssignIn,
    CaseFilter,
    CaseListItem,
    CaseOut,
    CaseStatusIn,
    ContactCreateIn,
    ContactFilter,
    ContactListItem,
    ContactOut,
    ErrorOut,
    Id,
    LabResultCreatedOut,
    LabResultFilter,
    LabResultIn,
    LabResultOut,
    Page,
    PageQuery,
    PersonCreateIn,
    PersonIn,
    PersonListItem,
    PersonOut,
    PersonSearchIn,
)
from tracecenter.api.selectors import lab_results_visible_to, persons_visible_to
from tracecenter.audit.access import get_for, require_audited
from tracecenter.audit.models import Action
from tracecenter.cases.models import Case
from tracecenter.cases.selectors import cases_permitted, cases_visible_to
from tracecenter.cases.services import case_assign, case_change_status
from tracecenter.contacts.models import Exposure
from tracecenter.contacts.selectors import exposures_visible_to
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import crypto
from tracecenter.core.errors import DomainError
from tracecenter.intake.models import LabResult
from tracecenter.intake.services import LabResultInput, lab_result_record
from tracecenter.people.models import Person
from tracecenter.people.normalize import name_key
from tracecenter.people.services import PersonInput, person_create

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 413: ErrorOut, 422: ErrorOut, 429: ErrorOut}

persons = Router(tags=["persons"])
lab_results = Router(tags=["lab results"])
cases = Router(tags=["cases"])
contacts = Router(tags=["contacts"])


def _person_input(data: PersonIn) -> PersonInput:
    values = data.model_dump(include=set(PersonIn.model_fields))
    return PersonInput(**values)


@contextlib.contextmanager
def _fields_renamed(names: dict[str, str]) -> Iterator[None]:
    """A service's DomainError names its own argument; the client wants the name of the input it sent."""
    try:
        yield
    except DomainError as exc:
        exc.field = names.get(exc.field or "", exc.field)
        raise


# Persons ----------------------------------------------------------------------


@persons.get("", response={200: Page[PersonListItem], **ERRORS}, summary="List the persons you may see")
def person_list(request: HttpRequest, query: Query[PageQuery]) -> dict[str, Any]:
    user = current_user(request)
    visible = persons_visible_to(user).order_by("-pk")
    return audited_page(
        user, visible, object_type="person_list", record_type="person", page=query.page, page_size=query.page_size
    )


@persons.post("/search", response={200: Page[PersonListItem], **ERRORS}, summary="Find persons by name")
def person_search(request: HttpRequest, payload: PersonSearchIn, query: Query[PageQuery]) -> dict[str, Any]:
    """By last name, and optionally first name and birth date: exact after normalization (accents, case, spaces)."""
    user = current_user(request)
    visible = persons_visible_to(user).filter(last_name_bidx=crypto.blind_index(name_key(payload.last_name), purpose="last_name"))
    used = ["last_name"]
    if payload.first_name.strip():
        visible = visible.filter(first_name_bidx=crypto.blind_index(name_key(payload.first_name), purpose="first_name"))
        used.append("first_name")
    if payload.date_of_birth is not None:
        visible = visible.filter(dob_bidx=crypto.blind_index(payload.date_of_birth.isoformat(), purpose="dob"))
        used.append("date_of_birth")
    return audited_page(
        user,
        visible.order_by("-pk"),
        object_type="person",
        record_type="person",
        action=Action.SEARCH,
        fields=tuple(used),
        page=query.page,
        page_size=query.page_size,
    )


@persons.get("/{person_id}", response={200: PersonOut, **ERRORS}, summary="One person")
def person_detail(request: HttpRequest, person_id: Path[Id]) -> Person:
    user = current_user(request)
    return get_for(user, persons_visible_to(user).prefetch_related("contact_points"), person_id, object_type="person")


@persons.post("", response={201: PersonOut, **ERRORS}, summary="Enter a new person")
def person_new(request: HttpRequest, payload: PersonCreateIn) -> Status[Person]:
    user = current_user(request)
    require_audited(user, Capability.CREATE_RECORDS, object_type="person")
    jurisdiction = _jurisdiction_for(user, payload.jurisdiction_id)
    person = person_create(actor=user, jurisdiction=jurisdiction, data=_person_input(payload))
    return Status(201, Person.objects.prefetch_related("contact_points").get(pk=person.pk))


def _jurisdiction_for(user: User, jurisdiction_id: int | None) -> Jurisdiction:
    if user.jurisdiction is None:
        raise DomainError(_("You have no jurisdiction: ask an administrator."), field="jurisdiction_id")
    if jurisdiction_id is None:
        return user.jurisdiction
    jurisdiction = Jurisdiction.objects.filter(pk=jurisdiction_id, path__startswith=user.jurisdiction.path).first()
    if jurisdiction is None:
        raise DomainError(_("Choose your jurisdiction or one below it."), field="jurisdiction_id")
    return jurisdiction


@persons.post("/{person_id}/lab-results", response={201: LabResultCreatedOut, **ERRORS}, summary="Record a lab result")
def lab_result_new(request: HttpRequest, person_id: Path[Id], payload: LabResultIn) -> Status[dict[str, Any]]:
    """A positive result opens a case (or joins the person's current one) once the result is saved."""
    user = current_user(request)
    person = get_for(user, persons_visible_to(user), person_id, object_type="person", capability=Capability.CREATE_RECORDS)
    lab = lab_result_record(
        actor=user,
        person=person,
        source=LabResult.Source.API,
        data=LabResultInput(**payload.model_dump(include=set(LabResultIn.model_fields))),
    )
    out = LabResultOut.model_validate(lab).model_dump()
    out["case_id"] = lab.cases.order_by("pk").values_list("pk", flat=True).first()
    return Status(201, out)


# Lab results ------------------------------------------------------------------


@lab_results.get("", response={200: Page[LabResultOut], **ERRORS}, summary="List the lab results you may see")
def lab_result_list(request: HttpRequest, query: Query[LabResultFilter]) -> dict[str, Any]:
    user = current_user(request)
    visible = lab_results_visible_to(user).order_by("-specimen_collection_date", "-pk")
    if query.person_id is not None:
        visible = visible.filter(person_id=query.person_id)
    return audited_page(
        user, visible, object_type="lab_result_list", record_type="lab_result", page=query.page, page_size=query.page_size
    )


@lab_results.get("/{lab_result_id}", response={200: LabResultOut, **ERRORS}, summary="One lab result")
def lab_result_detail(request: HttpRequest, lab_result_id: Path[Id]) -> LabResult:
    user = current_user(request)
    return get_for(user, lab_results_visible_to(user), lab_result_id, object_type="lab_result")


# Cases ------------------------------------------------------------------------


@cases.get("", response={200: Page[CaseListItem], **ERRORS}, summary="List the cases you may see")
def case_list(request: HttpRequest, query: Query[CaseFilter]) -> dict[str, Any]:
    user = current_user(request)
    visible = cases_visible_to(user).order_by("-opened_at", "-pk")
    if query.status is not None:
        visible = visible.filter(status=query.status)
    if query.person_id is not None:
        visible = visible.filter(person_id=query.person_id)
    return audited_page(user, visible, object_type="case_list", record_type="case", page=query.page, page_size=query.page_size)


@cases.get("/{case_id}", response={200: CaseOut, **ERRORS}, summary="One case")
def case_detail(request: HttpRequest, case_id: Path[Id]) -> Case:
    user = current_user(request)
    return get_for(user, cases_visible_to(user), case_id, object_type="case")


@cases.post("/{case_id}/status", response={200: CaseOut, **ERRORS}, summary="Change a case's status")
def case_status(request: HttpRequest, case_id: Path[Id], payload: CaseStatusIn) -> Case:
    user = current_user(request)
    case = get_for(user, cases_permitted(user, Act.EDIT), case_id, object_type="case", capability=Capability.EDIT_RECORDS)
    return case_change_status(actor=user, case=case, to_status=payload.status, reason=payload.reason)


@cases.post("/{case_id}/assign", response={200: CaseOut, **ERRORS}, summary="Assign a case (supervisors)")
def case_assign_to(request: HttpRequest, case_id: Path[Id], payload: CaseAssignIn) -> Case:
    user = current_user(request)
    case = get_for(user, cases_permitted(user, Act.ASSIGN), case_id, object_type="case", capability=Capability.ASSIGN)
    assignee = None
    if payload.assignee_id is not None:
        assignee = User.objects.select_related("jurisdiction", "team").filter(pk=payload.assignee_id).first()
        if assignee is None:
            raise DomainError(_("There is no such user."), field="assignee_id")
    team = None
    if payload.team_id is not None:
        team = Team.objects.select_related("jurisdiction").filter(pk=payload.team_id).first()
        if team is None:
            raise DomainError(_("There is no such team."), field="team_id")
    with _fields_renamed({"assignee": "assignee_id", "team": "team_id"}):
        return case_assign(actor=user, case=case, assignee=assignee, team=team)


@cases.post("/{case_id}/contacts", response={201: ContactOut, **ERRORS}, summary="Add a contact to a case")
def contact_new(request: HttpRequest, case_id: Path[Id], payload: ContactCreateIn) -> Status[Exposure]:
    """Name an existing person you can see (`person_id`) or a new one (`person`).

    A new one is always a new record, as entered, whoever else the registry holds: the answer is the
    same either way. If they may be someone already known, a supervisor who may see both records
    reviews it later (identity reviews).
    """
    user = current_user(request)
    case = get_for(user, cases_permitted(user, Act.EDIT), case_id, object_type="case", capability=Capability.EDIT_RECORDS)
    if (payload.person_id is None) == (payload.person is None):
        raise DomainError(_("Give either person_id or person."), field="person")
    person: Person | PersonInput
    if payload.person is not None:
        person = _person_input(payload.person)
    else:  # then person_id is given (checked above)
        try:
            person = get_for(
                user, persons_visible_to(user), payload.person_id, object_type="person", capability=Capability.EDIT_RECORDS
            )
        except (Http404, PermissionDenied):
            # The same answer whether the person does not exist or is out of reach.
            raise DomainError(_("There is no such person."), field="person_id") from None
    data = ExposureInput(**payload.model_dump(exclude={"person_id", "person"}))
    # Errors about the person name the input that gave it: "person.first_name", or "person_id" ("already a contact").
    names = (
        {name: f"person.{name}" for name in PersonIn.model_fields} if payload.person is not None else {"last_name": "person_id"}
    )
    with _fields_renamed(names):
        exposure = exposure_add(actor=user, case=case, person=person, data=data)
    return Status(201, exposure)


# Contacts ---------------------------------------------------------------------


@contacts.get("", response={200: Page[ContactListItem], **ERRORS}, summary="List the contacts you may see")
def contact_list(request: HttpRequest, query: Query[ContactFilter]) -> dict[str, Any]:
    user = current_user(request)
    visible = exposures_visible_to(user).order_by("-pk")
    if query.case_id is not None:
        visible = visible.filter(case_id=query.case_id)
    if query.status is not None:
        visible = visible.filter(status=query.status)
    return audited_page(
        user, visible, object_type="contact_list", record_type="contact", page=query.page, page_size=query.page_size
    )


@contacts.get("/{contact_id}", response={200: ContactOut, **ERRORS}, summary="One contact")
def contact_detail(request: HttpRequest, contact_id: Path[Id]) -> Exposure:
    user = current_user(request)
    return get_for(user, exposures_visible_to(user), contact_id, object_type="contact")
