"""Account administration services: the scope of an administrator, validation, audit entries without values."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.test import Client

from conftest import PASSWORD, sign_in_through_pages
from tracecenter.accounts import policy, services
from tracecenter.accounts.models import Jurisdiction, Skill, Team, User, UserLanguage
from tracecenter.accounts.roles import Role
from tracecenter.accounts.services import SpokenLanguage, UserInput
from tracecenter.audit.models import AuditEntry
from tracecenter.core.errors import DomainError


@pytest.fixture
def admin(make_user, county):
    return make_user(Role.ADMINISTRATOR, county, username="admin.north")


@pytest.fixture
def state_admin(make_user, state):
    return make_user(Role.ADMINISTRATOR, state, username="admin.state")


def tracer_input(jurisdiction: Jurisdiction, **overrides) -> UserInput:
    values = {
        "first_name": "Marta",
        "last_name": "Reyes",
        "email": "marta.reyes@Health.Example.org",
        "role": Role.CONTACT_TRACER,
        "jurisdiction": jurisdiction,
        "team": None,
        "languages": [SpokenLanguage("Spanish", "native"), SpokenLanguage("en", "fluent")],
        "skills": [],
        **overrides,
    }
    return UserInput(**values)


def last_entry() -> AuditEntry:
    return AuditEntry.objects.latest("pk")


def assert_no_values(entry: AuditEntry, *values: str) -> None:
    text = str({k: v for k, v in entry.__dict__.items() if not k.startswith("_")})
    for value in values:
        assert value not in text, f"{value!r} leaked into the audit entry"


# --- the policy ------------------------------------------------------------------------------------


def test_an_administrator_administers_their_jurisdiction_and_below_only(admin, state_admin, state, county, other_county, users):
    assert policy.may_administer(admin, county)
    assert not policy.may_administer(admin, other_county)
    assert not policy.may_administer(admin, state)
    assert all(policy.may_administer(state_admin, j) for j in (state, county, other_county))
    assert not policy.may_administer(users[Role.SUPERVISOR], county)  # a role without MANAGE_USERS
    admin.is_active = False
    assert not policy.may_administer(admin, county)


def test_the_bulk_scope_answers_as_the_single_question(admin, state_admin, state, county, other_county, users):
    for actor in (admin, state_admin, users[Role.SUPERVISOR]):
        listed = set(policy.administered(Jurisdiction.objects.all(), actor, jurisdiction_field=None))
        assert listed == {j for j in (state, county, other_county) if policy.may_administer(actor, j)}
    assert set(policy.administered(User.objects.all(), admin)) == set(User.objects.filter(jurisdiction=county))


# --- users -----------------------------------------------------------------------------------------


def test_it_creates_a_user_with_languages_and_a_temporary_password(admin, county, team):
    issued = services.user_create(actor=admin, username="marta", data=tracer_input(county, team=team))

    user = User.objects.get(username="marta")
    assert user == issued.user
    assert user.must_change_password
    assert user.check_password(issued.password) and len(issued.password) >= 20
    assert user.email == "marta.reyes@health.example.org"
    assert dict(user.spoken_languages.values_list("language", "proficiency")) == {"es": "native", "en": "fluent"}
    entry = last_entry()
    assert (entry.action, entry.object_type, entry.object_id) == ("create", "user", str(user.pk))
    assert entry.actor_id == admin.pk and entry.jurisdiction_id == county.pk
    assert {"username", "password", "languages", "role"} <= set(entry.fields)
    assert_no_values(entry, issued.password, "Marta", "Reyes", "marta.reyes")


def test_two_temporary_passwords_are_never_the_same(admin, county):
    first = services.user_create(actor=admin, username="a1", data=tracer_input(county))
    second = services.user_create(actor=admin, username="a2", data=tracer_input(county))
    assert first.password != second.password


def test_a_county_administrator_cannot_create_a_user_in_another_county_or_at_the_state(admin, state, other_county):
    for place in (other_county, state):
        with pytest.raises(PermissionDenied):
            services.user_create(actor=admin, username="x", data=tracer_input(place))
    assert not User.objects.filter(username="x").exists()


def test_a_role_without_the_capability_cannot_create_users(users, county):
    with pytest.raises(PermissionDenied):
        services.user_create(actor=users[Role.SUPERVISOR], username="x", data=tracer_input(county))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"role": "superuser"}, "role"),
        ({"first_name": ""}, "first_name"),
        ({"last_name": "x" * 10_000}, "last_name"),
        ({"first_name": "Ana\x07"}, "first_name"),
        ({"first_name": "Ana\u202etxt.exe"}, "first_name"),
        ({"email": "not an address"}, "email"),
        ({"languages": [SpokenLanguage("no such language", "native")]}, "languages"),
        ({"languages": [SpokenLanguage("es", "perfect")]}, "languages"),
        ({"languages": [SpokenLanguage("es", "native"), SpokenLanguage("Spanish", "fluent")]}, "languages"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_is_saved(admin, county, overrides, field):
    users_before, entries_before = User.objects.count(), AuditEntry.objects.count()
    with pytest.raises(DomainError) as caught:
        services.user_create(actor=admin, username="newbie", data=tracer_input(county, **overrides))
    assert caught.value.field == field
    assert (User.objects.count(), AuditEntry.objects.count()) == (users_before, entries_before)
    assert not UserLanguage.objects.filter(user__username="newbie").exists()


@pytest.mark.parametrize("username", ["", "has space", "<b>x</b>", "x" * 151, "ADMIN.NORTH"])
def test_a_bad_or_taken_user_name_is_refused(admin, county, username):
    with pytest.raises(DomainError) as caught:
        services.user_create(actor=admin, username=username, data=tracer_input(county))
    assert caught.value.field == "username"


def test_a_team_must_belong_to_the_users_jurisdiction_or_one_above(state_admin, state, county, other_county):
    south_team = Team.objects.create(name="South", jurisdiction=other_county)
    state_team = Team.objects.create(name="State desk", jurisdiction=state)
    with pytest.raises(DomainError) as caught:
        services.user_create(actor=state_admin, username="t1", data=tracer_input(county, team=south_team))
    assert caught.value.field == "team"
    issued = services.user_create(actor=state_admin, username="t2", data=tracer_input(county, team=state_team))
    assert issued.user.team == state_team


def test_a_county_administrator_cannot_use_a_team_of_the_state(admin, state, county):
    state_team = Team.objects.create(name="State desk", jurisdiction=state)
    with pytest.raises(PermissionDenied):
        services.user_create(actor=admin, username="t", data=tracer_input(county, team=state_team))


def test_skills_are_given_only_where_they_are_defined(state_admin, state, county, other_county):
    asl = services.skill_create(actor=state_admin, jurisdiction=state, code="asl", name="ASL interpreting")
    south_only = services.skill_create(actor=state_admin, jurisdiction=other_county, code="farm-outreach", name="Farm outreach")
    issued = services.user_create(actor=state_admin, username="s1", data=tracer_input(county, skills=[asl]))
    assert list(issued.user.skills.all()) == [asl]
    with pytest.raises(DomainError) as caught:
        services.user_create(actor=state_admin, username="s2", data=tracer_input(county, skills=[south_only]))
    assert caught.value.field == "skills"


def test_an_update_audits_the_names_of_the_fields_it_changed_only(admin, county, team):
    user = services.user_create(actor=admin, username="marta", data=tracer_input(county)).user
    services.user_update(
        actor=admin,
        user=user,
        data=tracer_input(county, last_name="Reyes Ortiz", team=team, languages=[SpokenLanguage("es", "native")]),
    )
    user.refresh_from_db()
    assert (user.last_name, user.team) == ("Reyes Ortiz", team)
    assert dict(user.spoken_languages.values_list("language", "proficiency")) == {"es": "native"}
    entry = last_entry()
    assert entry.action == "update" and entry.fields == ["languages", "last_name", "team"]
    assert_no_values(entry, "Reyes Ortiz")

    before = AuditEntry.objects.count()
    services.user_update(
        actor=admin,
        user=user,
        data=tracer_input(county, last_name="Reyes Ortiz", team=team, languages=[SpokenLanguage("es", "native")]),
    )
    assert AuditEntry.objects.count() == before  # nothing changed, nothing to record


def test_an_administrator_cannot_edit_a_user_of_another_county(admin, make_user, other_county):
    south = make_user(Role.CONTACT_TRACER, other_county)
    with pytest.raises(PermissionDenied):
        services.user_update(actor=admin, user=south, data=tracer_input(other_county))
    for service in (services.user_deactivate, services.user_reactivate, services.user_password_reset):
        with pytest.raises(PermissionDenied):
            service(actor=admin, user=south)
    south.refresh_from_db()
    assert south.is_active and south.check_password(PASSWORD)


def test_an_administrator_cannot_demote_move_or_deactivate_themselves(state_admin, state, county):
    data = tracer_input(state, first_name="Admin", role=Role.SUPERVISOR)
    with pytest.raises(DomainError) as caught:
        services.user_update(actor=state_admin, user=state_admin, data=data)
    assert caught.value.field == "role"
    with pytest.raises(DomainError) as caught:
        services.user_update(actor=state_admin, user=state_admin, data=tracer_input(county, role=Role.ADMINISTRATOR))
    assert caught.value.field == "jurisdiction"
    with pytest.raises(DomainError):
        services.user_deactivate(actor=state_admin, user=state_admin)


def test_deactivation_ends_the_users_sessions_and_sign_in_but_keeps_their_cases(admin, users, make_case, county):
    tracer = users[Role.CONTACT_TRACER]
    case = make_case(county, owner=tracer)
    browser = Client()
    assert sign_in_through_pages(browser, tracer).status_code == 302
    assert browser.get("/").status_code == 200
    sessions = Session.objects.count()

    services.user_deactivate(actor=admin, user=tracer)

    entry = last_entry()
    assert entry.fields == ["is_active"] and entry.detail == "deactivated"
    assert Session.objects.count() == sessions - 1
    assert browser.get("/").status_code == 302  # signed out
    again = Client().post("/accounts/login/", {"username": tracer.username, "password": PASSWORD})
    assert again.status_code == 200 and "_auth_user_id" not in again.wsgi_request.session
    case.refresh_from_db()
    assert case.owner == tracer

    services.user_reactivate(actor=admin, user=tracer)
    tracer.refresh_from_db()
    assert tracer.is_active
    assert browser.get("/").status_code == 302  # the old session does not come back


def test_a_password_reset_issues_a_new_temporary_password_and_ends_sessions(admin, users):
    tracer = users[Role.CONTACT_TRACER]
    browser = Client()
    browser.force_login(tracer)
    issued = services.user_password_reset(actor=admin, user=tracer)
    tracer.refresh_from_db()
    assert tracer.must_change_password and tracer.check_password(issued.password) and not tracer.check_password(PASSWORD)
    assert browser.get("/").status_code == 302
    entry = last_entry()
    assert entry.fields == ["must_change_password", "password"] and entry.detail == "password reset"
    assert_no_values(entry, issued.password)


def test_the_user_chooses_a_new_password_that_the_validators_accept(admin, users):
    tracer = users[Role.CONTACT_TRACER]
    issued = services.user_password_reset(actor=admin, user=tracer)
    for weak in ("short", "password1234", issued.password):
        with pytest.raises(DomainError):
            services.user_password_change(actor=tracer, new_password=weak)
    services.user_password_change(actor=tracer, new_password="a sturdy new passphrase")
    tracer.refresh_from_db()
    assert not tracer.must_change_password and tracer.check_password("a sturdy new passphrase")
    assert_no_values(last_entry(), "a sturdy new passphrase")


# --- jurisdictions, teams, skills --------------------------------------------------------------------


def test_it_creates_a_jurisdiction_below_one_the_administrator_manages(state_admin, state):
    county = services.jurisdiction_create(
        actor=state_admin, parent=state, name="East  County", code="xs-east", time_zone="America/Chicago"
    )
    assert (county.name, county.parent, county.path) == ("East County", state, f"{state.path}{county.pk}/")
    entry = last_entry()
    assert (entry.action, entry.object_type, entry.jurisdiction_id) == ("create", "jurisdiction", county.pk)
    assert_no_values(entry, "East County", "xs-east")


def test_a_county_administrator_cannot_add_a_jurisdiction_beside_or_above_their_own(admin, state, other_county):
    for parent in (state, other_county):
        with pytest.raises(PermissionDenied):
            services.jurisdiction_create(actor=admin, parent=parent, name="X", code="x", time_zone="UTC")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"code": "Has Spaces"}, "code"),
        ({"code": "xs-north"}, "code"),  # taken
        ({"name": "x" * 10_000}, "name"),
        ({"name": "\x00"}, "name"),
    ],
)
def test_a_jurisdiction_with_bad_values_is_refused_on_its_field(state_admin, state, county, values, field):
    data = {"name": "East County", "code": "xs-east", "time_zone": "America/New_York", **values}
    with pytest.raises(DomainError) as caught:
        services.jurisdiction_create(actor=state_admin, parent=state, **data)
    assert caught.value.field == field
    assert not Jurisdiction.objects.filter(code="xs-east").exists()


def test_a_jurisdiction_moves_with_its_subtree_and_never_below_itself(state_admin, state, county, other_county):
    town = services.jurisdiction_create(actor=state_admin, parent=county, name="Town", code="town", time_zone="UTC")
    with pytest.raises(DomainError) as caught:
        services.jurisdiction_update(
            actor=state_admin, jurisdiction=county, name=county.name, code=county.code, time_zone=county.time_zone, parent=town
        )
    assert caught.value.field == "parent"
    with pytest.raises(DomainError):
        services.jurisdiction_update(
            actor=state_admin, jurisdiction=county, name=county.name, code=county.code, time_zone=county.time_zone, parent=county
        )

    services.jurisdiction_update(
        actor=state_admin, jurisdiction=county, name="North", code=county.code, time_zone=county.time_zone, parent=other_county
    )
    county.refresh_from_db()
    town.refresh_from_db()
    assert county.path == f"{other_county.path}{county.pk}/" and town.path == f"{county.path}{town.pk}/"
    assert last_entry().fields == ["name", "parent"]


def test_a_county_administrator_cannot_move_their_own_county(admin, county, other_county):
    with pytest.raises(PermissionDenied):
        services.jurisdiction_update(
            actor=admin, jurisdiction=county, name=county.name, code=county.code, time_zone=county.time_zone, parent=other_county
        )


def test_a_jurisdiction_in_use_is_not_deleted_and_an_unused_one_is(state_admin, state, county, make_user, make_case):
    spare = services.jurisdiction_create(actor=state_admin, parent=state, name="Spare", code="spare", time_zone="UTC")
    team = Team.objects.create(name="T", jurisdiction=spare)
    with pytest.raises(DomainError) as caught:
        services.jurisdiction_delete(actor=state_admin, jurisdiction=spare)
    assert "teams" in caught.value.message
    team.delete()
    make_case(county)  # records of the public count too, through relations accounts does not import
    with pytest.raises(DomainError) as caught:
        services.jurisdiction_delete(actor=state_admin, jurisdiction=county)
    assert "cases" in caught.value.message and "persons" in caught.value.message

    spare_id = spare.pk
    services.jurisdiction_delete(actor=state_admin, jurisdiction=spare)
    assert not Jurisdiction.objects.filter(pk=spare_id).exists()
    entry = last_entry()
    # Filed under the parent, which auditors can still find.
    assert (entry.action, entry.object_id, entry.jurisdiction_id) == ("delete", str(spare_id), state.pk)


def test_teams_have_names_unique_in_their_jurisdiction(admin, county, other_county):
    team = services.team_create(actor=admin, jurisdiction=county, name="Night shift")
    with pytest.raises(DomainError) as caught:
        services.team_create(actor=admin, jurisdiction=county, name="night SHIFT")
    assert caught.value.field == "name"
    services.team_update(actor=admin, team=team, name="Evening shift")
    team.refresh_from_db()
    assert team.name == "Evening shift"
    with pytest.raises(PermissionDenied):
        services.team_create(actor=admin, jurisdiction=other_county, name="Night shift")


def test_skill_codes_are_unique_and_skills_stay_in_scope(admin, county, other_county):
    services.skill_create(actor=admin, jurisdiction=county, code="asl", name="ASL")
    with pytest.raises(DomainError) as caught:
        services.skill_create(actor=admin, jurisdiction=county, code="ASL", name="Sign language")
    assert caught.value.field == "code"
    with pytest.raises(PermissionDenied):
        services.skill_create(actor=admin, jurisdiction=other_county, code="x", name="X")
    assert Skill.objects.count() == 1


def test_a_county_administrator_keeps_the_state_team_a_user_already_has(admin, state, county):
    state_team = Team.objects.create(name="State desk", jurisdiction=state)
    user = User.objects.create(username="lent", role=Role.CONTACT_TRACER, jurisdiction=county, team=state_team)
    services.user_update(actor=admin, user=user, data=tracer_input(county, team=state_team, first_name="Lent"))
    user.refresh_from_db()
    assert (user.team, user.first_name) == (state_team, "Lent")
