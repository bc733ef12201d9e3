"""Identity matching for incoming records, pure Python (no Django).

Lab results arrive many times for the same person, spelled differently, with a new
phone or a mistyped birth date. An incoming record is linked to an existing person
by record linkage in the style of Fellegi and Sunter: each field is compared, each
outcome of a comparison carries a weight log2(m/u), where

    m = P(this outcome | the two records are the same person)
    u = P(this outcome | they are two different persons),

and the weights add up (the fields are treated as independent given the match
status). A total above `Thresholds.match` links automatically, one in the grey zone
goes to a supervisor's review queue, one below is a new person.

Independence does not hold inside families: twins share a surname, a birth date,
an address and a phone; a father and his junior share everything but the birth
date. Summed weights would merge them. So some disagreements (first name, date of
birth, sex) and a missing birth date hold back an automatic match whatever the
total: such a pair goes to review, where a person decides (MatchScore.conflicts).

The database stores identifying fields encrypted and can only answer equality on
blind indexes (keyed hashes). Finding candidates therefore works on *blocking
keys*: plain strings derived from an identity (blocking_keys), which the Django
layer hashes and stores as (person, key hash) rows. Candidates for an incoming
record are the persons sharing at least one key; the Django layer decrypts them and
calls best_candidate, which scores each one. Keys whose block is huge (a clinic's
phone number given for every patient) are better skipped at lookup, and stored keys
must be rebuilt when BLOCKING_KEYS_VERSION changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

import jellyfish
from anyascii import anyascii
from rapidfuzz.distance import OSA, JaroWinkler

from tracecenter.people import fellegi_sunter as fs
from tracecenter.people.nicknames import canonical_first, given_name_senses, is_known_given_name
from tracecenter.people.normalize import InvalidValue, email_key, name_key, phone_e164

SexCode = Literal["F", "M", "O", "U"]
Outcome = Literal[
    "exact",  # the same value
    "nickname",  # given names that are forms of the same name (Bill, William)
    "partial",  # one compound name contains the other (García López, García)
    "similar",  # a typo away (one edit, or Jaro-Winkler >= 0.90)
    "phonetic",  # spelled differently, sounds the same (metaphone)
    "initial",  # one side is only an initial, and it agrees
    "as_middle",  # one side's first name is the other's middle name
    "transposed",  # first and last name swapped, or day and month swapped
    "typo",  # date of birth one digit off
    "decade",  # date of birth one digit off in the decade: a typo, or a parent and child
    "year",  # date of birth off by one year, day and month the same
    "same_year",  # date of birth: only the year agrees
    "fuzzy",  # alike, though more than a typo apart (Jaro-Winkler >= 0.80)
    "same_number",  # street: the same house number, the street's name unlike
    "different",  # both present, not alike
    "missing",  # absent on either side: no evidence either way, weight 0
]
DecisionOutcome = Literal["match", "review", "new"]


# Normalization -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """The identifying fields of a person, normalized (build one with identity_from).

    Names are name_key tokens separated by one space ("garcia lopez"), so compound
    names can be compared part by part; comparisons ignore the spaces otherwise.
    """

    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    date_of_birth: dt.date | None = None
    # The digits of a birth date as written when it is not a real date ("19850631"):
    # kept and compared as a typo string rather than dropped as missing.
    date_of_birth_text: str = ""
    sex: SexCode = "U"
    street: str = ""
    city: str = ""
    postal_code: str = ""
    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()


_NAME_SPLIT = re.compile(r"[\s\-_/.,;:()]+")
# Generational suffixes say which of two same-named relatives is meant, but they are
# recorded inconsistently ("Smith Jr." one day, "Smith" the next); the birth date is
# what tells father and son apart, so suffixes are dropped rather than compared.
_NAME_SUFFIXES = frozenset({"jr", "sr", "junior", "senior", "ii", "iii", "iv", "2nd", "3rd"})


@lru_cache(maxsize=131072)  # names and streets repeat across records; normalizing is pure
def normalize_name(raw: str) -> str:
    """Name tokens in name_key form, non-Latin scripts transliterated ("Пётр" -> "petr").

    name_key keeps letters of every script; transliterating first lets "Иван" match
    "Ivan" on a record typed in Latin letters.
    """
    tokens = [t for t in _NAME_SPLIT.split(anyascii(raw)) if t]
    kept = tokens[:1] + [t for t in tokens[1:] if t.lower() not in _NAME_SUFFIXES]
    return " ".join(key for key in (name_key(t) for t in kept) if key)


_STREET_WORDS = {
    "street": "st",
    "str": "st",
    "saint": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "boulevard": "blvd",
    "place": "pl",
    "terrace": "ter",
    "circle": "cir",
    "highway": "hwy",
    "parkway": "pkwy",
    "square": "sq",
    "trail": "trl",
    "plaza": "plz",
    "route": "rte",
    "mount": "mt",
    "fort": "ft",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
    "fourth": "4th",
    "fifth": "5th",
    "sixth": "6th",
    "seventh": "7th",
    "eighth": "8th",
    "ninth": "9th",
    "tenth": "10th",
}
# "Apt 5", "Unit 5", "Suite 5" and "#5" are the same unit: keep the number, drop the word.
_UNIT_WORDS = frozenset({"apt", "apartment", "unit", "ste", "suite", "no", "rm", "room"})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=131072)  # names and streets repeat across records; normalizing is pure
def normalize_street(raw: str) -> str:
    """Lower case, punctuation removed, street types and directions abbreviated one way."""
    words = (_STREET_WORDS.get(t, t) for t in _NON_ALNUM.split(anyascii(raw).lower()) if t)
    return " ".join(w for w in words if w not in _UNIT_WORDS)


@lru_cache(maxsize=131072)  # names and streets repeat across records; normalizing is pure
def normalize_city(raw: str) -> str:
    words = (_STREET_WORDS.get(t, t) for t in _NON_ALNUM.split(anyascii(raw).lower()) if t)
    return " ".join(words)


def normalize_postal_code(raw: str, default_region: str = "US") -> str:
    """US ZIP and ZIP+4 to five digits; other codes upper case without spaces."""
    compact = re.sub(r"[\s\-]", "", raw).upper()
    if default_region == "US" and compact.isdigit():
        if len(compact) in (5, 9):
            return compact[:5]
        # Spreadsheets drop the leading zero of New England and New Jersey ZIP codes.
        if len(compact) in (4, 8):
            return ("0" + compact)[:5]
    return compact


_SEX_CODES: dict[str, SexCode] = {"F": "F", "M": "M", "O": "O"}  # "female", "male", "other" too


_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


@lru_cache(maxsize=65536)
def _phone(raw: str, default_region: str) -> str:
    """E.164 form, or "" when not a phone number. Stored numbers are E.164 already: taken as they are,
    because parsing is most of the cost of building an identity and candidates are built by the thousand."""
    if _E164.fullmatch(raw):
        return raw
    try:
        return phone_e164(raw, default_region)
    except InvalidValue:
        return ""


def identity_from(
    *,
    first_name: str = "",
    middle_name: str = "",
    last_name: str = "",
    date_of_birth: dt.date | None = None,
    date_of_birth_text: str = "",
    sex: str = "U",
    street: str = "",
    city: str = "",
    postal_code: str = "",
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    default_region: str = "US",
) -> Identity:
    """An Identity from raw values; invalid phone numbers and e-mail addresses are ignored.

    An unparseable phone number is no evidence either way, and refusing the whole
    record over it would lose a lab result.
    """
    # A lone string is one value, not an iterable of one-character values.
    phones = [phones] if isinstance(phones, str) else phones
    emails = [emails] if isinstance(emails, str) else emails
    valid_phones: set[str] = set()
    for raw in phones:
        phone = _phone(raw, default_region)
        if phone:
            valid_phones.add(phone)
    valid_emails: set[str] = set()
    for raw in emails:
        try:
            valid_emails.add(email_key(raw))
        except InvalidValue:
            continue
    return Identity(
        first_name=normalize_name(first_name),
        middle_name=normalize_name(middle_name),
        last_name=normalize_name(last_name),
        date_of_birth=date_of_birth,
        date_of_birth_text="" if date_of_birth is not None else _DIGITS.sub("", date_of_birth_text)[:8],
        sex=_SEX_CODES.get(sex.strip().upper()[:1], "U"),
        street=normalize_street(street),
        city=normalize_city(city),
        postal_code=normalize_postal_code(postal_code, default_region),
        phones=frozenset(valid_phones),
        emails=frozenset(valid_emails),
    )


_DIGITS = re.compile(r"[^0-9]")
_ISO_DATE = re.compile(r"(\d{4})-?(\d{1,2})-?(\d{1,2})")
_US_DATE = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})")


def parse_date_of_birth(raw: str) -> tuple[dt.date | None, str]:
    """(the date, "") for a real date written YYYYMMDD, YYYY-MM-DD or MM/DD/YYYY; else (None, its digits as
    YYYYMMDD when they can be put so, else as written). "19850631" is no date, but one digit from one."""
    text = raw.strip()
    if not text:
        return None, ""
    year = month = day = ""
    if found := _ISO_DATE.fullmatch(text):
        year, month, day = found.groups()
    elif found := _US_DATE.fullmatch(text):
        month, day, year = found.groups()
    if not year:
        return None, _DIGITS.sub("", text)[:8]
    try:
        return dt.date(int(year), int(month), int(day)), ""
    except ValueError:
        return None, f"{int(year):04d}{int(month):02d}{int(day):02d}"[:8]


def date_of_birth_as_written(raw: str) -> str:
    """The digits YYYYMMDD of a date of birth that is not a real date ("1985-06-31" -> "19850631"), else "".

    Such a date is one mistyped digit from the real one: kept beside the record (the date itself left
    empty) so that matching compares it as a typo instead of as missing.
    """
    date, digits = parse_date_of_birth(raw)
    return digits if date is None and len(digits) == 8 else ""


# Blocking ------------------------------------------------------------------------


# Bump whenever blocking_keys (or the nickname table) would file someone under other
# keys: the stored keys of every person must then be rebuilt, or old records would
# no longer be found.
# 3: postal code with either name's sound, postal code with house number;
# the surname-search key (search_keys) stored beside the blocking keys.
BLOCKING_KEYS_VERSION = 3


@lru_cache(maxsize=131072)
def _metaphone(value: str) -> str:
    return jellyfish.metaphone(value) if value else ""


def _first_token(name: str) -> str:
    return name.split(" ", 1)[0]


def blocking_keys(identity: Identity) -> frozenset[str]:
    """Keys under which a person is filed and an incoming record looks for candidates.

    A true match must share at least one key with its record despite one typical
    error, and no key may be so coarse that its block holds thousands of persons in
    a population of millions. Usually four to six keys:

    dob_fi  birth date + initial of the canonical first name. Survives any surname
            error or change (marriage), nicknames (Bill -> William -> "w"), a new
            phone or address. Block: the ~60 persons per birth date in 2 million,
            split by initial.
    dob_ln  birth date + metaphone of the last name. Survives any first-name error,
            including a nickname the table does not know.
    name    metaphone of the first name (canonical, and as written when that is a
            nickname) and of the last name, as an unordered pair. The one name key
            without the birth date: survives any birth-date error (or a missing
            one), and, being unordered, first and last name swapped. The biggest
            blocks ("James Smith": ~270 persons in 2 million), which is why the
            birth-date keys exist.
    ph, em  each phone number and e-mail address: survive name and birth-date
            errors together. Blocks are households, except numbers shared by many
            (a clinic's phone); the lookup should skip keys whose block is huge.

    pc_y    postal code + year of birth: survives errors in both names and in the
            day or month. Block: a postal code's people born in one year.
    ln_fi_y metaphone of the last name + first initial + year of birth: survives a
            day or month typo with a first-name typo.
    fn_md   metaphone of the first name + day and month: survives a year typo with
            a surname change.

    Version 3, for a birth date missing or mistyped together with other fields:
    pc_n    postal code (its digits sorted: two swapped still meet) + metaphone of
            either name (first and last filed alike, so a swap still meets).
    pc_no   postal code + house number: names, birth date and the street's name all
            mistyped. Block: one house number's residents in a postal code.
    st      house number + the first four sounds of the street's first word: a household.

    In the birth-date keys the day and the month are sorted, so a record with day
    and month swapped (03/05 for 05/03) files under the same key. An ambiguous
    nickname ("Al") is filed under each name it can stand for.
    """
    keys: set[str] = set()
    initials, last, name_keys = _name_key_parts(_first_token(identity.first_name), identity.last_name.replace(" ", ""))
    digits = _dob_digits(identity)
    first_code = _metaphone(_first_token(identity.first_name).replace(" ", ""))
    if len(digits) == 8:
        # A date that is not a real one (19850631) files by its digits the same way.
        month_day = sorted((digits[4:6], digits[6:8]))
        date = digits[:4] + month_day[0] + month_day[1]
        keys.update(f"dob_fi:{date}:{initial}" for initial in initials)
        if last:
            keys.add(f"dob_ln:{date}:{last}")
        # The birth date alone: both names mistyped (~60 persons per date in 2 million).
        keys.add(f"dob:{date}")
    year = digits[:4]
    if year:
        # Version 2: passes that survive a birth-date typo together with a name typo.
        if identity.postal_code:
            keys.add(f"pc_y:{identity.postal_code}:{year}")
        if last:
            keys.update(f"ln_fi_y:{last}:{initial}:{year}" for initial in initials)
        if first_code and digits[4:8]:
            # Month and day with the first name's sound: the year mistyped and the surname changed.
            keys.add(f"fn_md:{first_code}:{''.join(sorted((digits[4:6], digits[6:8])))}")
    number, _, rest = identity.street.partition(" ")
    numbered = number[:1].isdigit()
    if identity.postal_code:
        # A postal code with either name's sound, whichever field holds it: the birth date missing
        # or mistyped with a name, or first and last name swapped besides. The postal code's digits
        # sorted: two digits swapped (02139, 02193) is its commonest typo.
        sorted_code = "".join(sorted(identity.postal_code))
        keys.update(f"pc_n:{sorted_code}:{code}" for code in (last, first_code) if code)
        if numbered:
            # Postal code and house number: names and birth date all mistyped, the street's name too.
            keys.add(f"pc_no:{identity.postal_code}:{number}")
    if numbered and rest:
        # House number and the sound of the street's first word (its first four sounds: a word run
        # into the next, "goodwinstreet", still meets): a household, whatever the names and date.
        keys.add(f"st:{number}:{_metaphone(rest.split(' ', 1)[0])[:4]}")
    keys.update(name_keys)
    keys.update(f"ph:{phone}" for phone in identity.phones)
    keys.update(f"em:{email}" for email in identity.emails)
    return frozenset(keys)


def search_keys(identity: Identity) -> frozenset[str]:
    """Keys a person is filed under for person search only; never a blocking key.

    ln      metaphone of the last name: a caller who gives only a misspelled surname
            ("Jonson") finds Johnson. Too coarse to block on (a common surname's sound
            is tens of thousands of persons in a state), so identity matching never
            looks candidates up by it.
    """
    last = _metaphone(identity.last_name.replace(" ", ""))
    return frozenset({f"ln:{last}"}) if last else frozenset()


def stored_keys(identity: Identity) -> frozenset[str]:
    """Every key a person is filed under: the blocking keys and the search keys."""
    return blocking_keys(identity) | search_keys(identity)


@lru_cache(maxsize=65536)
def _name_key_parts(first: str, last: str) -> tuple[frozenset[str], str, tuple[str, ...]]:
    """Initials of the first name's senses, metaphone of the last name, and the name keys."""
    senses = given_name_senses(first) if first else frozenset()
    last_code = _metaphone(last)
    name_keys: list[str] = []
    if last_code and first:
        # The name as written too: swapped into the last-name field, a nickname is
        # not mapped to its canonical name ("Miller Carol" for "Carol Miller").
        for given in senses | {first}:
            low, high = sorted((_metaphone(given), last_code))
            name_keys.append(f"name:{low}:{high}")
    return frozenset(sense[0] for sense in senses), last_code, tuple(name_keys)


# Weights -------------------------------------------------------------------------


# Share of the US population with a given first name (both sexes pooled) or surname,
# rounded from the 1990 and 2010 census tabulations. Agreement on "Smith" is weaker
# evidence than agreement on "Zawadzki": u for an exact agreement is the share of
# people carrying the name. Names not listed get the default share, a weighted mean
# over the long tail.
_GIVEN_SHARE = {
    "james": 0.0165,
    "john": 0.0163,
    "robert": 0.0157,
    "michael": 0.0131,
    "mary": 0.0131,
    "william": 0.0122,
    "david": 0.0118,
    "richard": 0.0085,
    "charles": 0.0076,
    "joseph": 0.0070,
    "thomas": 0.0069,
    "patricia": 0.0054,
    "christopher": 0.0052,
    "linda": 0.0052,
    "daniel": 0.0049,
    "barbara": 0.0049,
    "elizabeth": 0.0047,
    "jennifer": 0.0047,
    "paul": 0.0047,
    "mark": 0.0047,
    "donald": 0.0046,
    "george": 0.0046,
    "maria": 0.0041,
    "kenneth": 0.0041,
    "susan": 0.0040,
    "steven": 0.0039,
    "edward": 0.0039,
    "margaret": 0.0038,
    "brian": 0.0037,
    "dorothy": 0.0036,
    "ronald": 0.0036,
    "anthony": 0.0036,
    "kevin": 0.0034,
    "jason": 0.0033,
    "matthew": 0.0033,
    "nancy": 0.0033,
    "karen": 0.0033,
    "helen": 0.0033,
    "sandra": 0.0031,
    "jose": 0.0030,
    "juan": 0.0020,
}
_GIVEN_DEFAULT_SHARE = 0.0015
_SURNAME_SHARE = {
    "smith": 0.0083,
    "johnson": 0.0066,
    "williams": 0.0055,
    "brown": 0.0049,
    "jones": 0.0048,
    "garcia": 0.0039,
    "miller": 0.0038,
    "davis": 0.0037,
    "rodriguez": 0.0035,
    "martinez": 0.0035,
    "hernandez": 0.0033,
    "lopez": 0.0029,
    "gonzalez": 0.0028,
    "wilson": 0.0027,
    "anderson": 0.0027,
    "thomas": 0.0026,
    "taylor": 0.0025,
    "moore": 0.0024,
    "jackson": 0.0024,
    "martin": 0.0024,
    "lee": 0.0023,
    "perez": 0.0021,
    "thompson": 0.0021,
    "white": 0.0021,
    "harris": 0.0019,
    "sanchez": 0.0019,
    "clark": 0.0018,
    "ramirez": 0.0018,
    "lewis": 0.0017,
    "robinson": 0.0017,
    "walker": 0.0017,
    "young": 0.0016,
    "allen": 0.0016,
    "king": 0.0016,
    "wright": 0.0015,
    "scott": 0.0015,
    "torres": 0.0015,
    "nguyen": 0.0014,
    "hill": 0.0014,
    "flores": 0.0014,
    "green": 0.0014,
    "adams": 0.0014,
    "nelson": 0.0014,
    "baker": 0.0014,
    "hall": 0.0013,
    "rivera": 0.0013,
    "campbell": 0.0013,
    "mitchell": 0.0013,
    "carter": 0.0012,
    "roberts": 0.0012,
    "kim": 0.0012,
    "wang": 0.0008,
    "li": 0.0008,
    "zhang": 0.0005,
    "chen": 0.0007,
}
_SURNAME_DEFAULT_SHARE = 0.0004


# Prior m and u per comparison level: the starting point of EM (people.fellegi_sunter)
# and the weights used as they are when the registry is too small to learn from.
# m: how often a re-arriving person's record compares so; u: how often two strangers'
# records do.
_PRIOR_MU: dict[tuple[str, str], tuple[float, float]] = {
    # Names: spelled the same ~90% of the time; typos ~3%, nicknames and variants ~5%.
    # u of an exact agreement is the name's share of the population (term frequency).
    ("first_name", "exact"): (0.88, 0.003),
    ("first_name", "nickname"): (0.05, 0.002),
    ("first_name", "partial"): (0.01, 0.001),  # Mary Ann / Mary
    ("first_name", "similar"): (0.025, 0.004),  # typo: one edit, or Jaro-Winkler >= 0.90
    ("first_name", "phonetic"): (0.005, 0.006),
    ("first_name", "fuzzy"): (0.005, 0.02),
    ("first_name", "initial"): (0.005, 0.005),  # ~1 stranger in 10 shares an initial, initials are rare
    ("first_name", "as_middle"): (0.005, 0.002),  # goes by the middle name
    ("first_name", "transposed"): (0.01, 1e-4),  # first and last name swapped
    ("first_name", "different"): (0.01, 0.977),
    ("middle_name", "exact"): (0.60, 0.02),  # relatives share middle names: u well above the share
    ("middle_name", "initial"): (0.25, 0.08),
    ("middle_name", "similar"): (0.05, 0.01),
    ("middle_name", "different"): (0.10, 0.89),
    ("last_name", "exact"): (0.90, 0.0008),
    ("last_name", "partial"): (0.02, 0.001),  # one part of a compound surname
    ("last_name", "similar"): (0.04, 0.0015),
    ("last_name", "phonetic"): (0.005, 0.004),
    ("last_name", "fuzzy"): (0.005, 0.015),
    ("last_name", "transposed"): (0.01, 1e-4),
    ("last_name", "different"): (0.025, 0.9926),  # marriage, data entry error
    # Date of birth: ~35,000 dates over 0-95 years, so two strangers share one with
    # u ~ 1/35,000. Swapped day/month and one-digit errors are the common typos.
    ("date_of_birth", "exact"): (0.93, 1 / 35_000),
    ("date_of_birth", "transposed"): (0.01, 1 / 35_000),
    ("date_of_birth", "typo"): (0.03, 30 / 35_000),  # ~30 dates are one edit away
    ("date_of_birth", "decade"): (0.003, 9 / 35_000),  # one digit off in the decade: a typo, or a junior
    ("date_of_birth", "year"): (0.005, 2 / 35_000),  # year from an age, off by one
    ("date_of_birth", "same_year"): (0.007, 365 / 35_000),  # the year alone agrees
    ("date_of_birth", "different"): (0.015, 0.988),
    # Sex: recorded wrongly on ~3% of lab reports; strangers agree half the time.
    ("sex", "exact"): (0.97, 0.5),
    ("sex", "different"): (0.03, 0.5),
    # Phone and e-mail: people change them (m); households share them (u far above chance).
    ("phone", "exact"): (0.65, 1e-4),
    ("phone", "similar"): (0.03, 2e-3),  # one digit mistyped or two swapped; or the next line of one building
    ("phone", "different"): (0.32, 0.9979),
    ("email", "exact"): (0.70, 5e-5),
    ("email", "similar"): (0.03, 5e-4),
    ("email", "different"): (0.27, 0.99945),
    # Address: street, city and postal code, each compared on its own (as splink does).
    # They are not independent (the same street almost always means the same postal
    # code), so the priors' u for city and postal code are set well above chance:
    # agreeing on them adds little once the street agrees. EM and random pairs replace
    # them with what the registry shows.
    ("street", "exact"): (0.55, 2e-4),
    ("street", "similar"): (0.10, 1e-3),
    ("street", "fuzzy"): (0.03, 0.01),
    ("street", "same_number"): (0.02, 0.02),
    ("street", "different"): (0.30, 0.967),
    ("city", "exact"): (0.80, 0.25),
    ("city", "similar"): (0.05, 0.02),
    ("city", "different"): (0.15, 0.73),
    ("postal_code", "exact"): (0.75, 0.12),
    ("postal_code", "similar"): (0.05, 0.03),
    ("postal_code", "different"): (0.20, 0.85),
}
# lambda of the priors: two records drawn at random are one person about once in
# 200,000 pairs. Intake states its own prior odds (Thresholds.prior_bits, from the
# registry's size); lists checked with match_pairs learn lambda by EM.
_PRIOR_LAMBDA = 1 / 200_000


def _prior_model() -> fs.Model:
    m = {key: mu[0] for key, mu in _PRIOR_MU.items()}
    u = {key: mu[1] for key, mu in _PRIOR_MU.items()}
    return fs.Model(
        m=m,
        u=u,
        lambda_=_PRIOR_LAMBDA,
        tf={"first_name": dict(_GIVEN_SHARE), "last_name": dict(_SURNAME_SHARE)},
        tf_default={"first_name": _GIVEN_DEFAULT_SHARE, "last_name": _SURNAME_DEFAULT_SHARE},
        source="priors",
    )


# Comparisons ---------------------------------------------------------------------

_SIMILAR_NAME = 0.90  # Jaro-Winkler: letters transposed or dropped in a longer name
_SIMILAR_STREET = 0.90
_FUZZY = 0.80  # Jaro-Winkler: more than a typo, still alike (two typos, a dropped syllable)
# One edit (Damerau: adjacent swaps count as one) is a typo in a name of four
# letters or more; in shorter names it is as often another name (Ian, Ina; Xia, Zia).
_TYPO_MIN_LENGTH = 4
_PHONETIC_MIN_LENGTH = 5
_SURNAME_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "da", "di", "do", "dos", "van", "von", "der", "le"})
_STRONG_NAME = frozenset({"exact", "nickname", "partial"})


def _jaro_winkler(a: str, b: str) -> float:
    # Arguments in a fixed order, so score(a, b) == score(b, a) to the last bit.
    return JaroWinkler.similarity(a, b) if a <= b else JaroWinkler.similarity(b, a)


def _is_typo(a: str, b: str) -> bool:
    if min(len(a), len(b)) >= _TYPO_MIN_LENGTH and OSA.distance(a, b, score_cutoff=1) <= 1:
        return True
    # Jaro-Winkler forgives a lot after a shared prefix: Maria and Mariana are two
    # names (and twins are named so), not a typo, so lengths must stay within one.
    return abs(len(a) - len(b)) <= 1 and _jaro_winkler(a, b) >= _SIMILAR_NAME


def _canonical_tokens(name: str) -> frozenset[str]:
    return frozenset(canonical_first(token) for token in name.split(" "))


def _compare_given(a: str, b: str) -> Outcome:
    if not a or not b:
        return "missing"
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if len(ja) == 1 or len(jb) == 1:
        # An initial, even the same on both sides, is shared by one person in ten.
        return "initial" if ja[0] == jb[0] else "different"
    if ja == jb:
        return "exact"
    if not given_name_senses(ja).isdisjoint(given_name_senses(jb)):
        return "nickname"
    if " " in a or " " in b:
        # "José Luis" recorded as "José" (or "Pepe"); not "José Luis" and "José Antonio".
        ta, tb = _canonical_tokens(a), _canonical_tokens(b)
        if ta <= tb or tb <= ta:
            return "partial"
    if is_known_given_name(ja) and is_known_given_name(jb):
        # Two names from the table that are not forms of each other are two names
        # (Daniel and Danielle, Jon and Joan), not a typo: twins are named this way.
        return "different"
    if _is_typo(ja, jb):
        return "similar"
    # Metaphone codes of short names are coarse: Gang and Qiang are both KNK.
    if min(len(ja), len(jb)) >= _PHONETIC_MIN_LENGTH and _metaphone(ja) == _metaphone(jb):
        return "phonetic"
    if _jaro_winkler(ja, jb) >= _FUZZY:
        return "fuzzy"
    return "different"


def _compare_surname(a: str, b: str) -> Outcome:
    if not a or not b:
        return "missing"
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if ja == jb:
        return "exact"
    if " " in a or " " in b:
        # One of two surnames ("García" for "García López"), not a shared particle.
        ta, tb = frozenset(a.split(" ")), frozenset(b.split(" "))
        smaller = ta if len(ta) <= len(tb) else tb
        if (ta <= tb or tb <= ta) and not smaller <= _SURNAME_PARTICLES:
            return "partial"
    if _is_typo(ja, jb):
        return "similar"
    if _metaphone(ja) == _metaphone(jb):
        return "phonetic"
    if _jaro_winkler(ja, jb) >= _FUZZY:
        return "fuzzy"
    return "different"


def _cross(a: str, b: str) -> bool:
    """One pair of a first/last swap agrees (exactly, as a nickname, or a typo away)."""
    if not a or not b:
        return False
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if ja == jb:
        return True
    if len(ja) > 1 and len(jb) > 1:
        return not given_name_senses(ja).isdisjoint(given_name_senses(jb)) or _is_typo(ja, jb)
    return False


def _compare_middle(a: str, b: str) -> Outcome:
    if not a or not b:
        return "missing"
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if len(ja) == 1 or len(jb) == 1:
        return "initial" if ja[0] == jb[0] else "different"
    if ja == jb:
        return "exact"
    if _is_typo(ja, jb) or not given_name_senses(ja).isdisjoint(given_name_senses(jb)):
        return "similar"
    return "different"


def _dob_digits(identity: Identity) -> str:
    """YYYYMMDD of a valid birth date, else the digits of one that is not a real date (or "")."""
    dob = identity.date_of_birth
    if dob is not None:
        return f"{dob.year:04d}{dob.month:02d}{dob.day:02d}"
    return identity.date_of_birth_text


def _compare_dob(a: Identity, b: Identity) -> Outcome:
    da, db = a.date_of_birth, b.date_of_birth
    if da is not None and db is not None:
        if da == db:
            return "exact"
        if da.year == db.year and da.month == db.day and da.day == db.month:
            return "transposed"
    ta, tb = _dob_digits(a), _dob_digits(b)
    if not ta or not tb:
        return "missing"
    if ta == tb:
        # Two records with the same impossible date (19800231) were typed from one source.
        return "exact"
    # YYYYMMDD as digits: one digit changed, or two adjacent ones swapped. A date that is
    # not a real date (one wrong digit: 19850631) is compared this way too, not dropped.
    if len(ta) == len(tb) and OSA.distance(ta, tb, score_cutoff=1) == 1:
        # Ten years or more apart, it may be no typo but a father and his junior.
        years_apart = abs(int(ta[:4]) - int(tb[:4])) if ta[:4].isdigit() and tb[:4].isdigit() else 0
        return "decade" if years_apart >= 10 else "typo"
    if len(ta) == len(tb) == 8 and ta[4:] == tb[4:] and _years_apart(a, b) == 1:
        return "year"
    if ta[:4] == tb[:4]:
        return "same_year"
    return "different"


def _compare_sex(a: str, b: str) -> Outcome:
    if a == "U" or b == "U":
        return "missing"
    return "exact" if a == b else "different"


def _compare_contacts(a: frozenset[str], b: frozenset[str]) -> Outcome:
    if not a or not b:
        return "missing"
    if not a.isdisjoint(b):
        return "exact"
    if any(len(x) == len(y) and OSA.distance(x, y, score_cutoff=1) == 1 for x in a for y in b):
        return "similar"
    return "different"


def _compare_street(a: str, b: str) -> Outcome:
    if not a or not b:
        return "missing"
    number_a, _, rest_a = a.partition(" ")
    number_b, _, rest_b = b.partition(" ")
    # Spaces are typed and dropped at random ("farrer pl", "farrerplace"): compared without them.
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if ja == jb:
        return "exact"
    numbered = number_a[:1].isdigit() and number_b[:1].isdigit()
    if numbered and number_a != number_b:
        # Different house numbers are different houses, however alike the street.
        return "different"
    rest_a, rest_b = (rest_a, rest_b) if numbered else (a, b)
    similarity = _jaro_winkler(rest_a.replace(" ", ""), rest_b.replace(" ", ""))
    if similarity >= _SIMILAR_STREET:
        return "similar"
    if similarity >= _FUZZY:
        return "fuzzy"
    return "same_number" if numbered else "different"


def _compare_place(a: str, b: str, *, digits: bool = False) -> Outcome:
    if not a or not b:
        return "missing"
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if ja == jb:
        return "exact"
    if digits:
        return "similar" if len(ja) == len(jb) and OSA.distance(ja, jb, score_cutoff=1) == 1 else "different"
    return "similar" if _jaro_winkler(ja, jb) >= _SIMILAR_STREET else "different"


# Scores and decisions ------------------------------------------------------------

PRIORS = _prior_model()


@dataclasses.dataclass(frozen=True, slots=True)
class FieldComparison:
    """How one field compared, and what that was worth, for the review screen."""

    field: str
    outcome: Outcome
    weight: float


@dataclasses.dataclass(frozen=True, slots=True)
class MatchScore:
    total: float  # match weight: sum of the field weights, in bits (log2 of the likelihood ratio)
    fields: tuple[FieldComparison, ...]
    # The twin/relative guard: the fields that tell two relatives of one household apart
    # (see _relative_guard); empty for any other pair.
    conflicts: tuple[str, ...] = ()

    def field(self, name: str) -> FieldComparison:
        return next(f for f in self.fields if f.field == name)

    def vector(self) -> fs.Vector:
        """The comparison vector: one level per field of fellegi_sunter.FIELDS (None when absent)."""
        outcomes = {f.field: f.outcome for f in self.fields}
        return tuple(None if outcomes[name] == "missing" else outcomes[name] for name in fs.FIELDS)


def compare(a: Identity, b: Identity) -> tuple[Outcome, ...]:
    """The comparison levels of two identities, one per field of fellegi_sunter.FIELDS; symmetric."""
    first = _compare_given(a.first_name, b.first_name)
    last = _compare_surname(a.last_name, b.last_name)
    if (first not in _STRONG_NAME or last not in _STRONG_NAME) and (
        _cross(a.first_name, b.last_name) and _cross(a.last_name, b.first_name)
    ):
        # The first name in the last-name field and the other way round.
        first, last = "transposed", "transposed"
    elif first == "different" and (
        (a.first_name and a.first_name == b.middle_name) or (b.first_name and b.first_name == a.middle_name)
    ):
        first = "as_middle"
    street = _compare_street(a.street, b.street)
    city = _compare_place(a.city, b.city)
    postal_code = _compare_place(a.postal_code, b.postal_code, digits=True)
    if street == "exact" and city != "different" and postal_code != "different":
        # The same address in the same place: agreeing city and postal code say nothing the
        # street has not said (counting them again is what merges neighbours and households,
        # who write their address the same way). A street only similar (a typo in its name at
        # the same number) is not that address as a household writes it: there the city and
        # postal code are evidence of their own, as they are for a street given differently.
        city = "missing" if city == "exact" else city
        postal_code = "missing" if postal_code == "exact" else postal_code
    return (
        first,
        _compare_middle(a.middle_name, b.middle_name),
        last,
        _compare_dob(a, b),
        _compare_sex(a.sex, b.sex),
        _compare_contacts(a.phones, b.phones),
        _compare_contacts(a.emails, b.emails),
        street,
        city,
        postal_code,
    )


def score(incoming: Identity, candidate: Identity, model: fs.Model | None = None) -> MatchScore:
    """Compare two identities field by field and weigh the outcomes with `model` (the priors by default); symmetric."""
    model = model or PRIORS
    a, b = incoming, candidate
    outcomes = compare(a, b)
    fields: list[FieldComparison] = []
    total = 0.0
    for name, outcome in zip(fs.FIELDS, outcomes, strict=True):
        if outcome == "missing":
            weight = 0.0
        elif outcome == "exact" and name in fs.TF_FIELDS:
            value = (a.first_name if name == "first_name" else a.last_name).replace(" ", "")
            weight = model.exact_weight(name, value)
        elif outcome == "transposed":
            # A swap of "James Smith" is as common as the names are: never worth more than the name agreeing in place.
            values = (a.first_name, b.first_name) if name == "first_name" else (a.last_name, b.last_name)
            weight = min(model.weight(name, outcome), *(model.exact_weight(name, v.replace(" ", "")) for v in values))
        else:
            weight = model.weight(name, outcome)
        total += weight
        fields.append(_field(name, outcome, weight))
    return MatchScore(total=total, fields=tuple(fields), conflicts=_relative_guard(outcomes, a, b))


def _relative_guard(outcomes: tuple[Outcome, ...], a: Identity, b: Identity) -> tuple[str, ...]:
    """Fields that hold back an automatic link whatever the total: relatives in one household.

    Everything relatives share (surname, address, phone) adds up, and the field that
    tells them apart may be worth fewer bits than the rest: twins and siblings differ by
    first name (boy and girl twins with alike names by sex), a father and his junior by
    a birth date a generation apart (or one digit off in the decade). Only with the same surname,
    and the same address or phone; any other
    disagreement is evidence weighed like an agreement, not a veto.
    """
    first, _middle, last, dob, sex, phone, _email, street, city, postal_code = outcomes
    # One household: the same street in the same place, or the same phone (a record without an address).
    household = (street == "exact" and "different" not in (city, postal_code)) or phone == "exact"
    # Relatives' surnames agree, or differ as a wife's and husband's do in Polish or Russian (Kowalska, Kowalski).
    if last not in ("exact", "similar", "partial") or not household:
        return ()
    if first in ("different", "as_middle", "fuzzy", "phonetic"):
        # Twins (the same birth date) and siblings or spouses (another one): a household shares
        # surname, street and phone, and those add up to more than a different first name costs.
        return ("first_name",)
    if dob == "exact" and sex == "different" and first != "exact":
        return ("sex",)
    if first in ("exact", "nickname") and (dob == "decade" or (dob == "different" and _years_apart(a, b) >= _GENERATION_YEARS)):
        return ("date_of_birth",)
    return ()


_GENERATION_YEARS = 15


def _years_apart(a: Identity, b: Identity) -> int:
    ya, yb = _dob_digits(a)[:4], _dob_digits(b)[:4]
    return abs(int(ya) - int(yb)) if len(ya) == 4 == len(yb) and ya.isdigit() and yb.isdigit() else 0


# Comparisons are immutable and repeat, so each distinct one is built once.
_FIELD_CACHE: dict[tuple[str, str, float], FieldComparison] = {}


def _field(name: str, outcome: Outcome, weight: float) -> FieldComparison:
    key = (name, outcome, weight)
    comparison = _FIELD_CACHE.get(key)
    if comparison is None:
        if len(_FIELD_CACHE) > 100_000:  # term-frequency weights of many models: keep the cache bounded
            _FIELD_CACHE.clear()
        comparison = _FIELD_CACHE[key] = FieldComparison(name, outcome, weight)
    return comparison


def prior_bits_for_registry(persons: int) -> float:
    """log2 prior odds that one given person of a registry is the one an incoming record names.

    About one person in the registry is the one (or none); so 1 / persons, with the
    registry taken as at least MIN_REGISTRY persons, so that the first records of a new
    installation are not linked on less evidence than later ones.
    """
    return -math.log2(max(persons, MIN_REGISTRY))


MIN_REGISTRY = 10_000
_CALIBRATION_POPULATION = 200_000


@dataclasses.dataclass(frozen=True, slots=True)
class Thresholds:
    """Where automatic links and the review queue start, as match probabilities.

    link 0.999: a pair is linked automatically when, on the evidence and the prior
    odds, at most one such link in a thousand would join two persons; a wrong link
    puts a stranger's lab result in someone's record, which costs far more than a
    review. review 0.5: a pair more likely the same person than not is shown to a
    person rather than created anew; below that, a new person (a missed link is a
    duplicate, found again at the next record or by a merge). Absent fields weigh 0,
    so the same probability means the same thing with or without phones and e-mails.

    `prior_bits` is log2 of the prior odds that the two records compared are one person
    (prior_bits_for_registry: -log2 of the registry's size). `match` and `review` are
    the same thresholds as match weights in bits.
    """

    link_probability: float = 0.999
    review_probability: float = 0.5
    prior_bits: float = -math.log2(_CALIBRATION_POPULATION)
    # Two candidates above the link threshold closer than this (bits) are the same person
    # twice, or two persons the record cannot tell apart: a person decides.
    margin: float = 6.0

    def __post_init__(self) -> None:
        if not 0 < self.review_probability <= self.link_probability < 1:
            raise ValueError(
                f"The thresholds must satisfy 0 < review ({self.review_probability}) <= link ({self.link_probability}) < 1."
            )
        if self.margin < 0:
            raise ValueError("The ambiguity margin cannot be negative.")

    @property
    def match(self) -> float:
        """The link threshold as a match weight in bits."""
        return fs.log_odds(self.link_probability) - self.prior_bits

    @property
    def review(self) -> float:
        return fs.log_odds(self.review_probability) - self.prior_bits

    def probability(self, score: MatchScore) -> float:
        return fs.probability(self.prior_bits + score.total)

    @classmethod
    def for_population(cls, persons: int) -> Thresholds:
        """The default probabilities, with the prior odds of a registry of `persons`."""
        return cls(prior_bits=prior_bits_for_registry(persons))


DEFAULT_THRESHOLDS = Thresholds()


def decide(score: MatchScore, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> DecisionOutcome:
    """match at or above the link probability (unless the twin guard holds), review above the review one, else new."""
    if score.total >= thresholds.match and not score.conflicts:
        return "match"
    if score.total >= thresholds.review or (score.conflicts and score.total >= thresholds.match):
        return "review"
    return "new"


DecisionReason = Literal["automatic", "ambiguous", "conflict", "grey_zone", "below_review", "no_candidates"]


@dataclasses.dataclass(frozen=True, slots=True)
class Decision[K]:
    """The outcome for one incoming record, with what a reviewer needs to see why."""

    decision: DecisionOutcome
    reason: DecisionReason
    key: K | None = None  # the best candidate (the one linked, for "match")
    score: MatchScore | None = None
    runner_up: K | None = None
    runner_up_score: MatchScore | None = None


def best_candidate[K](
    incoming: Identity,
    candidates: Iterable[tuple[K, Identity]],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    model: fs.Model | None = None,
) -> Decision[K]:
    """Score every candidate and decide for the best one.

    Two candidates both above the match threshold within `thresholds.margin` of each
    other are never picked automatically: either the registry holds the person twice,
    or the record fits two persons (a father and his junior when the birth date is
    missing), and linking a lab result to the wrong one is the costly error.
    """
    best_key: K | None = None
    best: MatchScore | None = None
    second_key: K | None = None
    second: MatchScore | None = None
    for key, identity in candidates:
        result = score(incoming, identity, model)
        if best is None or result.total > best.total:
            second_key, second = best_key, best
            best_key, best = key, result
        elif second is None or result.total > second.total:
            second_key, second = key, result
    if best is None:
        return Decision("new", "no_candidates")
    outcome = decide(best, thresholds)
    reason: DecisionReason
    if outcome == "match":
        if second is not None and second.total >= thresholds.match and best.total - second.total < thresholds.margin:
            outcome, reason = "review", "ambiguous"
        else:
            reason = "automatic"
    elif outcome == "review":
        reason = "conflict" if best.total >= thresholds.match else "grey_zone"
    else:
        reason = "below_review"
    return Decision(outcome, reason, best_key, best, second_key, second)
