"""Identity matching: normalization, each comparison outcome, decisions on hard cases, blocking keys."""

import dataclasses
import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracecenter.people import matching
from tracecenter.people.matching import (
    DEFAULT_THRESHOLDS,
    Identity,
    Thresholds,
    best_candidate,
    blocking_keys,
    decide,
    identity_from,
    score,
)
from tracecenter.people.nicknames import NICKNAMES, canonical_first, given_name_senses, same_given_name

DOB = dt.date(1985, 3, 14)


def person(**overrides):
    """A complete record of one person, as a lab would send it; override any field."""
    values = {
        "first_name": "William",
        "middle_name": "James",
        "last_name": "Okonkwo",
        "date_of_birth": DOB,
        "sex": "M",
        "street": "123 North Main Street, Apt. 4",
        "city": "Springfield",
        "postal_code": "02139",
        "phones": ["(617) 555-0134"],
        "emails": ["w.okonkwo@example.org"],
    }
    values.update(overrides)
    return identity_from(**values)


def outcome(a, b, field):
    return score(a, b).field(field).outcome


def names_only(first, last, **extra):
    return identity_from(first_name=first, last_name=last, **extra)


# Normalization


def test_identity_from_normalizes_every_field():
    identity = identity_from(
        first_name="  JOSÉ ",
        middle_name="M.",
        last_name="García-López Jr.",
        date_of_birth=DOB,
        sex="f",
        street="123 North Main Street, Apartment 4B",
        city="Saint Louis",
        postal_code="02139-4307",
        phones=["(617) 555-0134", "not a phone", "+1 617 555 0134"],
        emails=[" Ana@Example.ORG ", "not an address"],
    )
    assert identity == Identity(
        first_name="jose",
        middle_name="m",
        last_name="garcia lopez",
        date_of_birth=DOB,
        sex="F",
        street="123 n main st 4b",
        city="st louis",
        postal_code="02139",
        phones=frozenset({"+16175550134"}),
        emails=frozenset({"ana@example.org"}),
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("123 North Main Street, Apt. 4", "123 N Main St #4"),
        ("45 First Avenue Suite 100", "45 1st Ave Ste 100"),
        ("9 Elm Boulevard Unit 2", "9 ELM BLVD. 2"),
        ("700 South Harbor Road", "700 S Harbor Rd"),
    ],
)
def test_street_spellings_normalize_alike(a, b):
    assert matching.normalize_street(a) == matching.normalize_street(b)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("02139", "02139"), ("02139-4307", "02139"), ("021394307", "02139"), ("2139", "02139"), ("K1A 0B1", "K1A0B1")],
)
def test_postal_codes(raw, expected):
    assert matching.normalize_postal_code(raw) == expected


def test_generational_suffixes_are_dropped_but_a_lone_junior_is_a_name():
    assert identity_from(last_name="Smith Jr.").last_name == "smith"
    assert identity_from(last_name="De la Cruz III").last_name == "de la cruz"
    assert identity_from(first_name="Junior").first_name == "junior"


def test_a_lone_phone_or_address_string_is_one_value():
    identity = identity_from(phones="617-555-0134", emails="ana@example.org")
    assert (identity.phones, identity.emails) == ({"+16175550134"}, {"ana@example.org"})


def test_unknown_sex_values_are_unknown():
    assert identity_from(sex="female").sex == "F"
    assert identity_from(sex="").sex == "U"
    assert identity_from(sex="X").sex == "U"


# Nicknames and transliteration


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Bill", "William"),
        ("Liam", "William"),
        ("Bob", "Robert"),
        ("Liz", "Elizabeth"),
        ("Betty", "Elizabeth"),
        ("Peggy", "Margaret"),
        ("Dick", "Richard"),
        ("Jenny", "Jennifer"),
        ("Kathy", "Katherine"),
        ("Kate", "Catherine"),
        ("Kathryn", "Katie"),
        ("Pepe", "José"),
        ("Paco", "Francisco"),
        ("Pancho", "Francisco"),
        ("Curro", "Francisco"),
        ("Lupe", "Guadalupe"),
        ("Chuy", "Jesús"),
        ("Chucho", "Jesus"),
        ("Nacho", "Ignacio"),
        ("Manolo", "Manuel"),
        ("Lola", "Dolores"),
        ("Concha", "Concepción"),
        ("Quique", "Enrique"),
        ("Alejo", "Alejandro"),
        ("Lalo", "Eduardo"),
        ("Charo", "Rosario"),
        ("Sasha", "Alexander"),
        ("Alex", "Alexandra"),
    ],
)
def test_nicknames_compare_as_nicknames(a, b):
    assert outcome(names_only(a, "Reyes"), names_only(b, "Reyes"), "first_name") == "nickname"


def test_canonical_first_names():
    assert canonical_first("bill") == "william"
    assert canonical_first("pepe") == "jose"
    assert canonical_first("william") == "william"
    assert canonical_first("zebulon") == "zebulon"  # not in the table: its own canonical form


def test_an_ambiguous_nickname_stands_for_each_name_but_the_full_names_stay_apart():
    assert given_name_senses("alex") >= {"alexander", "alexandra", "alejandro"}
    assert same_given_name("alex", "alexander")
    assert same_given_name("alex", "alexandra")
    assert not same_given_name("alexander", "alexandra")


def test_the_nickname_table_is_in_name_key_form_and_consistent():
    assert len(NICKNAMES) >= 150
    for canonical, forms in NICKNAMES.items():
        for form in (canonical, *forms):
            assert form.isascii()
            assert form.isalpha()
            assert form.islower()
        # A canonical name is nobody's nickname, or canonical_first would not be stable.
        assert given_name_senses(canonical) == {canonical}
        assert canonical not in forms


@pytest.mark.parametrize(("a", "b"), [("Daniel", "Danielle"), ("Jon", "Joan"), ("Alexander", "Alexandra"), ("Mark", "Mary")])
def test_two_names_from_the_table_that_are_not_forms_of_each_other_are_different(a, b):
    assert outcome(names_only(a, "Reyes"), names_only(b, "Reyes"), "first_name") == "different"


def test_cyrillic_is_transliterated():
    cyrillic = names_only("Иван", "Петров", date_of_birth=DOB)
    latin = names_only("Ivan", "Petrov", date_of_birth=DOB)
    assert (cyrillic.first_name, cyrillic.last_name) == ("ivan", "petrov")
    assert score(cyrillic, latin) == score(latin, latin)


def test_a_transliteration_that_differs_from_the_usual_spelling_is_a_nickname():
    # anyascii writes Александр as Aleksandr; the registry has Alexander.
    assert outcome(names_only("Александр", "Petrov"), names_only("Alexander", "Petrov"), "first_name") == "nickname"


def test_chinese_names_written_in_characters_match_their_pinyin_field_by_field():
    assert outcome(names_only("伟", "张"), names_only("Wei", "Zhang"), "first_name") == "exact"
    assert outcome(names_only("伟", "张"), names_only("Wei", "Zhang"), "last_name") == "exact"
    # A whole name in one field becomes one word: there is no space between the characters.
    assert identity_from(first_name="张伟").first_name == "zhangwei"


def test_hangul_transliterates_to_revised_romanization_not_to_the_usual_american_spelling():
    # 김 comes out as "gim", while Korean Americans are registered as Kim: no match on it.
    assert identity_from(last_name="김").last_name == "gim"
    assert outcome(names_only("Minjun", "김"), names_only("Minjun", "Kim"), "last_name") == "different"


# Comparison outcomes


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("William", "WILLIAM", "exact"),
        ("Bill", "William", "nickname"),
        ("Mary Ann", "Mary", "partial"),
        ("José Luis", "Pepe", "partial"),
        ("José Luis", "José Antonio", "different"),
        ("Wiliam", "William", "similar"),
        ("Kristoffer", "Kristofer", "similar"),
        ("Mariana", "Maria", "fuzzy"),  # a longer name, not a typo: alike, weighed as such (and twins are guarded)
        ("Philippa", "Filipa", "phonetic"),
        ("Gang", "Qiang", "different"),  # short names: metaphone is too coarse to count
        ("J", "John", "initial"),
        ("J", "J", "initial"),
        ("K", "John", "different"),
        ("Zebulon", "Ichabod", "different"),
        ("", "John", "missing"),
    ],
)
def test_first_name_outcomes(a, b, expected):
    assert outcome(names_only(a, "Reyes"), names_only(b, "Reyes"), "first_name") == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Okonkwo", "OKONKWO", "exact"),
        ("García López", "García", "partial"),
        ("De la Cruz", "Cruz", "partial"),
        ("De León", "De la Cruz", "different"),  # a shared particle is not a shared surname
        ("Jonhson", "Johnson", "similar"),
        ("Smyth", "Smith", "similar"),
        ("Philips", "Fillips", "phonetic"),
        ("Okonkwo", "Zawadzki", "different"),
        ("Okonkwo", "", "missing"),
    ],
)
def test_last_name_outcomes(a, b, expected):
    assert outcome(names_only("Ana", a), names_only("Ana", b), "last_name") == expected


def test_first_and_last_name_swapped():
    result = score(names_only("Okonkwo", "William"), names_only("William", "Okonkwo"))
    assert result.field("first_name").outcome == "transposed"
    assert result.field("last_name").outcome == "transposed"
    straight = score(names_only("William", "Okonkwo"), names_only("William", "Okonkwo"))
    assert 0 < result.total < straight.total


def test_first_name_used_as_middle_name_is_noted_but_not_trusted_for_an_automatic_link():
    result = score(person(first_name="James", middle_name=""), person())
    assert result.field("first_name").outcome == "as_middle"
    assert result.field("first_name").weight > 0
    assert "first_name" in result.conflicts


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Marie", "Marie", "exact"),
        ("M.", "Marie", "initial"),
        ("M", "M", "initial"),
        ("Mari", "Marie", "similar"),
        ("Marie", "Louise", "different"),
        ("", "Marie", "missing"),
    ],
)
def test_middle_name_outcomes(a, b, expected):
    assert outcome(person(middle_name=a), person(middle_name=b), "middle_name") == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (dt.date(1985, 3, 14), dt.date(1985, 3, 14), "exact"),
        (dt.date(1985, 3, 5), dt.date(1985, 5, 3), "transposed"),
        (dt.date(1985, 3, 14), dt.date(1985, 3, 19), "typo"),  # one digit
        (dt.date(1985, 3, 12), dt.date(1985, 3, 21), "typo"),  # two adjacent digits swapped
        (dt.date(1985, 3, 14), dt.date(1958, 3, 14), "decade"),  # 1985/1958: a swap, 27 years
        (dt.date(1969, 8, 2), dt.date(1989, 8, 2), "decade"),  # a father and his junior, or a typo
        (dt.date(1979, 3, 14), dt.date(1980, 3, 14), "year"),  # off by one year, not one digit
        (dt.date(1985, 3, 14), dt.date(1972, 11, 30), "different"),
        (dt.date(1985, 3, 14), None, "missing"),
    ],
)
def test_date_of_birth_outcomes(a, b, expected):
    assert outcome(person(date_of_birth=a), person(date_of_birth=b), "date_of_birth") == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("F", "F", "exact"), ("O", "O", "exact"), ("F", "M", "different"), ("F", "O", "different"), ("F", "U", "missing")],
)
def test_sex_outcomes(a, b, expected):
    assert outcome(person(sex=a), person(sex=b), "sex") == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (["617-555-0134", "617-555-0199"], ["(617) 555-0199"], "exact"),  # any number in common
        (["617-555-0134"], ["617-555-0143"], "similar"),  # two digits swapped
        (["617-555-0134"], ["212-555-0134"], "different"),
        (["617-555-0134"], [], "missing"),
        (["617-555-0134"], ["invalid"], "missing"),
    ],
)
def test_phone_outcomes(a, b, expected):
    assert outcome(person(phones=a), person(phones=b), "phone") == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (["a.b@example.org"], ["A.B@Example.org", "x@example.org"], "exact"),
        (["ab@example.org"], ["ba@example.org"], "similar"),
        (["ab@example.org"], ["zz@example.net"], "different"),
        ([], ["ab@example.org"], "missing"),
    ],
)
def test_email_outcomes(a, b, expected):
    assert outcome(person(emails=a), person(emails=b), "email") == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # (street, city, postal code) -> (street, city, postal code) outcomes; an agreeing city and
        # postal code beside the same street are not counted again ("missing"); beside a street only
        # similar (a typo in its name), they are.
        (("123 N Main St #4", "", "02139"), ("123 North Main Street Apt 4", "", "02139-0001"), ("exact", "missing", "missing")),
        (("123 N Main St", "", "02139"), ("123 N Mian St", "", "02139"), ("similar", "missing", "exact")),
        (("24 Farrer Pl", "", ""), ("24 Farrerplace", "", ""), ("similar", "missing", "missing")),
        (("24 Farrer Pl", "Lyneham", ""), ("24 Farer Pl", "Lyneham", ""), ("similar", "exact", "missing")),
        (("123 N Main St", "", "02139"), ("125 N Main St", "", "02139"), ("different", "missing", "exact")),  # another house
        (("123 N Main St", "", "02139"), ("123 Oak Ave", "", "02139"), ("same_number", "missing", "exact")),
        (("", "Springfield", ""), ("", "SPRINGFIELD", ""), ("missing", "exact", "missing")),
        (("", "Springfield", "02139"), ("", "Springfeild", "02138"), ("missing", "similar", "similar")),
        (("123 N Main St", "", "02139"), ("123 N Main St", "", "94110"), ("exact", "missing", "different")),
        (("123 N Main St", "", "02139"), ("", "", ""), ("missing", "missing", "missing")),
    ],
)
def test_address_outcomes(a, b, expected):
    left = person(street=a[0], city=a[1], postal_code=a[2])
    right = person(street=b[0], city=b[1], postal_code=b[2])
    assert tuple(outcome(left, right, f) for f in ("street", "city", "postal_code")) == expected


def test_missing_values_weigh_nothing():
    bare = names_only("William", "Okonkwo")
    result = score(bare, person())
    for field in result.fields:
        if field.field not in ("first_name", "last_name"):
            assert (field.outcome, field.weight) == ("missing", 0.0)
    assert result.total == score(bare, bare).total


def test_common_names_weigh_less_than_rare_ones():
    common = score(names_only("James", "Smith"), names_only("James", "Smith")).total
    rare = score(names_only("Zebulon", "Okonkwo"), names_only("Zebulon", "Okonkwo")).total
    assert common < rare - 5


def test_the_score_explains_itself_field_by_field():
    result = score(person(first_name="Bill", phones=["212-555-0100"]), person())
    assert [f.field for f in result.fields] == [
        "first_name",
        "middle_name",
        "last_name",
        "date_of_birth",
        "sex",
        "phone",
        "email",
        "street",
        "city",
        "postal_code",
    ]
    assert result.total == pytest.approx(sum(f.weight for f in result.fields))
    assert result.field("phone").weight < 0 < result.field("first_name").weight


# Decisions


def test_the_same_person_spelled_differently_is_linked():
    incoming = person(first_name="Bill", middle_name="J", phones=["212-555-0100"], street="", postal_code="")
    assert decide(score(incoming, person())) == "match"


def test_a_stranger_is_new():
    stranger = person(
        first_name="Ana",
        middle_name="",
        last_name="Reyes",
        date_of_birth=dt.date(1990, 7, 1),
        sex="F",
        street="9 Oak Ave",
        postal_code="94110",
        phones=["212-555-0100"],
        emails=["ana@example.net"],
    )
    assert decide(score(stranger, person())) == "new"


def test_twins_are_not_linked_automatically():
    # Same birth date, surname, home, phone; another first name.
    twin = person(first_name="Thomas", middle_name="", emails=[])
    result = score(twin, person())
    assert result.total >= DEFAULT_THRESHOLDS.match  # everything they share adds up...
    assert result.conflicts == ("first_name",)  # ...but the first names tell them apart
    assert decide(result) == "review"


def test_boy_girl_twins_with_alike_names_are_not_linked_automatically():
    brother = person(first_name="Francisco", sex="M", middle_name="", emails=[])
    sister = person(first_name="Francisca", sex="F", middle_name="", emails=[])
    result = score(brother, sister)
    assert result.field("first_name").outcome == "similar"
    assert "sex" in result.conflicts
    assert decide(result) != "match"


def test_father_and_junior_with_the_same_name_are_not_linked_automatically():
    father = person(last_name="Okonkwo Sr.", date_of_birth=dt.date(1961, 5, 20))
    son = person(last_name="Okonkwo Jr.", date_of_birth=dt.date(1988, 11, 2), emails=[])
    result = score(son, father)
    assert result.field("last_name").outcome == "exact"
    assert result.conflicts == ("date_of_birth",)
    assert decide(result) == "review"


def test_father_and_junior_born_on_the_same_day_twenty_years_apart_are_not_linked_automatically():
    result = score(person(date_of_birth=dt.date(1969, 8, 2)), person(date_of_birth=dt.date(1989, 8, 2)))
    assert result.field("date_of_birth").outcome == "decade"
    assert decide(result) == "review"


def test_namesakes_born_on_other_days_are_new():
    result = score(
        names_only("James", "Smith", date_of_birth=dt.date(1970, 1, 5), sex="M"),
        names_only("James", "Smith", date_of_birth=dt.date(1988, 6, 30), sex="M"),
    )
    assert decide(result) == "new"


def test_decide_thresholds():
    # Prior odds 1 in 2**20: a link at probability 0.999 needs log2(999) + 20 bits, a review 20.
    thresholds = Thresholds(link_probability=0.999, review_probability=0.5, prior_bits=-20)
    assert thresholds.match == pytest.approx(20 + math.log2(999))
    assert thresholds.review == pytest.approx(20)
    result = score(person(), person())
    assert decide(dataclasses.replace(result, total=30.0), thresholds) == "match"
    assert decide(dataclasses.replace(result, total=29.9), thresholds) == "review"
    assert decide(dataclasses.replace(result, total=20.0), thresholds) == "review"
    assert decide(dataclasses.replace(result, total=19.9), thresholds) == "new"
    assert thresholds.probability(dataclasses.replace(result, total=20.0)) == pytest.approx(0.5)


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError, match="review"):
        Thresholds(link_probability=0.5, review_probability=0.9)
    with pytest.raises(ValueError, match="review"):
        Thresholds(link_probability=1.0)
    with pytest.raises(ValueError, match="margin"):
        Thresholds(margin=-1)


def test_best_candidate_links_the_clear_winner():
    decision = best_candidate(person(first_name="Bill"), [("twin", person(first_name="Thomas")), ("self", person())])
    assert (decision.decision, decision.reason, decision.key, decision.runner_up) == ("match", "automatic", "self", "twin")
    assert decision.score == score(person(first_name="Bill"), person())


def test_two_candidates_above_the_match_threshold_within_the_margin_go_to_review():
    # The registry holds the person twice (once with only the middle initial).
    duplicate = person(middle_name="J")
    decision = best_candidate(person(), [(1, person()), (2, duplicate)])
    assert decision.score is not None and decision.runner_up_score is not None
    assert decision.score.total - decision.runner_up_score.total < DEFAULT_THRESHOLDS.margin
    assert (decision.decision, decision.reason, decision.key, decision.runner_up) == ("review", "ambiguous", 1, 2)


def test_a_record_without_birth_date_that_fits_a_father_and_his_junior_goes_to_review():
    no_birth_date = person(date_of_birth=None)
    candidates = [("father", person(date_of_birth=dt.date(1961, 5, 20))), ("son", person(date_of_birth=dt.date(1988, 11, 2)))]
    decision = best_candidate(no_birth_date, candidates)
    # Both fit equally well: ambiguous, so a person decides (a missing birth date is no veto by itself).
    assert (decision.decision, decision.reason) == ("review", "ambiguous")


def test_best_candidate_reasons():
    assert best_candidate(person(), []).reason == "no_candidates"
    assert best_candidate(person(first_name="Thomas"), [(1, person())]).reason == "conflict"
    stranger = names_only("Ana", "Reyes", date_of_birth=dt.date(1990, 7, 1))
    assert best_candidate(stranger, [(1, person())]).decision == "new"
    weak = names_only("William", "Okonkwo", date_of_birth=dt.date(1985, 3, 19))
    decision = best_candidate(weak, [(1, person())], Thresholds(link_probability=1 - 1e-12, review_probability=0.5))
    assert (decision.decision, decision.reason) == ("review", "grey_zone")


# Blocking


def test_blocking_keys_are_few_and_never_coarse():
    keys = blocking_keys(person())
    assert 8 <= len(keys) <= 16
    prefixes = {key.split(":", 1)[0] for key in keys}
    assert prefixes == {"dob", "dob_fi", "dob_ln", "pc_y", "ln_fi_y", "fn_md", "pc_n", "pc_no", "st", "name", "ph", "em"}
    for key in keys:
        kind, _, value = key.partition(":")
        if kind.startswith("dob"):
            date, _, _name_part = value.partition(":")
            assert len(date) == 8  # the full date, never a year alone
        if kind in ("pc_y", "ln_fi_y"):
            assert value.count(":") >= 1  # a year only ever with a postal code or a name


def test_an_ambiguous_nickname_is_filed_under_each_name():
    keys = blocking_keys(names_only("Al", "Okonkwo", date_of_birth=DOB))
    name_keys = {key for key in keys if key.startswith("name:")}
    assert len(name_keys) == 4  # Alfred, Albert, Allen, and Al as written


BORN = dt.date(1985, 5, 3)
CORRUPTIONS = {
    "first name typo": {"first_name": "Wlliam"},
    "typo in the first letter": {"first_name": "Qilliam"},
    "last name typo": {"last_name": "Okonkow"},
    "nickname": {"first_name": "Bill"},
    "day and month swapped": {"date_of_birth": dt.date(1985, 3, 5)},
    "birth date one digit off": {"date_of_birth": dt.date(1985, 5, 8)},
    "birth year off by one": {"date_of_birth": dt.date(1984, 5, 3)},
    "no birth date": {"date_of_birth": None},
    "new phone": {"phones": ["212-555-0100"]},
    "new address": {"street": "9 Oak Ave", "postal_code": "94110"},
    "no sex": {"sex": ""},
    "first and last name swapped": {"first_name": "Okonkwo", "last_name": "William"},
    "married name": {"last_name": "Reyes"},
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_true_match_shares_a_blocking_key_despite_one_error(corruption):
    # Without phone or e-mail, so that the name and birth date keys must do the work.
    original = person(date_of_birth=BORN, phones=[], emails=[])
    corrupted = person(**{"date_of_birth": BORN, "phones": [], "emails": [], **CORRUPTIONS[corruption]})
    assert blocking_keys(original) & blocking_keys(corrupted)


def test_a_swapped_record_meets_a_person_registered_under_a_nickname():
    # The nickname in the last-name field is not mapped to William: the name key of
    # the name as written is what they share.
    registered = names_only("Bill", "Okonkwo", date_of_birth=BORN)
    assert blocking_keys(names_only("Okonkwo", "Bill", date_of_birth=BORN)) & blocking_keys(registered)


def test_a_transliterated_record_shares_a_blocking_key():
    assert blocking_keys(names_only("Иван", "Петров", date_of_birth=DOB)) & blocking_keys(
        names_only("Ivan", "Petrov", date_of_birth=DOB)
    )
    assert blocking_keys(names_only("伟", "张", date_of_birth=DOB)) & blocking_keys(names_only("Wei", "Zhang", date_of_birth=DOB))


def test_a_new_phone_and_address_with_name_and_birth_date_errors_still_meets_by_e_mail():
    original = person()
    corrupted = person(
        first_name="Qilliam",
        last_name="Zkonkwo",
        date_of_birth=dt.date(1958, 3, 14),
        phones=[],
        street="9 Elm Rd",
        postal_code="02139",
    )
    assert blocking_keys(original) & blocking_keys(corrupted) == {"em:w.okonkwo@example.org"}


# Properties

NAMES = st.sampled_from(["William", "Bill", "Wiliam", "James", "Ana", "Anna", "José", "Pepe", "Wei", "J", "Mary Ann", ""])
SURNAMES = st.sampled_from(["Okonkwo", "Okonkow", "Smith", "Smyth", "García", "García López", "Zhang", "William", ""])
DATES = st.one_of(
    st.none(), st.dates(dt.date(1920, 1, 1), dt.date(2024, 1, 1)), st.sampled_from([dt.date(1985, 3, 5), dt.date(1985, 5, 3)])
)
PHONES = st.lists(st.sampled_from(["+16175550134", "+16175550143", "+12125550100"]), max_size=2).map(frozenset)
EMAILS = st.lists(st.sampled_from(["a@example.org", "b@example.org"]), max_size=1).map(frozenset)
STREETS = st.sampled_from(["", "123 n main st 4", "123 n mian st 4", "9 oak ave"])
POSTAL = st.sampled_from(["", "02139", "94110"])
IDENTITIES = st.builds(
    Identity,
    first_name=NAMES.map(matching.normalize_name),
    middle_name=st.sampled_from(["", "j", "james", "marie"]),
    last_name=SURNAMES.map(matching.normalize_name),
    date_of_birth=DATES,
    sex=st.sampled_from(["F", "M", "O", "U"]),
    street=STREETS,
    city=st.sampled_from(["", "springfield"]),
    postal_code=POSTAL,
    phones=PHONES,
    emails=EMAILS,
)


@settings(max_examples=300, deadline=None)
@given(IDENTITIES, IDENTITIES)
def test_score_is_symmetric(a, b):
    assert score(a, b).total == score(b, a).total


@settings(max_examples=300, deadline=None)
@given(IDENTITIES, IDENTITIES)
def test_missing_fields_weigh_zero_and_the_total_is_the_sum(a, b):
    result = score(a, b)
    assert all(f.weight == 0.0 for f in result.fields if f.outcome == "missing")
    assert result.total == pytest.approx(sum(f.weight for f in result.fields))


@settings(max_examples=300, deadline=None)
@given(IDENTITIES)
def test_an_identical_record_with_name_birth_date_and_sex_is_always_linked(a):
    a = dataclasses.replace(
        a, first_name=a.first_name or "ana", last_name=a.last_name or "smith", date_of_birth=a.date_of_birth or DOB
    )
    if len(a.first_name) == 1 or a.sex == "U":
        a = dataclasses.replace(a, first_name="ana", sex="F")
    decision = best_candidate(a, [("self", a)])
    assert (decision.decision, decision.key) == ("match", "self")


@settings(max_examples=300, deadline=None)
@given(IDENTITIES, IDENTITIES, st.sampled_from(["phone", "email", "sex", "date_of_birth"]))
def test_agreeing_on_one_more_field_never_lowers_the_score(a, b, field):
    agreeing = {
        "phone": {"phones": frozenset({"+13125550111"})},
        "email": {"emails": frozenset({"new@example.org"})},
        "sex": {"sex": "F"},
        "date_of_birth": {"date_of_birth": dt.date(2001, 2, 3)},
    }[field]

    def add(identity):
        merged = dict(agreeing)
        if field in ("phone", "email"):
            key = next(iter(agreeing))
            merged[key] = getattr(identity, key) | agreeing[key]
        return dataclasses.replace(identity, **merged)

    assert score(add(a), add(b)).total >= score(a, b).total


@settings(max_examples=200, deadline=None)
@given(IDENTITIES)
def test_swapping_day_and_month_keeps_the_birth_date_keys(a):
    if a.date_of_birth is None or a.date_of_birth.day > 12:
        return
    swapped = dataclasses.replace(a, date_of_birth=a.date_of_birth.replace(month=a.date_of_birth.day, day=a.date_of_birth.month))
    assert blocking_keys(a) == blocking_keys(swapped)


@settings(max_examples=200, deadline=None)
@given(IDENTITIES, IDENTITIES)
def test_a_decision_to_link_means_above_the_threshold_without_conflicts(a, b):
    result = score(a, b)
    if decide(result) == "match":
        assert result.total >= DEFAULT_THRESHOLDS.match
        assert not result.conflicts


def test_thresholds_rise_with_the_population():
    assert Thresholds.for_population(200_000) == DEFAULT_THRESHOLDS
    assert Thresholds.for_population(10) == Thresholds.for_population(10_000)  # a tiny registry counts as 10,000
    larger = Thresholds.for_population(800_000)
    assert (larger.match, larger.review) == (DEFAULT_THRESHOLDS.match + 2, DEFAULT_THRESHOLDS.review + 2)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("19850631", "19850631"),
        ("1985-06-31", "19850631"),
        ("06/31/1985", "19850631"),
        ("1985-06-30", ""),  # a real date: kept as the date, not as text
        ("1985", ""),  # a year alone is no typo of a date
        ("", ""),
        ("not a date", ""),
    ],
)
def test_a_date_of_birth_that_is_no_real_date_is_kept_as_its_digits(raw, kept):
    from tracecenter.people.matching import date_of_birth_as_written

    assert date_of_birth_as_written(raw) == kept
