"""The shared code tables: languages, sexes and CLIA numbers as feeds, forms and the API write them."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracecenter.core.codes import (
    COMMON_LANGUAGES,
    language_choices,
    language_name,
    normalize_clia,
    normalize_language,
    normalize_sex,
)
from tracecenter.core.codes.language import MAX_INPUT

# Languages


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("English", "en"),
        ("Spanish", "es"),
        ("Chinese", "zh"),
        ("Mandarin", "zh"),
        ("Cantonese", "yue"),
        ("Vietnamese", "vi"),
        ("Tagalog", "tl"),
        ("Filipino", "tl"),
        ("Korean", "ko"),
        ("Haitian Creole", "ht"),
        ("Farsi", "fa"),
        ("Somali", "so"),
        ("American Sign Language", "ase"),
        ("ASL", "ase"),
        ("Karen", "kar"),
    ],
)
def test_it_reads_english_names(written, code):
    assert normalize_language(written) == code


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("español", "es"),
        ("Inglés", "en"),
        ("chino", "zh"),
        ("mandarín", "zh"),
        ("cantonés", "yue"),
        ("criollo haitiano", "ht"),
        ("vietnamita", "vi"),
        ("tagalo", "tl"),
        ("portugués", "pt"),
        ("francés", "fr"),
        ("árabe", "ar"),
        ("lengua de señas", "ase"),
    ],
)
def test_it_reads_spanish_names(written, code):
    assert normalize_language(written) == code


@pytest.mark.parametrize(
    ("written", "code"), [("Tiếng Việt", "vi"), ("Kreyòl ayisyen", "ht"), ("français", "fr"), ("한국어", "ko")]
)
def test_it_reads_a_language_named_in_itself(written, code):
    assert normalize_language(written) == code


@pytest.mark.parametrize(
    ("written", "code"),
    [("espanol", "es"), ("ESPAÑOL", "es"), ("ingles", "en"), ("Frances", "fr"), ("tieng viet", "vi"), ("  spanish \t", "es")],
)
def test_it_ignores_case_accents_and_surrounding_space(written, code):
    assert normalize_language(written) == code


@pytest.mark.parametrize(
    ("written", "code"),
    [("en", "en"), ("ES", "es"), ("zh", "zh"), ("ht", "ht"), ("tl", "tl"), ("iw", "he"), ("in", "id")],
)
def test_it_keeps_iso_639_1_codes_and_updates_retired_ones(written, code):
    assert normalize_language(written) == code


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("spa", "es"),
        ("ENG", "en"),
        ("fre", "fr"),  # 639-2/B
        ("fra", "fr"),  # 639-2/T
        ("ger", "de"),
        ("deu", "de"),
        ("chi", "zh"),
        ("zho", "zh"),
        ("per", "fa"),
        ("fas", "fa"),
        ("bur", "my"),
        ("tgl", "tl"),
        ("fil", "tl"),
        ("hat", "ht"),
        ("nav", "nv"),
    ],
)
def test_it_turns_iso_639_2_codes_into_iso_639_1(written, code):
    assert normalize_language(written) == code


@pytest.mark.parametrize(
    ("written", "code"),
    [("cmn", "zh"), ("arb", "ar"), ("pes", "fa"), ("yue", "yue"), ("nan", "nan"), ("hak", "hak"), ("mam", "mam"), ("quc", "quc")],
)
def test_it_keeps_iso_639_3_codes_that_have_no_two_letter_code(written, code):
    assert normalize_language(written) == code


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("en-US", "en"),
        ("es_MX", "es"),
        ("es-419", "es"),
        ("zh-Hant", "zh"),
        ("zh-Hans-CN", "zh"),
        ("zh-yue", "yue"),
        ("yue-HK", "yue"),
        ("pt-BR", "pt"),
        ("EN-gb", "en"),
        ("sgn-US", "ase"),
    ],
)
def test_it_reads_bcp_47_tags_as_their_language(written, code):
    assert normalize_language(written) == code


def test_it_keeps_cantonese_apart_from_mandarin_for_interpreting():
    mandarin = {normalize_language(v) for v in ("Mandarin", "Chinese", "zh", "chi", "zho", "cmn", "zh-Hans")}
    cantonese = {normalize_language(v) for v in ("Cantonese", "cantonés", "yue", "zh-yue", "Chinese (Cantonese)")}
    assert (mandarin, cantonese) == ({"zh"}, {"yue"})


@pytest.mark.parametrize(
    "written",
    [
        "",
        "   ",
        "xx",
        "12",
        "123",
        "Creole",
        "other",
        "unknown",
        "n/a",
        "NA",
        "UNK",
        "und",
        "mis",
        "mul",
        "zxx",
        "qaa",
        "x-private",
        "en-",
        "male",
        "not a language at all",
    ],
)
def test_it_gives_none_for_what_names_no_language(written):
    assert normalize_language(written) is None


@pytest.mark.parametrize(
    "written",
    ["es\x00", "\x00", "Spa\u0007nish", "\ud800", "es\u200b", "e" * 10_000, "Spanish" + " " * MAX_INPUT, None, 42, b"es"],
)
def test_it_gives_none_for_hostile_input(written):
    assert normalize_language(written) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80) | st.from_regex(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8}){0,3}", fullmatch=True))
def test_it_answers_any_text_with_an_iso_code_or_none(text):
    code = normalize_language(text)
    assert code is None or (2 <= len(code) <= 3 and code.isascii() and code.isalpha() and code.islower())
    if code is not None:
        assert normalize_language(code) == code  # a stored code reads back as itself


def test_it_names_a_language_in_english_and_in_spanish():
    assert (language_name("es", "es"), language_name("es", "en")) == ("español", "Spanish")
    assert (language_name("ht", "es"), language_name("ht", "en")) == ("criollo haitiano", "Haitian Creole")
    assert (language_name("tl", "en"), language_name("yue", "es")) == ("Tagalog", "cantonés")


def test_it_names_chinese_as_mandarin_beside_cantonese():
    assert language_name("zh", "en") == "Chinese (Mandarin)"
    assert language_name("yue", "en") == "Cantonese"


def test_it_shows_an_unknown_code_as_it_is_and_names_in_english_for_an_unknown_screen_language():
    assert language_name("xx", "en") == "xx"
    assert language_name("es", "xx") == "Spanish"


def test_it_lists_the_common_interpreter_languages_english_and_spanish_first():
    choices = language_choices("en")
    assert [code for code, _ in choices] == list(COMMON_LANGUAGES)
    assert choices[:4] == [("en", "English"), ("es", "Spanish"), ("zh", "Chinese (Mandarin)"), ("yue", "Cantonese")]
    assert {"vi", "tl", "ko", "ru", "ar", "ht", "fr", "pt"} <= set(COMMON_LANGUAGES)
    assert all(normalize_language(code) == code for code in COMMON_LANGUAGES)


@pytest.mark.parametrize("screen_language", ["en", "es"])
def test_it_reads_every_name_it_shows_back_as_its_code(screen_language):
    for code, name in language_choices(screen_language):
        assert normalize_language(name) == code
        assert normalize_language(language_name(code, screen_language)) == code


def test_it_lists_them_in_spanish_capitalised_for_a_menu():
    choices = dict(language_choices("es"))
    assert (choices["es"], choices["en"], choices["ht"]) == ("Español", "Inglés", "Criollo haitiano")


# Sexes


@pytest.mark.parametrize(
    ("written", "sex"),
    [("F", "F"), ("M", "M"), ("O", "O"), ("U", "U"), ("A", "O"), ("N", "U"), ("X", "O"), ("f", "F")],
)
def test_it_reads_hl7_table_0001_codes(written, sex):
    assert normalize_sex(written) == sex


@pytest.mark.parametrize(("written", "sex"), [("female", "F"), ("male", "M"), ("other", "O"), ("unknown", "U")])
def test_it_reads_fhir_genders(written, sex):
    assert normalize_sex(written) == sex


@pytest.mark.parametrize(
    ("written", "sex"),
    [
        ("Female", "F"),
        ("WOMAN", "F"),
        ("Male", "M"),
        ("man", "M"),
        ("Non-binary", "O"),
        ("nonbinary", "O"),
        ("intersex", "O"),
        ("Refused", "U"),
        ("asked but unknown", "U"),
        ("N/A", "U"),
    ],
)
def test_it_reads_english_words_for_sex(written, sex):
    assert normalize_sex(written) == sex


@pytest.mark.parametrize(
    ("written", "sex"),
    [
        ("mujer", "F"),
        ("Femenino", "F"),
        ("hombre", "M"),
        ("masculino", "M"),
        ("varón", "M"),
        ("no binario", "O"),
        ("otro", "O"),
        ("desconocido", "U"),
        ("Se negó", "U"),
    ],
)
def test_it_reads_spanish_words_for_sex(written, sex):
    assert normalize_sex(written) == sex


@pytest.mark.parametrize("written", ["", "Q", "H", "yes", "mujer\x00", "f" * 100, None])
def test_it_gives_none_for_a_sex_it_does_not_know(written):
    assert normalize_sex(written) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_it_answers_any_text_with_a_sex_or_none(text):
    assert normalize_sex(text) in {"F", "M", "O", "U", None}


# CLIA numbers


@pytest.mark.parametrize(
    ("written", "clia"), [("05D2201580", "05D2201580"), ("05d2201580", "05D2201580"), ("  11D1234567\n", "11D1234567")]
)
def test_it_reads_a_clia_number_in_upper_case(written, clia):
    assert normalize_clia(written) == clia


@pytest.mark.parametrize(
    "written",
    ["", "05D220158", "05D22015801", "5D22015800", "05X2201580", "00Z0000042", "05 D2201580", "O5D2201580", "05D22015８0", None],
)
def test_it_gives_none_for_what_is_not_a_clia_number(written):
    assert normalize_clia(written) is None
