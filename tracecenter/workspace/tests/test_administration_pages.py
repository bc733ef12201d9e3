"""The administration pages through the test client: flows, hostile input, scope, query budget.

Who may open which page is the access matrix's job (test_access_matrix.py); here each page is
driven the way an administrator uses it, with the refusals that matter most repeated on real data.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import sign_in_through_pages
from tracecenter.accounts.models import Jurisdiction, Skill, Team, User, UserLanguage
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import RuleSet

# Measured, whatever the number of users: the session, the administrator and their jurisdiction, the
# count, one page of users with their jurisdictions and teams, their languages, the audit entry of the
# list read, the jurisdictions of the filter, and the session saved (an update in a savepoint: 3).
USER_LIST_QUERY_BUDGET = 11


@pytest.fixture
def state_admin(make_user, state):
    return make_user(Role.ADMINISTRATOR, state, username="admin.state")


@pytest.fixture
def admin(make_user, county):
    return make_user(Role.ADMINISTRATOR, county, username="admin.north")


@pytest.fixture
def as_state_admin(client: Client, state_admin) -> Client:
    client.force_login(state_admin)
    return client


@pytest.fixture
def as_admin(client: Client, admin) -> Client:
    client.force_login(admin)
    return client


def user_form(jurisdiction: Jurisdiction, *, team: Team | None = None, languages=(("es", "native"),), **overrides) -> dict:
    data = {
        "username": "marta",
        "first_name": "Marta",
        "last_name": "Reyes",
        "email": "",
        "role": Role.CONTACT_TRACER,
        "jurisdiction": str(jurisdiction.pk),
        "team": str(team.pk) if team else "",
        "languages-TOTAL_FORMS": str(len(languages)),
        "languages-INITIAL_FORMS": "0",
        "languages-MIN_NUM_FORMS": "0",
        "languages-MAX_NUM_FORMS": "20",
        **overrides,
    }
    for i, (language, proficiency) in enumerate(languages):
        data[f"languages-{i}-language"] = language
        data[f"languages-{i}-proficiency"] = proficiency
    return data


def field_error(html: str, field: str) -> str:
    """The error text rendered under the field `field` (by the shared field template)."""
    found = re.search(rf'id="id_{field}_error" role="alert">([^<]*)<', html)
    assert found, f"no error on {field}"
    return found.group(1)


# --- jurisdictions and teams -----------------------------------------------------------------------


def test_the_tree_nests_jurisdictions_with_their_teams(as_state_admin, state, county, other_county, team):
    Jurisdiction.objects.create(name="Town of North", code="xs-north-town", parent=county)
    html = as_state_admin.get(reverse("workspace:admin_jurisdictions")).content.decode()
    state_at, north_at, town_at, south_at = (
        html.index(f'<h3 class="tree-name">{name}') for name in ("Example State", "North County", "Town of North", "South County")
    )
    assert state_at < north_at < town_at < south_at  # children by name, below their parent
    assert html.count('<ul class="tree">') == 3  # state > counties > town: one nested list per level
    assert "Team A" in html[north_at:town_at]


def test_a_county_administrator_sees_only_their_county(as_admin, county, other_county):
    html = as_admin.get(reverse("workspace:admin_jurisdictions")).content.decode()
    assert "North County" in html and "South County" not in html and "Example State</h3>" not in html
    response = as_admin.get(reverse("workspace:admin_jurisdiction_edit", args=[other_county.pk]))
    assert response.status_code == 404
    assert AuditEntry.objects.filter(action="denied", object_type="jurisdiction", object_id=str(other_county.pk)).exists()


def test_a_jurisdiction_is_created_below_and_its_name_is_shown_escaped(as_state_admin, state):
    url = reverse("workspace:admin_jurisdiction_create", args=[state.pk])
    response = as_state_admin.post(
        url, {"name": "<script>alert(1)</script> County", "code": "xs-east", "time_zone": "America/Chicago"}
    )
    assert response.status_code == 302
    created = Jurisdiction.objects.get(code="xs-east")
    assert created.parent == state and created.name == "<script>alert(1)</script> County"
    html = as_state_admin.get(reverse("workspace:admin_jurisdictions")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; County" in html and "<script>alert(1)" not in html


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": "N" * 10_240}, "name", "at most 120 characters"),
        ({"name": "North\x07County"}, "name", "control characters"),
        ({"name": "North\x00County"}, "name", "Null characters are not allowed"),
        ({"code": "no spaces allowed"}, "code", "letters, numbers, underscores or hyphens"),
        ({"code": "xs-north"}, "code", "Another jurisdiction has this code"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Select a valid choice"),
    ],
)
def test_hostile_jurisdiction_input_is_refused_on_its_field(as_state_admin, state, county, values, field, message):
    before = Jurisdiction.objects.count()
    data = {"name": "East County", "code": "xs-east", "time_zone": "America/Chicago", **values}
    response = as_state_admin.post(reverse("workspace:admin_jurisdiction_create", args=[state.pk]), data)
    assert response.status_code == 422
    assert message in field_error(response.content.decode(), field)
    assert Jurisdiction.objects.count() == before


def test_a_jurisdiction_cannot_be_made_its_own_descendant(as_state_admin, state, county):
    town = Jurisdiction.objects.create(name="Town", code="town", parent=county)
    url = reverse("workspace:admin_jurisdiction_edit", args=[county.pk])
    form = as_state_admin.get(url).content.decode()
    assert f'<option value="{town.pk}"' not in form and f'<option value="{state.pk}"' in form  # not offered ...
    data = {"name": county.name, "code": county.code, "time_zone": county.time_zone}
    for below in (town, county):  # ... and refused when posted by hand
        response = as_state_admin.post(url, {**data, "parent": str(below.pk)})
        assert response.status_code == 422
        assert "Select a valid choice" in field_error(response.content.decode(), "parent")
    county.refresh_from_db()
    assert county.parent == state


def test_a_jurisdiction_in_use_is_not_deleted(as_state_admin, county, team):
    response = as_state_admin.post(reverse("workspace:admin_jurisdiction_delete", args=[county.pk]), follow=True)
    assert "is in use (teams" in response.content.decode()
    assert Jurisdiction.objects.filter(pk=county.pk).exists()


def test_teams_are_created_and_renamed(as_admin, county, team):
    response = as_admin.post(reverse("workspace:admin_team_create", args=[county.pk]), {"name": "Night shift"})
    assert response.status_code == 302
    night = Team.objects.get(name="Night shift")
    response = as_admin.post(reverse("workspace:admin_team_create", args=[county.pk]), {"name": "team a"})
    assert "already has a team of this name" in field_error(response.content.decode(), "name")
    as_admin.post(reverse("workspace:admin_team_edit", args=[night.pk]), {"name": "Evening shift"})
    night.refresh_from_db()
    assert night.name == "Evening shift"


def test_skills_are_listed_and_created(as_admin, county):
    response = as_admin.post(reverse("workspace:admin_skills"), {"name": "ASL", "code": "asl", "jurisdiction": county.pk})
    assert response.status_code == 302
    assert "<code>asl</code>" in as_admin.get(reverse("workspace:admin_skills")).content.decode()
    assert Skill.objects.get(code="asl").jurisdiction == county


# --- users -----------------------------------------------------------------------------------------


def test_a_user_is_created_and_the_temporary_password_shown_once(as_admin, admin, county, team):
    response = as_admin.post(reverse("workspace:admin_user_create"), user_form(county, team=team))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    password = re.search(r'<code id="temporary-password">([^<]+)</code>', html).group(1)
    marta = User.objects.get(username="marta")
    assert marta.check_password(password) and marta.must_change_password and marta.team == team
    assert password not in as_admin.get(reverse("workspace:admin_user_edit", args=[marta.pk])).content.decode()


def test_the_edit_page_keeps_the_users_languages_and_saves_changes(as_admin, county, team):
    as_admin.post(
        reverse("workspace:admin_user_create"), user_form(county, languages=(("es", "native"), ("vi", "conversational")))
    )
    marta = User.objects.get(username="marta")
    url = reverse("workspace:admin_user_edit", args=[marta.pk])
    html = as_admin.get(url).content.decode()
    assert 'name="languages-INITIAL_FORMS" value="2"' in html
    assert 'name="username"' not in html  # the user name is kept for good
    data = user_form(county, team=team, languages=(("es", "native"),), last_name="Reyes Ortiz")
    del data["username"]
    assert as_admin.post(url, data).status_code == 302
    marta.refresh_from_db()
    assert (marta.last_name, marta.team) == ("Reyes Ortiz", team)
    assert list(marta.spoken_languages.values_list("language", flat=True)) == ["es"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"role": "superuser"}, "role", "Select a valid choice"),
        ({"first_name": "M" * 10_240}, "first_name", "at most 150 characters"),
        ({"last_name": "Reyes\x1b[31m"}, "last_name", "control characters"),
        ({"username": "<b>bold</b>"}, "username", "letters, digits"),
        ({"username": "admin.north"}, "username", "This user name is taken"),
        ({"email": "@@"}, "email", "valid email"),
    ],
)
def test_hostile_user_input_is_refused_on_its_field_and_nothing_is_saved(as_admin, county, overrides, field, message):
    before = (User.objects.count(), AuditEntry.objects.filter(action="create").count())
    response = as_admin.post(reverse("workspace:admin_user_create"), user_form(county, **overrides))
    assert response.status_code == 422
    assert message in field_error(response.content.decode(), field)
    assert (User.objects.count(), AuditEntry.objects.filter(action="create").count()) == before


def test_a_team_of_another_jurisdiction_posted_by_hand_is_refused(as_state_admin, county, other_county):
    south_team = Team.objects.create(name="South desk", jurisdiction=other_county)
    # The state's administrator may see both counties: the service says the team is of another jurisdiction.
    response = as_state_admin.post(reverse("workspace:admin_user_create"), user_form(county, team=south_team))
    assert response.status_code == 422
    assert "This team works in another jurisdiction" in field_error(response.content.decode(), "team")
    assert not User.objects.filter(username="marta").exists()


def test_a_county_administrator_cannot_post_another_countys_team_or_jurisdiction(as_admin, county, other_county):
    south_team = Team.objects.create(name="South desk", jurisdiction=other_county)
    for data, field in ((user_form(county, team=south_team), "team"), (user_form(other_county), "jurisdiction")):
        response = as_admin.post(reverse("workspace:admin_user_create"), data)
        assert response.status_code == 422
        assert "Select a valid choice" in field_error(response.content.decode(), field)
    assert not User.objects.filter(username="marta").exists()


def test_a_language_listed_twice_or_unknown_is_refused(as_admin, county):
    response = as_admin.post(
        reverse("workspace:admin_user_create"), user_form(county, languages=(("es", "native"), ("es", "fluent")))
    )
    assert response.status_code == 422 and "is listed twice" in response.content.decode()
    response = as_admin.post(reverse("workspace:admin_user_create"), user_form(county, languages=(("tlh", "native"),)))
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    assert not UserLanguage.objects.exists()


def test_a_user_of_another_county_is_out_of_reach(as_admin, make_user, other_county):
    south = make_user(Role.CONTACT_TRACER, other_county)
    for name in ("admin_user_edit", "admin_user_deactivate", "admin_user_password_reset", "admin_user_reactivate"):
        method = as_admin.get if name == "admin_user_edit" else as_admin.post
        assert method(reverse(f"workspace:{name}", args=[south.pk])).status_code == 404
    assert AuditEntry.objects.filter(action="denied", object_type="user", object_id=str(south.pk)).count() == 4
    south.refresh_from_db()
    assert south.is_active and not south.must_change_password


def test_deactivate_and_reactivate_from_the_user_page(as_admin, users):
    tracer = users[Role.CONTACT_TRACER]
    response = as_admin.post(reverse("workspace:admin_user_deactivate", args=[tracer.pk]), follow=True)
    assert "can no longer sign in" in response.content.decode()
    tracer.refresh_from_db()
    assert not tracer.is_active
    as_admin.post(reverse("workspace:admin_user_reactivate", args=[tracer.pk]))
    tracer.refresh_from_db()
    assert tracer.is_active


def test_the_user_list_filters_and_pages_within_scope(as_state_admin, state, county, other_county, make_user):
    for i in range(55):
        make_user(Role.CONTACT_TRACER, county, username=f"north-{i:02d}")
    make_user(Role.SUPERVISOR, other_county, username="south-supervisor")
    retired = make_user(Role.CONTACT_TRACER, other_county, username="south-retired")
    retired.is_active = False
    retired.save()

    url = reverse("workspace:admin_users")
    html = as_state_admin.get(url, {"jurisdiction": county.pk, "role": Role.CONTACT_TRACER}).content.decode()
    assert "Page 1 of 2" in html
    assert f"jurisdiction={county.pk}&amp;role=contact_tracer&amp;page=2" in html  # the pager keeps the filters
    assert "south-supervisor" not in html
    html = as_state_admin.get(url, {"active": "no"}).content.decode()
    assert "south-retired" in html and "south-supervisor" not in html
    html = as_state_admin.get(url, {"role": "not-a-role"}).content.decode()
    assert "Select a valid choice" in html


def test_the_user_list_costs_a_fixed_number_of_queries(client, state_admin, county, team, make_user):
    client.force_login(state_admin)
    url = reverse("workspace:admin_users")

    def cost() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    make_user(Role.CONTACT_TRACER, county, team)
    few = cost()
    for i in range(60):
        user = make_user(Role.CONTACT_TRACER, county, team, username=f"many-{i}")
        UserLanguage.objects.create(user=user, language="es", proficiency="native")
    many = cost()
    assert few == many <= USER_LIST_QUERY_BUDGET, (few, many)


def test_no_administration_page_shows_a_case_person(as_admin, admin, make_case, county, users):
    make_case(county, owner=users[Role.CASE_INVESTIGATOR], first_name="Perpetua", last_name="Quintanilla")
    pages = [
        reverse("workspace:my_work"),
        reverse("workspace:admin_jurisdictions"),
        reverse("workspace:admin_users"),
        reverse("workspace:admin_rule_sets", args=[county.pk]),
        reverse("workspace:admin_user_edit", args=[users[Role.CASE_INVESTIGATOR].pk]),
    ]
    for url in pages:
        html = as_admin.get(url).content.decode()
        assert "Perpetua" not in html and "Quintanilla" not in html


def test_only_administrators_see_the_administration_link(client, users):
    for role, user in users.items():
        client.force_login(user)
        shown = 'href="/administration/"' in client.get("/").content.decode()
        assert shown == (role == Role.ADMINISTRATOR), role


# --- rule versions ---------------------------------------------------------------------------------


def test_a_rule_version_is_added_and_the_inherited_one_shown(as_admin, state, county):
    RuleSet.objects.create(jurisdiction=state, effective_from=dt.date(2020, 1, 1), note="State guidance")
    url = reverse("workspace:admin_rule_sets", args=[county.pk])
    html = as_admin.get(url).content.decode()
    assert "inherited from Example State" in html and "In force today" in html
    data = {
        "effective_from": "2022-01-01",
        "days_before_onset": "2",
        "days_before_specimen": "2",
        "isolation_days": "5",
        "quarantine_days": "10",
    }
    assert as_admin.post(url, data).status_code == 302
    response = as_admin.post(url, {**data, "isolation_days": "600"})
    assert response.status_code == 422 and field_error(response.content.decode(), "isolation_days")
    response = as_admin.post(url, data)
    assert "already has a version for this condition in force from this date" in field_error(
        response.content.decode(), "effective_from"
    )
    assert RuleSet.objects.filter(jurisdiction=county).count() == 1


def test_a_rule_version_that_judged_a_case_cannot_be_opened_for_change(as_admin, county, make_case, users):
    rule_set = RuleSet.objects.create(jurisdiction=county, effective_from=dt.date(2020, 1, 1))
    make_case(county, owner=users[Role.CASE_INVESTIGATOR])
    response = as_admin.get(reverse("workspace:admin_rule_set_edit", args=[rule_set.pk]), follow=True)
    assert "only superseded by a version in force from a later date" in response.content.decode()
    as_admin.post(reverse("workspace:admin_rule_set_delete", args=[rule_set.pk]))
    assert RuleSet.objects.filter(pk=rule_set.pk).exists()


# --- a temporary password must be changed ---------------------------------------------------------


def test_a_user_with_a_temporary_password_is_sent_to_change_it_until_done(client, as_admin, users):
    tracer = users[Role.CONTACT_TRACER]
    html = as_admin.post(reverse("workspace:admin_user_password_reset", args=[tracer.pk])).content.decode()
    temporary = re.search(r'<code id="temporary-password">([^<]+)</code>', html).group(1)

    browser = Client()
    assert sign_in_through_pages(browser, tracer, temporary).status_code == 302
    for url in ("/", reverse("workspace:admin_users"), "/cases/1/"):
        assert browser.get(url)["Location"] == "/accounts/password/"
    assert browser.get("/api/cases").status_code == 403
    assert browser.get("/accounts/password/").status_code == 200
    response = browser.post(
        "/accounts/password/", {"old_password": temporary, "new_password1": "short", "new_password2": "short"}
    )
    assert response.status_code == 200 and "too short" in response.content.decode()
    response = browser.post(
        "/accounts/password/",
        {"old_password": temporary, "new_password1": "my own good passphrase", "new_password2": "my own good passphrase"},
    )
    assert response["Location"] == "/"
    assert browser.get("/").status_code == 200
    tracer.refresh_from_db()
    assert not tracer.must_change_password
    assert AuditEntry.objects.filter(actor_id=tracer.pk, detail="password changed").exists()


def test_the_administration_pages_speak_spanish(as_admin, county):
    as_admin.post("/i18n/setlang/", {"language": "es", "next": "/"})
    html = as_admin.get(reverse("workspace:admin_jurisdictions")).content.decode()
    assert "<h1>Administración</h1>" in html and "Jurisdicciones y equipos" in html
    html = as_admin.get(reverse("workspace:admin_user_create")).content.decode()
    assert "Idiomas que habla" in html and "Nativo" in html and "Español" in html


def test_the_edit_page_offers_the_team_a_user_already_has_outside_the_administrators_reach(as_admin, state, county):
    state_team = Team.objects.create(name="State desk", jurisdiction=state)
    user = User.objects.create(username="lent", first_name="L", last_name="T", jurisdiction=county, team=state_team)
    html = as_admin.get(reverse("workspace:admin_user_edit", args=[user.pk])).content.decode()
    assert f'<option value="{state_team.pk}" selected>' in html
