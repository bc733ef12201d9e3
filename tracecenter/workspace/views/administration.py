"""Administration: jurisdictions, teams, skills, users and rule versions, for administrators.

Each page checks the input with a form, calls a service (accounts.services, cases.rules), which
asks the access policy and writes the audit trail, and renders; a DomainError lands on its field.
Records are fetched through `get_for` with MANAGE_USERS, so another jurisdiction's record is a
refusal written to the audit trail, as everywhere else.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from tracecenter.accounts import mfa, policy, selectors, services
from tracecenter.accounts.models import PROFICIENCY_RANK, Jurisdiction, Team, User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import get_for, require_audited
from tracecenter.cases import rules
from tracecenter.cases.models import RuleSet
from tracecenter.cases.selectors import rule_versions
from tracecenter.core import clock
from tracecenter.core.codes import language_name
from tracecenter.core.errors import DomainError
from tracecenter.workspace import admin_forms
from tracecenter.workspace.views.common import PAGE_SIZE, audit_list, signed_in

T = "workspace/administration/"


def _administrator(request: HttpRequest) -> User:
    user = signed_in(request)
    require_audited(user, Capability.MANAGE_USERS, object_type="administration")
    return user


def _data(request: HttpRequest) -> Any:
    """The posted data, so that a POST (even an empty one) binds its form and shows what is missing."""
    return request.POST if request.method == "POST" else None


def _get[M: Model](request: HttpRequest, visible: QuerySet[M], pk: int, object_type: str) -> tuple[User, M]:
    user = signed_in(request)
    return user, get_for(user, visible, pk, object_type=object_type, capability=Capability.MANAGE_USERS)


def _visible_jurisdictions(request: HttpRequest) -> QuerySet[Jurisdiction]:
    return selectors.jurisdictions_administered_by(request.user)


def _attach(form: Form, exc: DomainError) -> None:
    """The service's message on the field it names, or above the form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


# --- jurisdictions and teams -----------------------------------------------------------------------


@login_required
def jurisdictions(request: HttpRequest) -> HttpResponse:
    user = _administrator(request)
    return render(request, T + "jurisdictions.html", {"tree": selectors.jurisdiction_tree(user)})


@login_required
def jurisdiction_create(request: HttpRequest, pk: int) -> HttpResponse:
    user, parent = _get(request, _visible_jurisdictions(request), pk, "jurisdiction")
    form = admin_forms.JurisdictionForm(_data(request), initial={"time_zone": parent.time_zone})
    if request.method == "POST" and form.is_valid():
        try:
            created = services.jurisdiction_create(
                actor=user,
                parent=parent,
                name=form.cleaned_data["name"],
                code=form.cleaned_data["code"],
                time_zone=form.cleaned_data["time_zone"],
            )
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("%(name)s was created.") % {"name": created.name})
            return redirect("workspace:admin_jurisdictions")
    return render(request, T + "jurisdiction_form.html", {"form": form, "parent": parent}, status=422 if form.errors else 200)


@login_required
def jurisdiction_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user, jurisdiction = _get(request, _visible_jurisdictions(request).select_related("parent"), pk, "jurisdiction")
    # Only a jurisdiction below the administrator's own can move, and not below itself.
    movable = policy.may_administer(user, jurisdiction.parent)
    parents = _visible_jurisdictions(request).exclude(path__startswith=jurisdiction.path) if movable else None
    initial: dict[str, Any] = {"name": jurisdiction.name, "code": jurisdiction.code, "time_zone": jurisdiction.time_zone}
    initial.update(
        parent=jurisdiction.parent_id, calling_from=jurisdiction.calling_from, calling_until=jurisdiction.calling_until
    )
    form = admin_forms.JurisdictionForm(_data(request), initial=initial, parents=parents, hours=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.jurisdiction_update(
                actor=user,
                jurisdiction=jurisdiction,
                name=form.cleaned_data["name"],
                code=form.cleaned_data["code"],
                time_zone=form.cleaned_data["time_zone"],
                parent=form.cleaned_data["parent"] if movable else jurisdiction.parent,
                calling_hours=(form.cleaned_data["calling_from"], form.cleaned_data["calling_until"]),
            )
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("workspace:admin_jurisdictions")
    return render(
        request, T + "jurisdiction_form.html", {"form": form, "jurisdiction": jurisdiction}, status=422 if form.errors else 200
    )


@login_required
@require_POST
def jurisdiction_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user, jurisdiction = _get(request, _visible_jurisdictions(request), pk, "jurisdiction")
    name = jurisdiction.name
    try:
        services.jurisdiction_delete(actor=user, jurisdiction=jurisdiction)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("workspace:admin_jurisdiction_edit", pk=pk)
    messages.success(request, _("%(name)s was deleted.") % {"name": name})
    return redirect("workspace:admin_jurisdictions")


def _team_form(request: HttpRequest, form: admin_forms.TeamForm, context: dict[str, Any]) -> HttpResponse:
    return render(request, T + "team_form.html", {"form": form, **context}, status=422 if form.errors else 200)


@login_required
def team_create(request: HttpRequest, pk: int) -> HttpResponse:
    user, jurisdiction = _get(request, _visible_jurisdictions(request), pk, "jurisdiction")
    form = admin_forms.TeamForm(_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(actor=user, jurisdiction=jurisdiction, name=form.cleaned_data["name"])
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("The team %(name)s was created.") % {"name": team.name})
            return redirect("workspace:admin_jurisdictions")
    return _team_form(request, form, {"jurisdiction": jurisdiction})


@login_required
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user, team = _get(request, policy.administered(Team.objects.select_related("jurisdiction"), request.user), pk, "team")
    form = admin_forms.TeamForm(_data(request), initial={"name": team.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.team_update(actor=user, team=team, name=form.cleaned_data["name"])
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("workspace:admin_jurisdictions")
    return _team_form(request, form, {"jurisdiction": team.jurisdiction, "team": team})


@login_required
def skills(request: HttpRequest) -> HttpResponse:
    user = _administrator(request)
    form = admin_forms.SkillForm(
        _data(request), jurisdictions=_visible_jurisdictions(request), initial={"jurisdiction": user.jurisdiction_id}
    )
    if request.method == "POST" and form.is_valid():
        try:
            skill = services.skill_create(
                actor=user,
                jurisdiction=form.cleaned_data["jurisdiction"],
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
            )
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("The skill %(name)s was created.") % {"name": skill.name})
            return redirect("workspace:admin_skills")
    listed = selectors.skills_available_to(user).select_related("jurisdiction")
    return render(request, T + "skills.html", {"form": form, "skills": listed}, status=422 if form.errors else 200)


# --- users -------------------------------------------------------------------------------------------


@login_required
def users(request: HttpRequest) -> HttpResponse:
    user = _administrator(request)
    form = admin_forms.UserFilterForm(request.GET or None, jurisdictions=_visible_jurisdictions(request))
    filters: dict[str, Any] = {}
    if form.is_valid():
        active = form.cleaned_data["active"]
        filters = {
            "jurisdiction": form.cleaned_data["jurisdiction"],
            "role": form.cleaned_data["role"],
            "active": {"yes": True, "no": False}.get(active),
        }
    page = Paginator(selectors.users_administered_by(user, **filters), PAGE_SIZE).get_page(request.GET.get("page"))
    audit_list(user, "user_list", [u.pk for u in page.object_list])
    rows = [{"user": u, "languages": _spoken_labels(u)} for u in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, T + "users.html", {"form": form, "page": page, "rows": rows, "query": query.urlencode()})


def _spoken_labels(user: User) -> list[str]:
    """ "Spanish (native)", best spoken first, from the prefetched rows, named in the reader's language."""
    spoken = sorted(user.spoken_languages.all(), key=lambda s: (PROFICIENCY_RANK.get(s.proficiency, 9), s.language))
    lang = translation.get_language() or "en"
    return [f"{language_name(s.language, lang)} ({s.get_proficiency_display()})" for s in spoken]


def _user_forms(request: HttpRequest, user: User, target: User | None) -> tuple[admin_forms.UserForm, Any]:
    data = request.POST if request.method == "POST" else None
    spoken = list(target.spoken_languages.all()) if target is not None else []
    spoken.sort(key=lambda s: (PROFICIENCY_RANK.get(s.proficiency, 9), s.language))
    initial: dict[str, Any] = {}
    if target is not None:
        initial = {
            "first_name": target.first_name,
            "last_name": target.last_name,
            "email": target.email,
            "role": target.role,
            "jurisdiction": target.jurisdiction_id,
            "team": target.team_id,
            "skills": list(target.skills.values_list("pk", flat=True)),
        }
    form = admin_forms.UserForm(
        data,
        initial=initial,
        jurisdictions=_visible_jurisdictions(request),
        teams=selectors.teams_administered_by(user, keep=target.team_id if target is not None else None),
        skills=selectors.skills_available_to(user),
        new=target is None,
    )
    extra = tuple((s.language, language_name(s.language, translation.get_language() or "en")) for s in spoken)
    # The user's languages are the rows' initial values on the page only: bound to a POST, every row
    # that names a language is read, whatever the page was built from.
    rows = [{"language": s.language, "proficiency": s.proficiency} for s in spoken] if data is None else None
    languages = admin_forms.LanguageFormSet(data, prefix="languages", initial=rows, form_kwargs={"extra_codes": extra})
    return form, languages


def _user_input(form: admin_forms.UserForm, languages: Any) -> services.UserInput:
    data = form.cleaned_data
    return services.UserInput(
        first_name=data["first_name"],
        last_name=data["last_name"],
        email=data["email"],
        role=data["role"],
        jurisdiction=data["jurisdiction"],
        team=data["team"],
        languages=[
            services.SpokenLanguage(language=row.cleaned_data["language"], proficiency=row.cleaned_data["proficiency"])
            for row in languages
            if row.cleaned_data.get("language")
        ],
        skills=list(data["skills"]),
    )


def _save_error(form: admin_forms.UserForm, exc: DomainError) -> str:
    """Attach the service's message to its field; a problem with the languages is returned for their fieldset."""
    if exc.field == "languages":
        return exc.message
    _attach(form, exc)
    return ""


def _user_page(request: HttpRequest, form: Any, languages: Any, target: User | None, language_error: str = "") -> HttpResponse:
    status = 422 if form.errors or languages.total_error_count() or language_error else 200
    context = {"form": form, "languages": languages, "target": target, "language_error": language_error}
    return render(request, T + "user_form.html", context, status=status)


def _password_page(request: HttpRequest, issued: services.IssuedPassword, created: bool) -> HttpResponse:
    # Rendered in the POST's own response, never redirected to: the password must not sit in a session or a message store.
    return render(request, T + "password_issued.html", {"target": issued.user, "password": issued.password, "created": created})


@login_required
@never_cache
def user_create(request: HttpRequest) -> HttpResponse:
    user = _administrator(request)
    form, languages = _user_forms(request, user, None)
    language_error = ""
    if request.method == "POST" and form.is_valid() and languages.is_valid():
        try:
            issued = services.user_create(actor=user, username=form.cleaned_data["username"], data=_user_input(form, languages))
        except DomainError as exc:
            language_error = _save_error(form, exc)
        else:
            return _password_page(request, issued, created=True)
    return _user_page(request, form, languages, None, language_error)


def _visible_users(request: HttpRequest) -> QuerySet[User]:
    return policy.administered(User.objects.select_related("jurisdiction", "team"), request.user)


@login_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user, target = _get(request, _visible_users(request), pk, "user")
    form, languages = _user_forms(request, user, target)
    language_error = ""
    if request.method == "POST" and form.is_valid() and languages.is_valid():
        try:
            services.user_update(actor=user, user=target, data=_user_input(form, languages))
        except DomainError as exc:
            language_error = _save_error(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("workspace:admin_user_edit", pk=target.pk)
    return _user_page(request, form, languages, target, language_error)


@login_required
@require_POST
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    user, target = _get(request, _visible_users(request), pk, "user")
    try:
        services.user_deactivate(actor=user, user=target)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s can no longer sign in.") % {"name": target.display_name})
    return redirect("workspace:admin_user_edit", pk=target.pk)


@login_required
@require_POST
def user_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    user, target = _get(request, _visible_users(request), pk, "user")
    services.user_reactivate(actor=user, user=target)
    messages.success(request, _("%(name)s can sign in again.") % {"name": target.display_name})
    return redirect("workspace:admin_user_edit", pk=target.pk)


@login_required
@require_POST
@never_cache
def user_password_reset(request: HttpRequest, pk: int) -> HttpResponse:
    user, target = _get(request, _visible_users(request), pk, "user")
    return _password_page(request, services.user_password_reset(actor=user, user=target), created=False)


@login_required
@require_POST
def user_second_factors_reset(request: HttpRequest, pk: int) -> HttpResponse:
    user, target = _get(request, _visible_users(request), pk, "user")
    mfa.second_factors_reset(actor=user, user=target)
    messages.success(
        request,
        _("The second factor of %(name)s was reset: they set up a new one at their next sign-in.")
        % {"name": target.display_name},
    )
    return redirect("workspace:admin_user_edit", pk=target.pk)


# --- rule versions -----------------------------------------------------------------------------------


def _rule_input(form: admin_forms.RuleSetForm) -> rules.RuleSetInput:
    return rules.RuleSetInput(**form.cleaned_data)


@login_required
def rule_sets(request: HttpRequest, pk: int) -> HttpResponse:
    user, jurisdiction = _get(request, _visible_jurisdictions(request), pk, "jurisdiction")
    form = admin_forms.RuleSetForm(_data(request), initial={"effective_from": clock.today()})
    if request.method == "POST" and form.is_valid():
        try:
            rules.rule_set_create(actor=user, jurisdiction=jurisdiction, data=_rule_input(form))
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("The new version was added."))
            return redirect("workspace:admin_rule_sets", pk=jurisdiction.pk)
    context = {"jurisdiction": jurisdiction, "versions": rule_versions(jurisdiction, clock.today()), "form": form}
    return render(request, T + "rule_sets.html", context, status=422 if form.errors else 200)


def _visible_rule_sets(request: HttpRequest) -> QuerySet[RuleSet]:
    return policy.administered(RuleSet.objects.select_related("jurisdiction"), request.user)


@login_required
def rule_set_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user, rule_set = _get(request, _visible_rule_sets(request), pk, "rule_set")
    if rules.rule_set_in_use(rule_set):
        messages.error(request, str(rules.IN_USE))
        return redirect("workspace:admin_rule_sets", pk=rule_set.jurisdiction_id)
    fields = admin_forms.RuleSetForm.base_fields
    form = admin_forms.RuleSetForm(_data(request), initial={name: getattr(rule_set, name) for name in fields})
    if request.method == "POST" and form.is_valid():
        try:
            rules.rule_set_update(actor=user, rule_set=rule_set, data=_rule_input(form))
        except DomainError as exc:
            _attach(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("workspace:admin_rule_sets", pk=rule_set.jurisdiction_id)
    return render(request, T + "rule_set_form.html", {"form": form, "rule_set": rule_set}, status=422 if form.errors else 200)


@login_required
@require_POST
def rule_set_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user, rule_set = _get(request, _visible_rule_sets(request), pk, "rule_set")
    jurisdiction_id = rule_set.jurisdiction_id
    try:
        rules.rule_set_delete(actor=user, rule_set=rule_set)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The version was deleted."))
    return redirect("workspace:admin_rule_sets", pk=jurisdiction_id)
