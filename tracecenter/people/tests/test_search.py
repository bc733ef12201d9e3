"""Person search over keyed hashes: what a query finds, in what order, and never beyond what it is given."""

from __future__ import annotations

import datetime as dt

import pytest

from tracecenter.core.errors import DomainError
from tracecenter.people.models import Person
from tracecenter.people.search import PersonQuery, clean_person_query, persons_matching


def _find(among, **query) -> list[int]:
    return list(persons_matching(among, clean_person_query(PersonQuery(**query))).values_list("pk", flat=True))


def test_nicknames_typos_and_swapped_day_and_month_find_the_person(make_person, county):
    william = make_person(
        county, first_name="William", last_name="Smith", date_of_birth=dt.date(1980, 3, 7), phones=[], emails=[]
    )
    make_person(county, first_name="Maria", last_name="Lopez", date_of_birth=dt.date(1980, 3, 7), phones=[], emails=[])
    everyone = Person.objects.all()
    assert _find(everyone, first_name="Bill", last_name="Smith") == [william.pk]
    assert _find(everyone, first_name="Wiliam", last_name="Smyth") == [william.pk]
    # A surname typed quite wrong, with the first initial and the birth date (day and month swapped).
    assert _find(everyone, first_name="W", last_name="Xmiht", date_of_birth=dt.date(1980, 7, 3)) == [william.pk]


def test_a_misspelled_surname_alone_finds_the_person_exact_spellings_first(make_person, county):
    johnson = make_person(county, first_name="Mary", last_name="Johnson", phones=[], emails=[])
    jonson = make_person(county, first_name="Peter", last_name="Jonson", phones=[], emails=[])
    make_person(county, first_name="Mary", last_name="Garcia", phones=[], emails=[])
    everyone = Person.objects.all()
    assert _find(everyone, last_name="Jonsen") == sorted([johnson.pk, jonson.pk], reverse=True)
    # The spelling typed exactly comes first, its sound-alikes after it.
    assert _find(everyone, last_name="Jonson") == [jonson.pk, johnson.pk]
    # With a first name, the surname's sound alone is not enough: Peter Jonson is not a "Mary Jonsen".
    assert _find(everyone, first_name="Mary", last_name="Jonsen") == [johnson.pk]


def test_a_search_never_finds_beyond_the_persons_it_is_given(make_person, county):
    seen = make_person(county, first_name="Ana", last_name="García", phones=["617-555-0134"])
    hidden = make_person(county, first_name="Ana", last_name="García", phones=["617-555-0134"])
    among = Person.objects.filter(pk=seen.pk)
    assert _find(among, first_name="Ana", last_name="Garcia") == [seen.pk]
    assert _find(among, phone="6175550134") == [seen.pk]
    assert hidden.pk in _find(Person.objects.all(), phone="6175550134")


def test_exact_matches_rank_before_phonetic_ones(make_person, county):
    close = make_person(county, first_name="Jon", last_name="Smyth", phones=[], emails=[])
    exact = make_person(county, first_name="John", last_name="Smith", phones=[], emails=[])
    assert _find(Person.objects.all(), first_name="John", last_name="Smith") == [exact.pk, close.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"last_name": "x" * 101}, "last_name"),
        ({"last_name": "Ga\x1bcia"}, "last_name"),
        ({"last_name": "1234"}, "last_name"),
        ({"phone": "555"}, "phone"),
        ({"phone": "6\x00175550134"}, "phone"),
        ({"first_name": "Ana"}, "last_name"),
        ({}, "last_name"),
        ({"date_of_birth": dt.date(1850, 1, 1)}, "date_of_birth"),
    ],
)
def test_a_bad_query_names_its_field(query, field):
    with pytest.raises(DomainError) as caught:
        clean_person_query(PersonQuery(**query))
    assert caught.value.field == field


def test_a_name_without_letters_is_refused_as_such():
    with pytest.raises(DomainError, match="at least one letter"):
        clean_person_query(PersonQuery(last_name="1234"))
