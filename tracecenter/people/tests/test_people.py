"""Normalizing identifying values, refusing bad ones, and finding people again through blind indexes."""

import dataclasses
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.people import normalize
from tracecenter.people.models import ContactPoint, Person
from tracecenter.people.services import PersonInput, clean_person_input, person_create, person_find_exact, person_update

# Normalization


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("José  García", "jose garcia"),
        ("JOSÉ GARCÍA", "Jose Garcia"),
        ("Müller-Lüdenscheidt", "muller ludenscheidt"),
        ("O'Brien", "OBrien"),
        ("Straße", "Strasse"),
        ("Søren", "Soren"),
        ("Łukasz", "Lukasz"),
        ("Ｊｏｓé", "jose"),  # full-width letters
    ],
)
def test_names_that_differ_only_in_accents_case_spaces_or_punctuation_share_a_key(a, b):
    assert normalize.name_key(a) == normalize.name_key(b)


def test_a_name_key_keeps_only_letters():
    assert normalize.name_key("José  García") == "josegarcia"
    assert normalize.name_key("Anne-Marie 2nd") == "annemariend"


@pytest.mark.parametrize(("a", "b"), [("李", "王"), ("Иван", "Пётр"), ("Ελένη", "Μαρία"), ("محمد", "أحمد")])
def test_names_in_other_scripts_keep_distinct_keys(a, b):
    assert normalize.name_key(a)
    assert normalize.name_key(a) != normalize.name_key(b)


def test_a_name_is_collapsed_to_single_spaces():
    assert normalize.clean_name("  Ana \t María  ") == "Ana María"


@pytest.mark.parametrize("name", ["Ana\x00", "Ana\u200bMaría", "Ana\x1b[31m", "A\u202ena"])
def test_a_name_with_control_or_invisible_format_characters_is_refused(name):
    with pytest.raises(normalize.InvalidValue):
        normalize.clean_name(name)


def test_a_name_without_any_letter_is_refused():
    with pytest.raises(normalize.InvalidValue):
        normalize.clean_name("12345")
    assert normalize.clean_name("李小龙") == "李小龙"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(617) 555-0134", "+16175550134"),
        ("617.555.0134", "+16175550134"),
        ("+1 617 555 0134", "+16175550134"),
        ("  6175550134 ", "+16175550134"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_are_stored_in_e164(raw, e164):
    assert normalize.phone_e164(raw) == e164


@pytest.mark.parametrize("raw", ["", "   ", "12", "555-0134", "not a number", "+1 000 000 0000", "1" * 41])
def test_invalid_phone_numbers_are_refused(raw):
    with pytest.raises(normalize.InvalidValue):
        normalize.phone_e164(raw)


def test_e_mail_addresses_are_trimmed_and_lower_cased():
    assert normalize.email_key("  Ana.Garcia@Example.ORG ") == "ana.garcia@example.org"


@pytest.mark.parametrize(
    "raw", ["ana", "ana@", "@example.org", "ana@example", "ana garcia@example.org", "ana@exa_mple.org", "a" * 65 + "@example.org"]
)
def test_invalid_e_mail_addresses_are_refused(raw):
    with pytest.raises(normalize.InvalidValue):
        normalize.email_key(raw)


# Cleaning a person's input


def valid(**changes):
    base = PersonInput(
        first_name="  Ana ",
        last_name="García",
        date_of_birth=dt.date(1985, 3, 14),
        phones=["(617) 555-0134", "617-555-0134", ""],
        emails=[" Ana@Example.org", "ana@example.org"],
    )
    return dataclasses.replace(base, **changes)


def test_clean_input_is_normalized_and_deduplicated():
    clean = clean_person_input(valid(state=" ma ", postal_code=" 02139 "))
    assert clean.values["first_name"] == "Ana"
    assert clean.values["state"] == "MA"
    assert clean.values["postal_code"] == "02139"
    assert clean.phones == ["+16175550134"]
    assert clean.emails == ["ana@example.org"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_name": "  "}, "first_name"),
        ({"last_name": ""}, "last_name"),
        ({"first_name": "Ana\x07"}, "first_name"),
        ({"middle_name": "x" * 201}, "middle_name"),
        ({"phones": ["call me maybe"]}, "phones"),
        ({"emails": ["ana(at)example.org"]}, "emails"),
        ({"date_of_birth": dt.date(1850, 1, 1)}, "date_of_birth"),
        ({"sex": "X"}, "sex"),
        ({"state": "Massachusetts"}, "state"),
        ({"postal_code": "SW1A 1AA"}, "postal_code"),
        ({"notes": "n" * 10_001}, "notes"),
        ({"preferred_language": "Martian"}, "preferred_language"),
        ({"preferred_language": "xx"}, "preferred_language"),
        ({"preferred_language": "en'; --"}, "preferred_language"),
    ],
)
def test_invalid_input_is_refused_naming_the_field(changes, field):
    with pytest.raises(DomainError) as caught:
        clean_person_input(valid(**changes))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("written", "stored"),
    [("es", "es"), ("spa", "es"), ("Spanish", "es"), ("español", "es"), ("es-MX", "es"), ("Cantonese", "yue"), ("", "en")],
)
def test_a_language_is_stored_as_its_iso_code(written, stored):
    assert clean_person_input(valid(preferred_language=written)).values["preferred_language"] == stored


def test_a_birth_date_in_the_future_is_refused():
    with pytest.raises(DomainError) as caught:
        clean_person_input(valid(date_of_birth=clock.today() + dt.timedelta(days=1)))
    assert caught.value.field == "date_of_birth"


hostile_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=250) | st.sampled_from(
    ["", " ", "\x00", "'; DROP TABLE people_person; --", "<script>alert(1)</script>", "\u202e", "𝔄𝔫𝔞", "ß" * 200, "+" * 40]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=hostile_text,
    last=hostile_text,
    middle=hostile_text,
    street=hostile_text,
    city=hostile_text,
    state=hostile_text,
    postal=hostile_text,
    notes=hostile_text,
    language=hostile_text,
    sex=hostile_text,
    phones=st.lists(hostile_text, max_size=3),
    emails=st.lists(hostile_text, max_size=3),
    dob=st.none() | st.dates(),
)
def test_hostile_input_never_raises_anything_but_a_domain_error(
    first, last, middle, street, city, state, postal, notes, language, sex, phones, emails, dob
):
    data = PersonInput(
        first_name=first,
        last_name=last,
        middle_name=middle,
        street=street,
        city=city,
        state=state,
        postal_code=postal,
        notes=notes,
        preferred_language=language,
        sex=sex,
        phones=phones,
        emails=emails,
        date_of_birth=dob,
    )
    try:
        clean = clean_person_input(data)
    except DomainError as exc:
        assert exc.field
        return
    assert clean.values["first_name"] and clean.values["last_name"]
    assert all(phone.startswith("+") for phone in clean.phones)
    assert len(clean.values["preferred_language"]) <= 8


# Storing and finding people


def test_a_created_person_reads_back_and_gets_contact_points(county):
    person = person_create(actor=None, jurisdiction=county, data=valid())
    person = Person.objects.get(pk=person.pk)
    assert (person.first_name, person.last_name, person.date_of_birth) == ("Ana", "García", dt.date(1985, 3, 14))
    assert list(person.contact_points.values_list("kind", flat=True)) == ["email", "phone"]
    phone = person.contact_points.get(kind=ContactPoint.Kind.PHONE)
    assert phone.value == "+16175550134"
    assert phone.value_bidx == ContactPoint.index_of("phone", "+16175550134")


def test_an_existing_person_is_found_by_name_and_birth_date_however_the_name_is_typed(county):
    ana = person_create(actor=None, jurisdiction=county, data=valid())
    found = person_find_exact(
        among=Person.objects.all(), data=PersonInput(first_name="ANA", last_name="garcia", date_of_birth=dt.date(1985, 3, 14))
    )
    assert found == ana


def test_an_existing_person_is_found_by_name_and_a_shared_phone_however_it_is_written(county):
    ana = person_create(actor=None, jurisdiction=county, data=valid(date_of_birth=None))
    found = person_find_exact(
        among=Person.objects.all(), data=PersonInput(first_name="Ana", last_name="Garcia", phones=["+1 617 555 0134"])
    )
    assert found == ana


def test_a_person_is_found_only_among_the_records_given(county, other_county):
    ana = person_create(actor=None, jurisdiction=county, data=valid())
    assert person_find_exact(among=Person.objects.filter(jurisdiction=county), data=valid()) == ana
    # Never the whole registry: the caller says what the user may compare with.
    assert person_find_exact(among=Person.objects.filter(jurisdiction=other_county), data=valid()) is None
    assert person_find_exact(among=Person.objects.exclude(pk=ana.pk), data=valid()) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"date_of_birth": dt.date(1985, 3, 15)},
        {"first_name": "Anna"},
        {"date_of_birth": None, "phones": ["(617) 555-0199"]},
        {"date_of_birth": None, "phones": []},  # a name alone is never enough
    ],
)
def test_a_person_is_not_matched_on_a_different_birth_date_name_or_phone(county, changes):
    person_create(actor=None, jurisdiction=county, data=valid())
    assert person_find_exact(among=Person.objects.all(), data=valid(**changes)) is None


def test_a_namesake_sharing_the_household_phone_but_born_on_another_day_is_not_matched(county):
    person_create(
        actor=None, jurisdiction=county, data=valid(first_name="José", last_name="García", date_of_birth=dt.date(1960, 2, 2))
    )
    junior = valid(first_name="José", last_name="García", date_of_birth=dt.date(1992, 8, 8))
    assert person_find_exact(among=Person.objects.all(), data=junior) is None


def test_a_shared_phone_matches_when_one_side_has_no_birth_date(county):
    ana = person_create(actor=None, jurisdiction=county, data=valid(date_of_birth=None))
    assert person_find_exact(among=Person.objects.all(), data=valid()) == ana


def test_people_with_names_in_another_script_and_the_same_birth_date_are_not_confused(county):
    li = person_create(
        actor=None, jurisdiction=county, data=PersonInput(first_name="小龙", last_name="李", date_of_birth=dt.date(1990, 1, 1))
    )
    wang = PersonInput(first_name="小明", last_name="王", date_of_birth=dt.date(1990, 1, 1))
    assert person_find_exact(among=Person.objects.all(), data=wang) is None
    assert (
        person_find_exact(
            among=Person.objects.all(), data=PersonInput(first_name="小龙", last_name="李", date_of_birth=dt.date(1990, 1, 1))
        )
        == li
    )


def test_an_update_keeps_blind_indexes_in_step(county):
    ana = person_create(actor=None, jurisdiction=county, data=valid())
    person_update(actor=None, person=ana, data=valid(last_name="Pérez", phones=["(617) 555-0199"]))
    assert person_find_exact(among=Person.objects.all(), data=valid()) is None
    assert (
        person_find_exact(among=Person.objects.all(), data=valid(last_name="perez", date_of_birth=None, phones=["617 555 0199"]))
        == ana
    )


def test_a_real_birth_date_entered_replaces_the_one_received_that_was_no_date(county):
    ana = person_create(actor=None, jurisdiction=county, data=valid(date_of_birth=None))
    ana.date_of_birth_as_written = "19850231"  # as intake keeps a date that is none (February has no 31st)
    ana.save()
    person_update(actor=None, person=ana, data=valid(date_of_birth=None, last_name="Garcia Lopez"))
    ana.refresh_from_db()
    assert ana.date_of_birth_as_written == "19850231"  # nobody gave the real date yet: kept
    person_update(actor=None, person=ana, data=valid(date_of_birth=dt.date(1985, 2, 21)))
    ana.refresh_from_db()
    assert (ana.date_of_birth, ana.date_of_birth_as_written) == (dt.date(1985, 2, 21), "")


def test_a_merge_reason_too_long_is_refused_not_cut(county):
    from tracecenter.people.merge import MAX_REASON, person_merge

    ana = person_create(actor=None, jurisdiction=county, data=valid())
    twin = person_create(actor=None, jurisdiction=county, data=valid(first_name="Anna", phones=[], emails=[]))
    with pytest.raises(DomainError, match=f"at most {MAX_REASON}") as caught:
        person_merge(actor=None, survivor=ana, merged=twin, reason="x" * (MAX_REASON + 1))
    assert caught.value.field == "reason"
    assert not Person.objects.filter(merged_into__isnull=False).exists()  # nothing was merged
    merge = person_merge(actor=None, survivor=ana, merged=twin, reason=" " + "y" * MAX_REASON + " ")
    assert merge.reason == "y" * MAX_REASON
