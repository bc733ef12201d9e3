"""The routing pages through the test client: queues and their workflows, the preview, surge mode; refusals audited."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.models import Jurisdiction, Proficiency, UserLanguage
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.routing import surge
from tracecenter.routing.models import QueueConfig, SurgeSetting, WorkItem
from tracecenter.routing.queues import QUEUES, queues_for

pytestmark = pytest.mark.django_db

DEFAULT_STEPS = [
    ("owner", "", "10", False),
    ("rule", "team == task.team", "20", True),
    ("rule", "task.jurisdiction within jurisdiction", "60", False),
    ("rule", "", "", False),
]


def queue_post(action: str = "save", expression: str = 'role == "case_investigator"', steps=None, **overrides) -> dict:
    rows = DEFAULT_STEPS if steps is None else steps
    data = {
        "kind": "case_interview",
        "action": action,
        "expression": expression,
        "aging_points": "10",
        "aging_cap": "20",
        "offer_seconds": "45",
        "active": "on",
        "steps-TOTAL_FORMS": str(len(rows)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "10",
        "sample-jurisdiction": "",
        "sample-team": "",
        "sample-language": "",
    }
    for i, (who, expression_, minutes, skip) in enumerate(rows):
        data |= {f"steps-{i}-who": who, f"steps-{i}-expression": expression_, f"steps-{i}-minutes": minutes}
        if skip:
            data[f"steps-{i}-skip_without_team"] = "on"
    return data | overrides


def field_error(html: str, field: str) -> str:
    found = re.search(rf'id="id_{field}_error" role="alert">([^<]*)<', html)
    assert found, f"no error on {field}"
    return found.group(1)


def denials(user) -> int:
    return AuditEntry.objects.filter(action="denied", actor_id=user.pk).count()


@pytest.fixture
def state_admin(make_user, state):
    return make_user(Role.ADMINISTRATOR, state, username="admin.state")


@pytest.fixture
def as_state_admin(client: Client, state_admin) -> Client:
    client.force_login(state_admin)
    return client


def queue_url(state, kind: str = "case_interview") -> str:
    return reverse("workspace:admin_routing_queue", args=[state.pk]) + f"?kind={kind}"


# --- the overview -----------------------------------------------------------------------------------------


def test_the_routing_page_shows_each_queue_with_its_workflow(as_state_admin, state):
    response = as_state_admin.get(reverse("workspace:admin_routing"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Routing in Example State" in html
    for label in ("Case interview", "Contact notification", "Callback"):
        assert label in html
    assert "<code>role == &quot;case_investigator&quot;</code>" in html
    assert "the record's owner, 10 minutes" in html and "until taken" in html
    assert "skipped for work without a team" in html
    assert html.count(f'href="{queue_url(state, "")}') == 3  # a link to change each queue
    assert "Surge mode is off" in html and 'name="surge-reason"' in html


def test_supervisors_see_the_queues_and_only_the_states_supervisors_may_switch_surge(client, make_user, state, county):
    client.force_login(make_user(Role.SUPERVISOR, state))
    html = client.get(reverse("workspace:admin_routing")).content.decode()
    assert "Case interview" in html and 'name="surge-reason"' in html
    assert reverse("workspace:admin_routing_queue", args=[state.pk]) not in html  # settings are administrators'
    client.force_login(make_user(Role.SUPERVISOR, county))
    html = client.get(reverse("workspace:admin_routing")).content.decode()
    assert "Case interview" in html and 'name="surge-reason"' not in html
    assert "The state's administrators and the state's supervisors switch surge mode." in html


def test_roles_without_routing_are_refused_each_refusal_audited(client, make_user, state, county):
    tracer = make_user(Role.CONTACT_TRACER, county)
    client.force_login(tracer)
    for response in (
        client.get(reverse("workspace:admin_routing")),
        client.get(queue_url(state)),
        client.post(queue_url(state), queue_post()),
        client.post(reverse("workspace:admin_routing_surge", args=[state.pk]), {"surge-active": "on", "surge-reason": "x"}),
    ):
        assert response.status_code == 403
    assert denials(tracer) == 4
    supervisor = make_user(Role.SUPERVISOR, county)
    client.force_login(supervisor)
    assert client.get(queue_url(state)).status_code == 403  # the queues' settings: administrators only
    assert client.post(reverse("workspace:admin_routing_surge", args=[state.pk]), {"surge-reason": "x"}).status_code == 403
    assert denials(supervisor) == 2
    assert not QueueConfig.objects.exists() and not SurgeSetting.objects.exists()


def test_a_county_administrator_opens_the_queue_and_changes_nothing(client, make_user, state, county):
    admin = make_user(Role.ADMINISTRATOR, county)
    client.force_login(admin)
    html = client.get(queue_url(state)).content.decode()
    assert "Only the state's administrators change its queues." in html
    assert 'value="save"' not in html and 'value="preview"' in html
    for action in ("save", "reset"):
        assert client.post(queue_url(state), queue_post(action=action)).status_code == 403
    assert denials(admin) == 2
    assert not QueueConfig.objects.exists()


def test_another_states_page_looks_like_one_that_does_not_exist(client, make_user, state):
    other = Jurisdiction.objects.create(name="Other State", code="os")
    admin = make_user(Role.ADMINISTRATOR, other)
    client.force_login(admin)
    assert client.get(queue_url(state)).status_code == 404
    assert client.get(reverse("workspace:admin_routing_queue", args=[999_999])).status_code == 404
    assert denials(admin) == 1  # the state that exists; a missing id is only a 404
    assert client.get(queue_url(other, "washing")).status_code == 404


# --- changing a queue -----------------------------------------------------------------------------------------


def test_the_form_starts_from_the_queue_as_it_stands(as_state_admin, state):
    html = as_state_admin.get(queue_url(state)).content.decode()
    assert "role == &quot;case_investigator&quot;</textarea>" in html
    assert 'name="steps-TOTAL_FORMS" value="5"' in html  # the four steps and an empty row
    assert 'name="steps-1-expression"' in html and "team == task.team</textarea>" in html
    assert 'name="steps-3-minutes"' in html and 'name="steps-3-minutes" value=' not in html  # the last lasts


def test_saving_a_queue_makes_it_the_states_and_routing_reads_it(as_state_admin, state, state_admin):
    steps = [("owner", "", "5", False), ("rule", "languages.es >= 4", "30", False), ("rule", "", "", False)]
    response = as_state_admin.post(
        queue_url(state), queue_post(expression="  languages.es >= 3 ", steps=steps, offer_seconds="90")
    )
    assert response.status_code == 302 and response["Location"] == reverse("workspace:admin_routing")
    row = QueueConfig.objects.get(jurisdiction=state, kind="case_interview")
    assert (row.expression, row.offer_seconds, row.changed_by) == ("languages.es >= 3", 90, state_admin)
    assert [(s["owner_only"], s["expression"], s["minutes"]) for s in row.steps] == [
        (True, "", 5),
        (False, "languages.es >= 4", 30),
        (False, "", None),
    ]
    (queue,) = [q for q in queues_for(state) if q.id == "case_interview"]
    assert queue.expression.text == "languages.es >= 3" and [t.timeout for t in queue.targets] == [300, 1800, None]
    entry = AuditEntry.objects.get(object_type="queue_config")
    assert set(entry.fields) == {"expression", "steps", "offer_seconds"} and "languages" not in entry.detail
    html = as_state_admin.get(reverse("workspace:admin_routing")).content.decode()
    assert "saved" in html and "this state" in html


def test_a_removed_step_row_is_left_out(as_state_admin, state):
    data = queue_post()
    data["steps-1-DELETE"] = "on"
    assert as_state_admin.post(queue_url(state), data).status_code == 302
    assert [s["expression"] for s in QueueConfig.objects.get().steps] == ["", "task.jurisdiction within jurisdiction", ""]


def test_an_expression_mistake_is_shown_on_its_field_with_its_character(as_state_admin, state):
    response = as_state_admin.post(queue_url(state), queue_post(expression='role = "case_investigator"'))
    html = response.content.decode()
    assert response.status_code == 422
    assert field_error(html, "expression") == "At character 6: &#x27;=&#x27; is not part of an expression."
    assert "role = &quot;case_investigator&quot;</textarea>" in html  # what was typed, kept to correct
    assert not QueueConfig.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"expression": "a" * 1001}, "expression", "At character 1001: an expression is at most 1000 characters long."),
        ({"steps-2-expression": "jurisdiction within"}, "steps-2-expression", "At character 20: expected a name"),
        ({"steps-0-minutes": "-10"}, "steps-0-minutes", "Ensure this value is greater than or equal to 1."),
        ({"steps-1-minutes": "1e9"}, "steps-1-minutes", "Enter a whole number."),
        ({"steps-2-minutes": ""}, "steps-2-minutes", "Say how many minutes this step lasts"),
        ({"steps-3-minutes": "30"}, "steps-3-minutes", "The last step lasts until someone takes the work"),
        ({"steps-3-who": "owner"}, "steps-3-who", "The last step cannot be the owner only"),
        ({"steps-0-expression": "team == 1"}, "steps-0-expression", "A step for the owner only has no expression"),
        ({"steps-1-who": ""}, "steps-1-who", "Choose who this step is for"),
        ({"steps-1-who": "robot"}, "steps-1-who", "Select a valid choice."),
        ({"offer_seconds": "-45"}, "offer_seconds", "Ensure this value is greater than or equal to 10."),
        ({"aging_cap": "99999999999999999999"}, "aging_cap", "Ensure this value is less than or equal to 1000."),
    ],
)
def test_bad_input_is_refused_on_its_field(as_state_admin, state, overrides, field, message):
    response = as_state_admin.post(queue_url(state), queue_post(**overrides))
    assert response.status_code == 422
    assert field_error(response.content.decode(), field).startswith(message)
    assert not QueueConfig.objects.exists()


def test_too_many_steps_are_refused_whole(as_state_admin, state):
    rows = [("rule", "x == 1", "5", False)] * 10 + [("rule", "", "", False)]
    response = as_state_admin.post(queue_url(state), queue_post(steps=rows))
    assert response.status_code == 422
    assert "Please submit at most 10 forms." in response.content.decode()
    # 500 steps are more fields than any request may carry: refused before any form reads them.
    rows = [("rule", "x == 1", "5", False)] * 499 + [("rule", "", "", False)]
    assert as_state_admin.post(queue_url(state), queue_post(steps=rows)).status_code == 400
    # A count of 500 rows claimed with few sent is refused the same way as 11.
    response = as_state_admin.post(queue_url(state), queue_post(**{"steps-TOTAL_FORMS": "500"}))
    assert response.status_code == 422 and "Please submit at most 10 forms." in response.content.decode()
    assert not QueueConfig.objects.exists()


def test_hostile_text_is_shown_as_text_never_run(as_state_admin, state):
    script = "<script>alert(1)</script>"
    response = as_state_admin.post(queue_url(state), queue_post(expression=script, action="preview"))
    html = response.content.decode()
    assert response.status_code == 422 and script not in html and "&lt;script&gt;" in html
    assert field_error(html, "expression") == "At character 18: &#x27;/&#x27; is not part of an expression."


def test_returning_to_the_defaults(as_state_admin, state):
    as_state_admin.post(queue_url(state), queue_post(expression="languages.es >= 3"))
    assert queues_for(state) != list(QUEUES.values())
    response = as_state_admin.post(queue_url(state), {"kind": "case_interview", "action": "reset"})
    assert response.status_code == 302
    assert queues_for(state) == list(QUEUES.values())
    assert AuditEntry.objects.filter(object_type="queue_config", action="delete").count() == 1


# --- the preview -------------------------------------------------------------------------------------------


def _listed(html: str) -> list[str]:
    table = html[html.index('class="usa-table usa-table--borderless preview"') :]
    return re.findall(r'<th scope="row">([^<]*)</th>', table[: table.index("</table>")])


def test_the_preview_lists_exactly_the_users_the_typed_queue_reaches(as_state_admin, state, county, other_county, make_user):
    fluent = make_user(Role.CASE_INVESTIGATOR, county)
    UserLanguage.objects.create(user=fluent, language="es", proficiency=Proficiency.FLUENT)
    some = make_user(Role.CASE_INVESTIGATOR, other_county)
    UserLanguage.objects.create(user=some, language="es", proficiency=Proficiency.CONVERSATIONAL)
    english = make_user(Role.CASE_INVESTIGATOR, county)
    make_user(Role.CONTACT_TRACER, county)
    gone = make_user(Role.CASE_INVESTIGATOR, county)
    gone.is_active = False
    gone.save()

    data = queue_post(action="preview", **{"sample-jurisdiction": str(county.pk), "sample-language": "es"})
    response = as_state_admin.post(queue_url(state), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert _listed(html) == [fluent.display_name]  # an interview in Spanish: fluent investigators only
    assert "1 of 4 tracers would be reached." in html
    assert "Spanish (4)" in html

    data = queue_post(action="preview", expression='role == "case_investigator" and jurisdiction within task.jurisdiction')
    data["sample-jurisdiction"] = str(county.pk)
    html = as_state_admin.post(queue_url(state), data).content.decode()
    assert sorted(_listed(html)) == sorted([fluent.display_name, english.display_name])  # the county's, whatever they speak
    assert not QueueConfig.objects.exists()  # a preview saves nothing
    read = AuditEntry.objects.filter(object_type="routing_preview").latest("pk")
    assert read.action == "read" and read.detail == "ids " + ",".join(str(pk) for pk in sorted([fluent.pk, english.pk]))


# --- surge mode on the page ---------------------------------------------------------------------------------


def test_a_states_supervisor_switches_surge_with_a_reason(client, make_user, make_case, state, county):
    item = WorkItem.objects.get(case=make_case(county, days_ago=2))
    supervisor = make_user(Role.SUPERVISOR, state)
    client.force_login(supervisor)
    url = reverse("workspace:admin_routing_surge", args=[state.pk])
    form = {"surge-active": "on", "surge-recent_first": "on", "surge-recent_days": "6", "surge-household_first": "on"}

    missing = client.post(url, form)
    assert missing.status_code == 422
    assert field_error(missing.content.decode(), "surge-reason") == "This field is required."
    too_long = client.post(url, form | {"surge-reason": "x" * 500})
    assert too_long.status_code == 422 and "at most 120 characters" in field_error(too_long.content.decode(), "surge-reason")
    assert client.post(url, form | {"surge-recent_days": "90", "surge-reason": "wave"}).status_code == 422
    assert not SurgeSetting.objects.exists()

    response = client.post(url, form | {"surge-reason": "Cases tripled this week"})
    assert response.status_code == 302
    setting = SurgeSetting.objects.get(jurisdiction=state)
    assert (setting.active, setting.high_risk_first, setting.changed_by) == (True, False, supervisor)
    before = item.priority
    item.refresh_from_db()
    assert item.priority == before + surge.RECENT_POINTS
    entry = AuditEntry.objects.get(object_type="surge_setting")
    assert entry.actor_id == supervisor.pk and "tripled" not in entry.detail
    html = client.get(reverse("workspace:admin_routing")).content.decode()
    assert "Surge mode is on." in html and "Cases tripled this week" in html

    client.post(url, {"surge-recent_days": "6", "surge-reason": "Back to normal"})
    item.refresh_from_db()
    assert item.priority == before and not SurgeSetting.objects.get().active


def test_every_label_and_description_points_at_something_on_the_pages(as_state_admin, state, county, make_user):
    from tracecenter.workspace.tests.test_described_fields import _dangling

    make_user(Role.CASE_INVESTIGATOR, county)
    pages = [
        as_state_admin.get(reverse("workspace:admin_routing")),
        as_state_admin.get(queue_url(state)),
        as_state_admin.post(queue_url(state), queue_post(action="preview")),
        as_state_admin.post(queue_url(state), queue_post(expression="role =", **{"steps-0-minutes": "-1"})),
        as_state_admin.post(reverse("workspace:admin_routing_surge", args=[state.pk]), {"surge-recent_days": "0"}),
    ]
    assert [page.status_code for page in pages] == [200, 200, 200, 422, 422]
    for page in pages:
        assert _dangling(page.content.decode()) == []
