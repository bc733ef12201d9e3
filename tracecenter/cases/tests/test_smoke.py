from tracecenter.cases.models import CaseStatus


def test_a_positive_result_opens_a_case_with_its_infectious_period(make_case, county):
    case = make_case(county)
    assert case.status == CaseStatus.NEW
    assert case.infectious_start is not None
    assert (case.isolation_end - case.specimen_collection_date).days == 10
