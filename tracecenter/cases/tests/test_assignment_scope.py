import pytest
from django.core.exceptions import PermissionDenied

from tracecenter.accounts.roles import Role
from tracecenter.cases.services import case_assign


def test_a_supervisor_cannot_assign_a_case_of_another_county(make_case, make_user, county, other_county, users):
    case = make_case(county)
    outside_supervisor = make_user(Role.SUPERVISOR, other_county)
    with pytest.raises(PermissionDenied):
        case_assign(actor=outside_supervisor, case=case, assignee=users[Role.CASE_INVESTIGATOR])
    case.refresh_from_db()
    assert case.owner is None


def test_a_supervisor_assigns_a_case_of_their_own_county(make_case, county, users):
    case = make_case(county)
    case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=users[Role.CASE_INVESTIGATOR])
    case.refresh_from_db()
    assert case.owner == users[Role.CASE_INVESTIGATOR] and case.status == "assigned"
