"""The case page shows what the interview established; reopening the interview shows what it recorded."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.cases.services import CaseFacts
from tracecenter.contacts.interview import ContactInput, VisitInput, interview_record
from tracecenter.contacts.services import ExposureInput, PlaceInput
from tracecenter.core import clock
from tracecenter.people.services import PersonInput

DAY = dt.timedelta(days=1)


def test_the_case_page_shows_the_answers_and_the_reopened_interview_what_was_recorded(client: Client, users, make_case, county):
    investigator = users[Role.CASE_INVESTIGATOR]
    case = make_case(county, owner=investigator, days_ago=2)
    client.force_login(investigator)
    before = client.get(reverse("workspace:case_detail", args=[case.pk])).content.decode()
    assert "Not yet interviewed." in before
    interview_record(
        actor=investigator,
        case=case,
        facts=CaseFacts(
            symptom_onset=clock.today() - 3 * DAY,
            asymptomatic=False,
            symptoms=["fever", "cough"],
            hospitalized=True,
            congregate_setting=False,
            notes="Works nights <b>at</b> the depot",
        ),
        visits=[
            VisitInput(
                place=PlaceInput(name="Harbor Gym", kind="gym"),
                day=clock.today() - 2 * DAY,
                arrived=dt.time(9, 0),
                left=dt.time(10, 0),
            )
        ],
        contacts=[
            ContactInput(
                person=PersonInput(first_name="Tomás", last_name="Quiroga"),
                exposure=ExposureInput(last_exposure_date=clock.today() - DAY, relationship="coworker"),
            )
        ],
    )
    page = client.get(reverse("workspace:case_detail", args=[case.pk])).content.decode()
    answers = page.split('id="interview-answers"')[1].split("</section>")[0]
    symptoms = answers.split('id="answer-symptoms">')[1].split("<")[0]
    assert sorted(symptoms.split(", ")) == ["Cough", "Fever or chills"]
    assert 'id="answer-hospitalized">Yes<' in answers and 'id="answer-congregate">No<' in answers
    assert "Works nights &lt;b&gt;at&lt;/b&gt; the depot" in answers  # shown as typed, never as markup
    reopened = client.get(reverse("workspace:interview", args=[case.pk])).content.decode()
    recorded = reopened.split('id="recorded-so-far"')[1].split("</section>")[0]
    assert "Tomás Quiroga" in recorded and "Coworker" in recorded
    assert "Harbor Gym" in recorded
