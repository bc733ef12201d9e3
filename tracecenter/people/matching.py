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
    "same_area",  # different or missing street in the same postal code or city
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
        sex=_SEX_CODES.get(sex.strip().upper()[:1], "U"),
        street=normalize_street(street),
        city=normalize_city(city),
        postal_code=normalize_postal_code(postal_code, default_region),
        phones=frozenset(valid_phones),
        emails=frozenset(valid_emails),
    )


# Blocking ------------------------------------------------------------------------


# Bump whenever blocking_keys (or the nickname table) would file someone under other
# keys: the stored keys of every person must then be rebuilt, or old records would
# no longer be found.
BLOCKING_KEYS_VERSION = 1


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

    In both birth-date keys the day and the month are sorted, so a record with day
    and month swapped (03/05 for 05/03) files under the same key. An ambiguous
    nickname ("Al") is filed under each name it can stand for.
    """
    keys: set[str] = set()
    initials, last, name_keys = _name_key_parts(_first_token(identity.first_name), identity.last_name.replace(" ", ""))
    dob = identity.date_of_birth
    if dob is not None:
        low, high = (dob.month, dob.day) if dob.month <= dob.day else (dob.day, dob.month)
        date = f"{dob.year:04d}{low:02d}{high:02d}"
        keys.update(f"dob_fi:{date}:{initial}" for initial in initials)
        if last:
            keys.add(f"dob_ln:{date}:{last}")
    keys.update(name_keys)
    keys.update(f"ph:{phone}" for phone in identity.phones)
    keys.update(f"em:{email}" for email in identity.emails)
    return frozenset(keys)


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


def _w(m: float, u: float) -> float:
    return math.log2(m / u)


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

# m for an exact name agreement: a re-arriving person's name is spelled the same
# about 90% of the time (typos ~3%, nicknames and variants ~5%, other ~2%).
_M_NAME_EXACT = 0.90
# A nickname is used in ~6% of re-arrivals instead of 90% for the exact form (-3.9
# bits of m), and a different person has another form of the same name about a
# third as often as the exact one (+1.4 bits of u): 2.5 bits below an exact match.
_NICKNAME_DISCOUNT = 2.5
# Swapped first and last names: ~1% of records (m = 0.01 against 0.81 for both
# names straight), while two different persons are as unlikely to cross-agree as to
# agree: log2(0.81/0.01) = 6.3 bits below straight, split over the two name fields.
_TRANSPOSED_DISCOUNT = 3.2

_WEIGHTS: dict[tuple[str, str], float] = {
    # First name (exact and nickname weights depend on the name, see above).
    ("first_name", "partial"): _w(0.03, 0.003),  # Mary Ann / Mary
    ("first_name", "similar"): _w(0.03, 0.004),  # typo: Jaro-Winkler >= 0.90
    ("first_name", "phonetic"): _w(0.01, 0.006),
    ("first_name", "initial"): _w(0.01, 0.01 / 10),  # given an initial, ~1 in 10 strangers share it
    ("first_name", "as_middle"): _w(0.02, 0.002),  # goes by the middle name
    ("first_name", "different"): _w(0.02, 0.97),
    # Middle name: often missing or partly recorded; relatives share middle names,
    # so u is set well above the name's population share.
    ("middle_name", "exact"): _w(0.60, 0.02),
    ("middle_name", "initial"): _w(0.25, 0.08),
    ("middle_name", "similar"): _w(0.05, 0.01),
    ("middle_name", "different"): _w(0.10, 0.89),
    # Last name.
    ("last_name", "partial"): _w(0.03, 0.001),  # one part of a compound surname
    ("last_name", "similar"): _w(0.04, 0.0015),
    ("last_name", "phonetic"): _w(0.01, 0.004),
    ("last_name", "different"): _w(0.02, 0.99),  # marriage, data entry error
    # Date of birth: ~35,000 dates over 0-95 years, so two strangers share one with
    # u ~ 1/35,000. Swapped day/month and one-digit errors are the common typos.
    ("date_of_birth", "exact"): _w(0.95, 1 / 35_000),
    ("date_of_birth", "transposed"): _w(0.01, 1 / 35_000),
    ("date_of_birth", "typo"): _w(0.02, 30 / 35_000),  # ~30 dates are one edit away
    ("date_of_birth", "decade"): _w(0.003, 9 / 35_000),  # ~1 in 6 one-digit errors
    ("date_of_birth", "year"): _w(0.005, 2 / 35_000),  # year from an age, off by one
    ("date_of_birth", "different"): _w(0.015, 0.999),
    # Sex: recorded wrongly on ~3% of lab reports; strangers agree half the time.
    ("sex", "exact"): _w(0.97, 0.5),
    ("sex", "different"): _w(0.03, 0.5),
    # Phone and e-mail, when both records have some. People change numbers (m), and
    # household members share them, which is why u is far above the chance that two
    # strangers share a number.
    ("phone", "exact"): _w(0.65, 1e-4),
    ("phone", "similar"): _w(0.03, 1e-3),  # one digit mistyped or two swapped
    ("phone", "different"): _w(0.32, 0.9999),
    ("email", "exact"): _w(0.70, 5e-5),
    ("email", "similar"): _w(0.03, 5e-4),
    ("email", "different"): _w(0.27, 0.9999),
    # Address: households share it (u well above one address in a million); people
    # move (m). Postal code and street are one comparison because they are not
    # independent: the same street almost always means the same postal code.
    ("address", "exact"): _w(0.55, 2e-4),
    ("address", "similar"): _w(0.10, 1e-3),
    ("address", "same_area"): _w(0.10, 0.02),
    ("address", "different"): _w(0.25, 0.98),
}


@lru_cache(maxsize=65536)
def _given_exact_weight(joined: str) -> float:
    # Frequency of the name's most common sense: "bill" is as common as "william".
    share = max(_GIVEN_SHARE.get(sense, _GIVEN_DEFAULT_SHARE) for sense in given_name_senses(joined))
    return _w(_M_NAME_EXACT, share)


@lru_cache(maxsize=65536)
def _surname_exact_weight(joined: str) -> float:
    return _w(_M_NAME_EXACT, _SURNAME_SHARE.get(joined, _SURNAME_DEFAULT_SHARE))


def _nickname_weight(shared_senses: frozenset[str]) -> float:
    # The most common shared sense, so an ambiguous nickname gets the lower weight.
    return max(2.0, min(_given_exact_weight(sense) for sense in shared_senses) - _NICKNAME_DISCOUNT)


# Comparisons ---------------------------------------------------------------------

_SIMILAR_NAME = 0.90  # Jaro-Winkler: letters transposed or dropped in a longer name
_SIMILAR_STREET = 0.90
# One edit (Damerau: adjacent swaps count as one) is a typo in a name of four
# letters or more; in shorter names it is as often another name (Ian, Ina; Xia, Zia).
_TYPO_MIN_LENGTH = 4
_PHONETIC_MIN_LENGTH = 5
_SURNAME_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "da", "di", "do", "dos", "van", "von", "der", "le"})
_STRONG_NAME = frozenset({"exact", "nickname", "partial"})
_CROSS_OK = frozenset({"exact", "nickname", "similar"})


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


def _compare_given(a: str, b: str) -> tuple[Outcome, float]:
    if not a or not b:
        return "missing", 0.0
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if len(ja) == 1 or len(jb) == 1:
        # An initial, even the same on both sides, is shared by one person in ten.
        outcome: Outcome = "initial" if ja[0] == jb[0] else "different"
        return outcome, _WEIGHTS["first_name", outcome]
    if ja == jb:
        return "exact", _given_exact_weight(ja)
    shared = given_name_senses(ja) & given_name_senses(jb)
    if shared:
        return "nickname", _nickname_weight(shared)
    if " " in a or " " in b:
        # "José Luis" recorded as "José" (or "Pepe"); not "José Luis" and "José Antonio".
        ta, tb = _canonical_tokens(a), _canonical_tokens(b)
        if ta <= tb or tb <= ta:
            return "partial", _WEIGHTS["first_name", "partial"]
    if is_known_given_name(ja) and is_known_given_name(jb):
        # Two names from the table that are not forms of each other are two names
        # (Daniel and Danielle, Jon and Joan), not a typo: twins are named this way.
        return "different", _WEIGHTS["first_name", "different"]
    if _is_typo(ja, jb):
        return "similar", _WEIGHTS["first_name", "similar"]
    # Metaphone codes of short names are coarse: Gang and Qiang are both KNK.
    if min(len(ja), len(jb)) >= _PHONETIC_MIN_LENGTH and _metaphone(ja) == _metaphone(jb):
        return "phonetic", _WEIGHTS["first_name", "phonetic"]
    return "different", _WEIGHTS["first_name", "different"]


def _compare_surname(a: str, b: str) -> tuple[Outcome, float]:
    if not a or not b:
        return "missing", 0.0
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if ja == jb:
        return "exact", _surname_exact_weight(ja)
    if " " in a or " " in b:
        # One of two surnames ("García" for "García López"), not a shared particle.
        ta, tb = frozenset(a.split(" ")), frozenset(b.split(" "))
        smaller = ta if len(ta) <= len(tb) else tb
        if (ta <= tb or tb <= ta) and not smaller <= _SURNAME_PARTICLES:
            return "partial", _WEIGHTS["last_name", "partial"]
    if _is_typo(ja, jb):
        return "similar", _WEIGHTS["last_name", "similar"]
    if _metaphone(ja) == _metaphone(jb):
        return "phonetic", _WEIGHTS["last_name", "phonetic"]
    return "different", _WEIGHTS["last_name", "different"]


def _cross_weight(a: str, b: str) -> tuple[Outcome, float]:
    """One pair of a first/last swap. Which string is the given name is unknown, so
    an agreement is weighed as the weaker of a given name and a surname."""
    if not a or not b:
        return "missing", 0.0
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if ja == jb:
        return "exact", min(_given_exact_weight(ja), _surname_exact_weight(ja)) - _TRANSPOSED_DISCOUNT
    if len(ja) > 1 and len(jb) > 1:
        shared = given_name_senses(ja) & given_name_senses(jb)
        if shared:
            return "nickname", _nickname_weight(shared) - _TRANSPOSED_DISCOUNT
        if _is_typo(ja, jb):
            return "similar", _WEIGHTS["first_name", "similar"] - _TRANSPOSED_DISCOUNT
    return "different", 0.0


def _compare_middle(a: str, b: str) -> tuple[Outcome, float]:
    if not a or not b:
        return "missing", 0.0
    ja, jb = a.replace(" ", ""), b.replace(" ", "")
    if len(ja) == 1 or len(jb) == 1:
        outcome: Outcome = "initial" if ja[0] == jb[0] else "different"
        return outcome, _WEIGHTS["middle_name", outcome]
    if ja == jb:
        return "exact", _WEIGHTS["middle_name", "exact"]
    if _is_typo(ja, jb) or not given_name_senses(ja).isdisjoint(given_name_senses(jb)):
        return "similar", _WEIGHTS["middle_name", "similar"]
    return "different", _WEIGHTS["middle_name", "different"]


def _compare_dob(a: dt.date | None, b: dt.date | None) -> tuple[Outcome, float]:
    if a is None or b is None:
        return "missing", 0.0
    outcome: Outcome
    if a == b:
        outcome = "exact"
    elif a.year == b.year and a.month == b.day and a.day == b.month:
        outcome = "transposed"
    # YYYYMMDD as digits: one digit changed, or two adjacent ones swapped.
    elif OSA.distance(str(a.year * 10000 + a.month * 100 + a.day), str(b.year * 10000 + b.month * 100 + b.day)) == 1:
        # Ten years or more apart, it may be no typo but a father and his junior.
        outcome = "typo" if abs(a.year - b.year) < 10 else "decade"
    elif a.month == b.month and a.day == b.day and abs(a.year - b.year) == 1:
        outcome = "year"
    else:
        outcome = "different"
    return outcome, _WEIGHTS["date_of_birth", outcome]


def _compare_sex(a: str, b: str) -> tuple[Outcome, float]:
    if a == "U" or b == "U":
        return "missing", 0.0
    outcome: Outcome = "exact" if a == b else "different"
    return outcome, _WEIGHTS["sex", outcome]


def _compare_contacts(field: str, a: frozenset[str], b: frozenset[str]) -> tuple[Outcome, float]:
    if not a or not b:
        return "missing", 0.0
    outcome: Outcome
    if not a.isdisjoint(b):
        outcome = "exact"
    elif any(len(x) == len(y) and OSA.distance(x, y, score_cutoff=1) == 1 for x in a for y in b):
        outcome = "similar"
    else:
        outcome = "different"
    return outcome, _WEIGHTS[field, outcome]


def _similar_street(a: str, b: str) -> bool:
    number_a, _, rest_a = a.partition(" ")
    number_b, _, rest_b = b.partition(" ")
    if number_a[:1].isdigit() or number_b[:1].isdigit():
        # Different house numbers are different houses, however alike the street.
        return number_a == number_b and _jaro_winkler(rest_a, rest_b) >= _SIMILAR_STREET
    return _jaro_winkler(a, b) >= _SIMILAR_STREET


def _compare_address(a: Identity, b: Identity) -> tuple[Outcome, float]:
    same_area: bool | None = None
    if a.postal_code and b.postal_code:
        same_area = a.postal_code == b.postal_code
    elif a.city and b.city:
        same_area = a.city == b.city
    outcome: Outcome | None = None
    if a.street and b.street:
        if same_area is not False and a.street == b.street:
            outcome = "exact"
        elif same_area is not False and _similar_street(a.street, b.street):
            outcome = "similar"
        elif same_area:
            outcome = "same_area"
        else:
            outcome = "different"
    elif same_area is not None:
        outcome = "same_area" if same_area else "different"
    if outcome is None:
        return "missing", 0.0
    return outcome, _WEIGHTS["address", outcome]


# Scores and decisions ------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class FieldComparison:
    """How one field compared, and what that was worth, for the review screen."""

    field: str
    outcome: Outcome
    weight: float


# Outcomes that keep a pair from being linked automatically, whatever its total:
# they are how relatives differ (twins by first name, father and son by birth date,
# boy-girl twins by sex), and relatives agree on everything the total adds up. A
# first name that is the other's middle name is no better: siblings are named after
# the same relatives.
_CONFLICTS = frozenset(
    {
        ("first_name", "different"),
        ("first_name", "as_middle"),
        ("first_name", "missing"),
        ("last_name", "missing"),
        ("date_of_birth", "different"),
        ("date_of_birth", "decade"),
        ("date_of_birth", "missing"),
        ("sex", "different"),
    }
)


@dataclasses.dataclass(frozen=True, slots=True)
class MatchScore:
    total: float  # sum of the field weights, in bits (log2 of the likelihood ratio)
    fields: tuple[FieldComparison, ...]

    @property
    def conflicts(self) -> tuple[str, ...]:
        """Fields whose disagreement (or absence) holds back an automatic match."""
        return tuple(f.field for f in self.fields if (f.field, f.outcome) in _CONFLICTS)

    def field(self, name: str) -> FieldComparison:
        return next(f for f in self.fields if f.field == name)


def score(incoming: Identity, candidate: Identity) -> MatchScore:
    """Compare two identities field by field; symmetric in its arguments."""
    a, b = incoming, candidate
    first = _compare_given(a.first_name, b.first_name)
    last = _compare_surname(a.last_name, b.last_name)
    if first[0] not in _STRONG_NAME or last[0] not in _STRONG_NAME:
        # The first name in the last-name field and the other way round.
        cross_first = _cross_weight(a.first_name, b.last_name)
        cross_last = _cross_weight(a.last_name, b.first_name) if cross_first[0] in _CROSS_OK else cross_first
        if cross_last[0] in _CROSS_OK and cross_first[1] + cross_last[1] > first[1] + last[1]:
            first, last = ("transposed", cross_first[1]), ("transposed", cross_last[1])
        elif first[0] == "different" and (
            (a.first_name and a.first_name == b.middle_name) or (b.first_name and b.first_name == a.middle_name)
        ):
            first = ("as_middle", _WEIGHTS["first_name", "as_middle"])
    middle = _compare_middle(a.middle_name, b.middle_name)
    dob = _compare_dob(a.date_of_birth, b.date_of_birth)
    sex = _compare_sex(a.sex, b.sex)
    phone = _compare_contacts("phone", a.phones, b.phones)
    email = _compare_contacts("email", a.emails, b.emails)
    address = _compare_address(a, b)
    return MatchScore(
        total=first[1] + middle[1] + last[1] + dob[1] + sex[1] + phone[1] + email[1] + address[1],
        fields=(
            _field("first_name", first),
            _field("middle_name", middle),
            _field("last_name", last),
            _field("date_of_birth", dob),
            _field("sex", sex),
            _field("phone", phone),
            _field("email", email),
            _field("address", address),
        ),
    )


# Comparisons are immutable and repeat (the weights come from the tables above, a
# finite set), so each distinct one is built once: a third of score()'s time otherwise.
_FIELD_CACHE: dict[tuple[str, str, float], FieldComparison] = {}


def _field(name: str, result: tuple[Outcome, float]) -> FieldComparison:
    key = (name, result[0], result[1])
    comparison = _FIELD_CACHE.get(key)
    if comparison is None:
        comparison = _FIELD_CACHE[key] = FieldComparison(name, result[0], result[1])
    return comparison


@dataclasses.dataclass(frozen=True, slots=True)
class Thresholds:
    """Where automatic links and the review queue start, in bits.

    Calibrated on bench/matcher.py (200,000 persons, 20,000 incoming records, seed 1):
    at match=28, 3 false merges in 13,350 automatic links (precision 99.98%) and 95.5%
    of re-arrivals linked automatically; at 24, 6 false merges; at 20, 33. At review=16
    the queue holds 8% of the records (most of them the benchmark's twins, juniors and
    siblings) and 99.4% of re-arrivals are linked or reviewable. Random coincidences
    (a namesake born the same day) grow with the registry, about one bit per doubling:
    use for_population for registries much larger than the benchmark's.
    """

    match: float = 28.0
    review: float = 16.0
    # Two candidates above `match` closer than this are the same person twice, or
    # two persons the record cannot tell apart: a person decides.
    margin: float = 6.0

    def __post_init__(self) -> None:
        if self.review > self.match:
            raise ValueError(f"The review threshold ({self.review}) must not exceed the match threshold ({self.match}).")
        if self.margin < 0:
            raise ValueError("The ambiguity margin cannot be negative.")

    @classmethod
    def for_population(cls, persons: int) -> Thresholds:
        """The defaults, raised by log2(persons / 200,000) bits for a larger registry."""
        shift = max(0.0, math.log2(max(persons, 1) / _CALIBRATION_POPULATION))
        defaults = cls()
        return cls(match=defaults.match + shift, review=defaults.review + shift, margin=defaults.margin)


_CALIBRATION_POPULATION = 200_000
DEFAULT_THRESHOLDS = Thresholds()


def decide(score: MatchScore, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> DecisionOutcome:
    """match above thresholds.match without conflicts, review in the grey zone, else new."""
    if score.total >= thresholds.match and not score.conflicts:
        return "match"
    if score.total >= thresholds.review:
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
    incoming: Identity, candidates: Iterable[tuple[K, Identity]], thresholds: Thresholds = DEFAULT_THRESHOLDS
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
        result = score(incoming, identity)
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
