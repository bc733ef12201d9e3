"""Identity reviews and merges name the persons to reviewers who may see both, and keep a history of decisions."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.people.identity import match_review_open
from tracecenter.people.merge import match_review_decide, person_merge_undo
from tracecenter.people.models import PersonMerge

URL = "workspace:match_reviews"


def _section(page: str, table_id: str) -> str:
    return page.split(f'id="{table_id}"')[1].split("</table>")[0]


@pytest.fixture
def reviews(make_person, county, other_county, users):
    def review(first_a, first_b, jurisdiction_b=county):
        a = make_person(county, first_name=first_a, phones=[], emails=[])
        b = make_person(jurisdiction_b, first_name=first_b, phones=[], emails=[])
        return match_review_open(
            jurisdiction_id=county.pk, incoming_id=a.pk, candidate_id=b.pk, score=15.0, comparison=[], source="test"
        )

    return review


def test_open_reviews_name_both_persons_and_each_name_shown_is_audited(client: Client, users, reviews):
    review = reviews("Rosa", "Rosalia")
    supervisor = users[Role.SUPERVISOR]
    client.force_login(supervisor)
    table = _section(client.get(reverse(URL)).content.decode(), "open-reviews")
    assert "Rosa García" in table and "Rosalia García" in table
    named = AuditEntry.objects.filter(actor_id=supervisor.pk, object_type="person", detail="named in identity reviews")
    assert set(named.values_list("object_id", flat=True)) == {str(review.incoming_id), str(review.candidate_id)}


def test_a_review_with_a_record_outside_the_reviewers_reach_names_nobody(
    client: Client, users, reviews, make_user, other_county, state
):
    review = reviews("Lena", "Magda", jurisdiction_b=other_county)
    supervisor = users[Role.SUPERVISOR]
    client.force_login(supervisor)
    page = client.get(reverse(URL)).content.decode()
    assert "Lena" not in page and "Magda" not in page
    assert not AuditEntry.objects.filter(actor_id=supervisor.pk, detail="named in identity reviews").exists()
    # A state reviewer sees both: names shown.
    state_reviewer = make_user(Role.SUPERVISOR, state)
    client.force_login(state_reviewer)
    page = client.get(reverse(URL)).content.decode()
    assert "Lena García" in page and "Magda García" in page
    assert review.pk


def test_the_history_lists_different_people_merges_and_undone_merges(client: Client, users, reviews):
    supervisor = users[Role.SUPERVISOR]
    apart = reviews("Ines", "Inés")
    same = reviews("Bea", "Beatriz")
    match_review_decide(actor=supervisor, review=apart, same_person=False)
    match_review_decide(actor=supervisor, review=same, same_person=True)
    merge = PersonMerge.objects.get(merged_id=same.incoming_id)
    client.force_login(supervisor)
    history = _section(client.get(reverse(URL)).content.decode(), "decisions")
    assert "different people" in history and "Ines García" in history
    assert "same person, merged" in history and "Beatriz García" in history
    assert supervisor.display_name in history
    person_merge_undo(actor=supervisor, merge=merge)
    history = _section(client.get(reverse(URL)).content.decode(), "decisions")
    assert "merge undone: separate again" in history
