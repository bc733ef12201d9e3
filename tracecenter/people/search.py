"""Finding persons by what a caller says: a name (nicknames, accents, typos), a phone, a date of birth.

Names are encrypted, so nothing here reads one: a query is turned into the same keyed hashes that
persons are filed under (the blind indexes of `Person` and `ContactPoint`, and the blocking keys
identity matching stores in `PersonMatchKey`), and the database compares hashes. A misspelled or
nicknamed name is found because the blocking keys are phonetic and nickname-aware
(`identity.match_keys_of`); this module only asks for them, it does not know how they are built.

The search runs over `among`, the persons the caller may see (the access policy's answer): it can
narrow what a user sees, never widen it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata
from typing import Any

from django.db.models import Case, Count, Expression, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from tracecenter.core import clock, crypto
from tracecenter.core.errors import DomainError
from tracecenter.people import normalize
from tracecenter.people.identity import key_hash, match_keys_of, search_keys_of
from tracecenter.people.models import ContactPoint, Person, PersonMatchKey

MAX_NAME = 100
MAX_PHONE = 40


@dataclasses.dataclass(frozen=True)
class PersonQuery:
    """What a user typed; every field may be empty, but not all of them."""

    first_name: str = ""
    last_name: str = ""
    date_of_birth: dt.date | None = None
    phone: str = ""


@dataclasses.dataclass(frozen=True)
class CleanQuery:
    first_name: str
    last_name: str
    date_of_birth: dt.date | None
    phone: str  # E.164, or empty

    @property
    def fields(self) -> list[str]:
        """The names of the fields searched by (for the audit trail: names, never values)."""
        return [name for name in ("first_name", "last_name", "date_of_birth", "phone") if getattr(self, name)]


def _clean_name(raw: str, field: str) -> str:
    if len(raw) > MAX_NAME:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": MAX_NAME}, field=field)
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise DomainError(_("A name cannot contain control characters."), field=field)
    try:
        cleaned = normalize.clean_name(raw)
    except normalize.InvalidValue as exc:
        if exc.code == "control_characters":
            raise DomainError(_("A name cannot contain control characters."), field=field) from None
        raise DomainError(_("A name must contain at least one letter."), field=field) from None
    if cleaned and not normalize.name_key(cleaned):
        raise DomainError(_("A name must contain at least one letter."), field=field)
    return cleaned


def clean_person_query(query: PersonQuery) -> CleanQuery:
    """Validate a search; raises DomainError naming the field at fault."""
    first = _clean_name(query.first_name or "", "first_name")
    last = _clean_name(query.last_name or "", "last_name")
    dob = query.date_of_birth
    if dob is not None and (dob > clock.today() or dob.year < 1900):
        raise DomainError(_("Give a date of birth between 1900 and today."), field="date_of_birth")
    phone = ""
    raw_phone = (query.phone or "").strip()
    if raw_phone:
        if len(raw_phone) > MAX_PHONE or any(unicodedata.category(ch) == "Cc" for ch in raw_phone):
            raise DomainError(_("This is not a phone number."), field="phone")
        try:
            phone = normalize.phone_e164(raw_phone)
        except normalize.InvalidValue:
            raise DomainError(_("This is not a valid phone number."), field="phone") from None
    if first and not last and dob is None and not phone:
        raise DomainError(
            _("A first name alone finds too many people: add the last name or the date of birth."), field="last_name"
        )
    if not (first or last or dob or phone):
        raise DomainError(_("Give a name, a date of birth or a phone number."), field="last_name")
    return CleanQuery(first_name=first, last_name=last, date_of_birth=dob, phone=phone)


def _one_if(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _name_index(value: str, purpose: str) -> str:
    return crypto.blind_index(normalize.name_key(value), purpose=purpose)


def persons_matching(among: QuerySet[Person], query: CleanQuery) -> QuerySet[Person]:
    """The persons of `among` that `query` may mean, closest first.

    Every given field narrows (a phone and a name: that phone, and a name like that one); a name
    matches exactly (after accents and case) or through a shared blocking key, which is how
    "Jon Smyth", "Bill" for William, or a swapped day and month are found; a surname given alone
    is found by its sound (matching.search_keys). Each row carries
    `search_rank`: exact name and birth-date matches, and shared keys, count up.
    """
    rows = among.filter(merged_into__isnull=True)
    exact: Expression = Value(0, output_field=IntegerField())
    # Each field narrows to the persons filed under its keyed hashes, found through their indexes (pk IN ...),
    # and only those few are then checked against `among`: never a walk over every person `among` holds.
    if query.phone:
        rows = rows.filter(
            pk__in=ContactPoint.objects.filter(
                kind=ContactPoint.Kind.PHONE,
                value_bidx=ContactPoint.index_of(ContactPoint.Kind.PHONE, query.phone),
            ).values("person_id")
        )
    if query.date_of_birth is not None:
        dob_index = crypto.blind_index(query.date_of_birth.isoformat(), purpose="dob")
        if not (query.first_name or query.last_name):
            rows = rows.filter(dob_bidx=dob_index)
        else:
            exact = exact + _one_if(Q(dob_bidx=dob_index))
    if query.first_name or query.last_name:
        by_name: dict[str, str] = {}
        if query.last_name:
            by_name["last_name_bidx"] = _name_index(query.last_name, "last_name")
            exact = exact + _one_if(Q(last_name_bidx=by_name["last_name_bidx"]))
        if query.first_name:
            by_name["first_name_bidx"] = _name_index(query.first_name, "first_name")
            exact = exact + _one_if(Q(first_name_bidx=by_name["first_name_bidx"]))
        # Only the keys the names take part in: a key of the birth date alone (a blocking pass of the matcher) would
        # find everyone born that day, whatever the name typed.
        with_names = match_keys_of(first_name=query.first_name, last_name=query.last_name, date_of_birth=query.date_of_birth)
        without_names = match_keys_of(first_name="", last_name="", date_of_birth=query.date_of_birth)
        keys = {key_hash(key) for key in with_names - without_names}
        if query.last_name and not query.first_name and query.date_of_birth is None:
            # A surname alone, perhaps misspelled: the blocking keys all need a first name or a birth
            # date, so the surname's sound (a key kept for search only) finds "Jonson" for Johnson.
            keys |= {key_hash(key) for key in search_keys_of(last_name=query.last_name)}
        # The names exactly, or a shared key: the persons filed under either, as one list of ids.
        named: QuerySet[Any] = Person.objects.filter(**by_name).values("pk")
        if keys:
            named = PersonMatchKey.objects.filter(key__in=keys).values("person_id").union(named)
        rows = rows.filter(pk__in=named)
        if keys:
            # Counted per person shown (a subquery), not by grouping every candidate's columns.
            shared = Coalesce(
                Subquery(
                    PersonMatchKey.objects.filter(person=OuterRef("pk"), key__in=keys)
                    .order_by()
                    .values("person")
                    .annotate(n=Count("key", distinct=True))
                    .values("n")
                ),
                0,
            )
            return rows.annotate(search_rank=exact * 10 + shared).order_by("-search_rank", "-pk")
    return rows.annotate(search_rank=exact).order_by("-search_rank", "-pk")
