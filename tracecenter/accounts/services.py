"""Writes to accounts: users, their languages and skills, passwords, jurisdictions, teams, skills.

Every write asks the access policy first (`policy.may_administer`: an administrator's own
jurisdiction and below), runs in one transaction, and leaves one audit entry naming the fields it
changed, never their values and never a password. Bad input is a DomainError on the field at fault.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import AccessGrant, Jurisdiction, Proficiency, Skill, Team, User, UserLanguage
from tracecenter.accounts.roles import Role
from tracecenter.accounts.validation import clean_code, clean_email, clean_text, clean_time_zone, clean_username
from tracecenter.core import clock, trail
from tracecenter.core.codes import language_name, normalize_language
from tracecenter.core.env import env_int
from tracecenter.core.errors import DomainError

NAME_MAX = 150
PLACE_NAME_MAX = 120
MAX_LANGUAGES = 20
PATH_MAX = 255  # Jurisdiction.path
# Lower and upper case letters and digits without look-alikes (0/O, 1/l/I): read aloud over the phone.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 -- letters, not a password


@dataclasses.dataclass(frozen=True)
class SpokenLanguage:
    language: str  # a code or a name; stored as its ISO 639 code
    proficiency: str


@dataclasses.dataclass(frozen=True)
class UserInput:
    first_name: str
    last_name: str
    email: str
    role: str
    jurisdiction: Jurisdiction
    team: Team | None = None
    languages: Sequence[SpokenLanguage] = ()
    skills: Sequence[Skill] = ()


@dataclasses.dataclass(frozen=True)
class IssuedPassword:
    """A user and the temporary password just set: shown once to the administrator, never stored in clear."""

    user: User
    password: str


def _require_administers(actor: User, jurisdiction: Jurisdiction | None) -> None:
    if not policy.may_administer(actor, jurisdiction):
        raise PermissionDenied


def _audit(
    actor: User | None, action: str, obj: Any, jurisdiction_id: int | None, fields: Iterable[str], detail: str = ""
) -> None:
    trail.record(
        actor=actor,
        action=action,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        jurisdiction_id=jurisdiction_id,
        fields=fields,
        detail=detail,
    )


# --- users ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _CleanUser:
    values: dict[str, Any]
    languages: dict[str, str]  # code -> proficiency
    skills: frozenset[int]


def _clean_languages(languages: Sequence[SpokenLanguage]) -> dict[str, str]:
    if len(languages) > MAX_LANGUAGES:
        raise DomainError(_("List at most %(n)d languages.") % {"n": MAX_LANGUAGES}, field="languages")
    spoken: dict[str, str] = {}
    for entry in languages:
        code = normalize_language(entry.language)
        if code is None:
            raise DomainError(
                _("This is not a language TraceCenter knows: give its ISO 639 code, such as “es”, or its name."),
                field="languages",
            )
        if entry.proficiency not in Proficiency.values:
            raise DomainError(_("Choose how well the language is spoken."), field="languages")
        if code in spoken:
            raise DomainError(_("%(language)s is listed twice.") % {"language": language_name(code)}, field="languages")
        spoken[code] = entry.proficiency
    return spoken


def _clean_user(actor: User, data: UserInput, current: User | None = None) -> _CleanUser:
    values: dict[str, Any] = {
        "first_name": clean_text(data.first_name, field="first_name", max_length=NAME_MAX),
        "last_name": clean_text(data.last_name, field="last_name", max_length=NAME_MAX),
        "email": clean_email(data.email),
    }
    if data.role not in Role.values:
        raise DomainError(_("Choose a role from the list."), field="role")
    _require_administers(actor, data.jurisdiction)
    team = data.team
    if team is not None:
        # Joining a team is the team's jurisdiction's business; a team the user already has (one of the
        # state's, say, kept while a county administrator edits them) stays without that question.
        if current is None or team.pk != current.team_id:
            _require_administers(actor, team.jurisdiction)
        if team.jurisdiction_id not in data.jurisdiction.ancestors_and_self():
            raise DomainError(
                _("This team works in another jurisdiction: choose a team of %(name)s or of a jurisdiction above it.")
                % {"name": data.jurisdiction.name},
                field="team",
            )
    for skill in data.skills:
        if not policy.covers(skill.jurisdiction, data.jurisdiction):
            raise DomainError(
                _("The skill “%(skill)s” is defined for another jurisdiction.") % {"skill": skill.name}, field="skills"
            )
    values.update(role=data.role, jurisdiction=data.jurisdiction, team=team)
    return _CleanUser(values=values, languages=_clean_languages(data.languages), skills=frozenset(s.pk for s in data.skills))


def _temporary_password(user: User) -> str:
    """About 115 bits, in four groups of five so it can be read out and typed once."""
    while True:
        raw = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(20))
        password = "-".join(raw[i : i + 5] for i in range(0, 20, 5))
        try:
            validate_password(password, user)
        except ValidationError:  # pragma: no cover - 115 random bits resemble no user name and no common password
            continue
        return password


def end_sessions(user: User) -> int:
    """Delete the user's stored sessions (database session store).

    The authentication backend already refuses an inactive user on their next request, and a new
    password invalidates the old sessions' hash; deleting them as well means that a later
    reactivation cannot bring an old session cookie back to life.
    """
    ended = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=clock.now()).iterator(chunk_size=500)
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk)
    ]
    Session.objects.filter(session_key__in=ended).delete()
    return len(ended)


def _set_languages(user: User, spoken: dict[str, str]) -> None:
    UserLanguage.objects.filter(user=user).delete()
    UserLanguage.objects.bulk_create(
        UserLanguage(user=user, language=code, proficiency=proficiency) for code, proficiency in spoken.items()
    )


@transaction.atomic
def user_create(*, actor: User, username: str, data: UserInput) -> IssuedPassword:
    """A new user with a temporary password that they must change when they first sign in."""
    clean = _clean_user(actor, data)
    username = clean_username(username)
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(_("This user name is taken."), field="username")
    user = User(username=username, must_change_password=True, **clean.values)
    password = _temporary_password(user)
    user.set_password(password)
    user.save()
    _set_languages(user, clean.languages)
    user.skills.set(clean.skills)
    fields = [*clean.values, "username", "password", "must_change_password", "languages", "skills"]
    _audit(actor, "create", user, user.jurisdiction_id, fields)
    return IssuedPassword(user=user, password=password)


def _spoken(user: User) -> dict[str, str]:
    return dict(UserLanguage.objects.filter(user=user).values_list("language", "proficiency"))


@transaction.atomic
def user_update(*, actor: User, user: User, data: UserInput) -> User:
    """Change a user's names, e-mail, role, place, team, languages and skills. The user name stays:
    the audit trail and other records name people by it."""
    _require_administers(actor, user.jurisdiction)
    clean = _clean_user(actor, data, current=user)
    if user.pk == actor.pk:
        # An administrator who demoted or moved themselves could lock the department out of its own set-up.
        if clean.values["role"] != user.role:
            raise DomainError(_("You cannot change your own role: ask another administrator."), field="role")
        if clean.values["jurisdiction"] != user.jurisdiction:
            raise DomainError(_("You cannot change your own jurisdiction: ask another administrator."), field="jurisdiction")
    changed = [name for name, value in clean.values.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, clean.values[name])
    if changed:
        user.save(update_fields=changed)
    if _spoken(user) != clean.languages:
        _set_languages(user, clean.languages)
        changed.append("languages")
    if set(user.skills.values_list("pk", flat=True)) != clean.skills:
        user.skills.set(clean.skills)
        changed.append("skills")
    if changed:
        _audit(actor, "update", user, user.jurisdiction_id, changed)
    return user


@transaction.atomic
def user_deactivate(*, actor: User, user: User) -> User:
    """The user can no longer sign in and their sessions end. Cases and contacts they own stay theirs
    until a supervisor reassigns them: taking work away is an assignment decision, not an account one."""
    _require_administers(actor, user.jurisdiction)
    if user.pk == actor.pk:
        raise DomainError(_("You cannot deactivate yourself: ask another administrator."))
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
        _audit(actor, "update", user, user.jurisdiction_id, ["is_active"], detail="deactivated")
    end_sessions(user)
    return user


@transaction.atomic
def user_reactivate(*, actor: User, user: User) -> User:
    _require_administers(actor, user.jurisdiction)
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
        _audit(actor, "update", user, user.jurisdiction_id, ["is_active"], detail="reactivated")
    return user


@transaction.atomic
def user_password_reset(*, actor: User, user: User) -> IssuedPassword:
    """A new temporary password, to be changed at the next sign-in; the user's sessions end."""
    _require_administers(actor, user.jurisdiction)
    password = _temporary_password(user)
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    end_sessions(user)
    _audit(actor, "update", user, user.jurisdiction_id, ["password", "must_change_password"], detail="password reset")
    return IssuedPassword(user=user, password=password)


@transaction.atomic
def user_password_change(*, actor: User, new_password: str) -> User:
    """The signed-in user chooses their own password (the form has checked the current one)."""
    if actor.check_password(new_password):
        raise DomainError(_("Choose a new password, not the one you have now."), field="new_password1")
    try:
        validate_password(new_password, actor)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="new_password1") from None
    actor.set_password(new_password)
    actor.must_change_password = False
    actor.save(update_fields=["password", "must_change_password"])
    _audit(actor, "update", actor, actor.jurisdiction_id, ["password", "must_change_password"], detail="password changed")
    return actor


@transaction.atomic
def administrator_create(
    *,
    username: str,
    password: str,
    jurisdiction_code: str,
    jurisdiction_name: str = "",
    time_zone: str = "",
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> tuple[User, bool]:
    """The first administrator, from the command line, with the top-level jurisdiction if it is new.

    There is no acting user: whoever can run manage.py already holds the database. Returns the user
    and whether the jurisdiction was created.
    """
    username = clean_username(username)
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(_("A user named %(name)s already exists.") % {"name": username}, field="username")
    code = clean_code(jurisdiction_code, field="jurisdiction_code")
    user = User(
        username=username,
        first_name=clean_text(first_name, field="first_name", max_length=NAME_MAX, required=False),
        last_name=clean_text(last_name, field="last_name", max_length=NAME_MAX, required=False),
        email=clean_email(email),
        role=Role.ADMINISTRATOR,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), field="password") from None
    jurisdiction = Jurisdiction.objects.filter(code=code).first()
    created = jurisdiction is None
    if jurisdiction is None:
        if not (jurisdiction_name or "").strip():
            raise DomainError(
                _("No jurisdiction has the code %(code)s: give its name to create it.") % {"code": code},
                field="jurisdiction_name",
            )
        jurisdiction = Jurisdiction(
            name=clean_text(jurisdiction_name, field="jurisdiction_name", max_length=PLACE_NAME_MAX), code=code
        )
        if time_zone:
            jurisdiction.time_zone = clean_time_zone(time_zone)
        jurisdiction.save()
        _audit(None, "create", jurisdiction, jurisdiction.pk, ["name", "code", "time_zone"], detail="createadmin")
    user.jurisdiction = jurisdiction
    user.set_password(password)
    user.save()
    fields = ["username", "first_name", "last_name", "email", "role", "jurisdiction", "password"]
    _audit(None, "create", user, jurisdiction.pk, fields, detail="createadmin")
    return user, created


# --- jurisdictions, teams, skills ------------------------------------------------------------------


def _clean_place(name: str, code: str, time_zone: str) -> dict[str, str]:
    return {
        "name": clean_text(name, field="name", max_length=PLACE_NAME_MAX),
        "code": clean_code(code),
        "time_zone": clean_time_zone(time_zone),
    }


def _code_taken(code: str, but: Jurisdiction | None = None) -> bool:
    others = Jurisdiction.objects.filter(code=code)
    return (others.exclude(pk=but.pk) if but is not None else others).exists()


@transaction.atomic
def jurisdiction_create(*, actor: User, parent: Jurisdiction, name: str, code: str, time_zone: str) -> Jurisdiction:
    """A jurisdiction below one the administrator manages (top-level ones come only from `createadmin`)."""
    _require_administers(actor, parent)
    values = _clean_place(name, code, time_zone)
    if _code_taken(values["code"]):
        raise DomainError(_("Another jurisdiction has this code."), field="code")
    if len(parent.path) + 21 > PATH_MAX:  # room for one more id
        raise DomainError(_("The tree is too deep to add a jurisdiction here."), field="parent")
    jurisdiction = Jurisdiction.objects.create(parent=parent, **values)
    _audit(actor, "create", jurisdiction, jurisdiction.pk, [*values, "parent"])
    return jurisdiction


def _move(jurisdiction: Jurisdiction, parent: Jurisdiction) -> None:
    """Place `jurisdiction` below `parent`, rewriting the materialized path of its whole subtree."""
    if parent.path.startswith(jurisdiction.path):
        raise DomainError(_("A jurisdiction cannot be placed below itself or below one of its own."), field="parent")
    old, new = jurisdiction.path, f"{parent.path}{jurisdiction.pk}/"
    subtree = Jurisdiction.objects.filter(path__startswith=old)
    longest = max(len(p) for p in subtree.values_list("path", flat=True))
    if longest - len(old) + len(new) > PATH_MAX:
        raise DomainError(_("The tree is too deep to add a jurisdiction here."), field="parent")
    subtree.update(path=Concat(Value(new), Substr("path", len(old) + 1)))
    jurisdiction.parent = parent
    jurisdiction.path = new


@transaction.atomic
def jurisdiction_update(
    *,
    actor: User,
    jurisdiction: Jurisdiction,
    name: str,
    code: str,
    time_zone: str,
    parent: Jurisdiction | None,
    calling_hours: tuple[dt.time, dt.time] | None = None,
) -> Jurisdiction:
    """Rename, recode, change the time zone or the calling hours, or move below another jurisdiction the
    administrator manages."""
    _require_administers(actor, jurisdiction)
    jurisdiction = Jurisdiction.objects.select_for_update().get(pk=jurisdiction.pk)
    values: dict[str, Any] = _clean_place(name, code, time_zone)
    if calling_hours is not None:
        start, end = calling_hours
        if not start < end:
            raise DomainError(_("Calls must start before they end, on the same day."), field="calling_until")
        values.update(calling_from=start, calling_until=end)
    if _code_taken(values["code"], but=jurisdiction):
        raise DomainError(_("Another jurisdiction has this code."), field="code")
    changed = [field for field, value in values.items() if getattr(jurisdiction, field) != value]
    if parent != jurisdiction.parent:
        if parent is None:
            raise DomainError(_("Choose the jurisdiction this one belongs to."), field="parent")
        # Moving takes a jurisdiction out of one place and into another: the administrator must manage both.
        _require_administers(actor, jurisdiction.parent)
        _require_administers(actor, parent)
        _move(jurisdiction, parent)
        changed.append("parent")
    for field, value in values.items():
        setattr(jurisdiction, field, value)
    if changed:
        jurisdiction.save()
        _audit(actor, "update", jurisdiction, jurisdiction.pk, changed)
    return jurisdiction


def jurisdiction_uses(jurisdiction: Jurisdiction) -> list[str]:
    """What refers to `jurisdiction` (sub-jurisdictions, teams, users, cases, ...), by record type.

    Found through the model's relations, hidden ones included, so a record type that a higher app
    adds later counts without this module knowing it.
    """
    uses = []
    for relation in Jurisdiction._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
            continue
        model = relation.related_model
        if model is None or isinstance(model, str):  # resolved by the time models are loaded
            raise RuntimeError(f"unresolved relation {relation.name} of Jurisdiction")
        if model._base_manager.filter(**{relation.field.name: jurisdiction}).exists():  # type: ignore[union-attr]
            uses.append(str(model._meta.verbose_name_plural))
    return sorted(set(uses))


@transaction.atomic
def jurisdiction_delete(*, actor: User, jurisdiction: Jurisdiction) -> None:
    """Delete a jurisdiction nothing refers to yet (one created by mistake)."""
    _require_administers(actor, jurisdiction)
    # The administrator's own jurisdiction (the only top-level one they can reach) always has them as a user.
    uses = jurisdiction_uses(jurisdiction)
    if uses:
        raise DomainError(_("This jurisdiction is in use (%(uses)s) and cannot be deleted.") % {"uses": ", ".join(uses)})
    pk, parent_id = jurisdiction.pk, jurisdiction.parent_id
    jurisdiction.delete()
    # Filed under the parent: auditors find entries through jurisdictions that still exist.
    trail.record(actor=actor, action="delete", object_type="jurisdiction", object_id=pk, jurisdiction_id=parent_id)


def _clean_team_name(jurisdiction: Jurisdiction, name: str, but: Team | None = None) -> str:
    name = clean_text(name, field="name", max_length=PLACE_NAME_MAX)
    same = Team.objects.filter(jurisdiction=jurisdiction, name__iexact=name)
    if (same.exclude(pk=but.pk) if but is not None else same).exists():
        raise DomainError(
            _("%(jurisdiction)s already has a team of this name.") % {"jurisdiction": jurisdiction.name}, field="name"
        )
    return name


@transaction.atomic
def team_create(*, actor: User, jurisdiction: Jurisdiction, name: str) -> Team:
    _require_administers(actor, jurisdiction)
    team = Team.objects.create(jurisdiction=jurisdiction, name=_clean_team_name(jurisdiction, name))
    _audit(actor, "create", team, jurisdiction.pk, ["name", "jurisdiction"])
    return team


@transaction.atomic
def team_update(*, actor: User, team: Team, name: str) -> Team:
    _require_administers(actor, team.jurisdiction)
    name = _clean_team_name(team.jurisdiction, name, but=team)
    if name != team.name:
        team.name = name
        team.save(update_fields=["name"])
        _audit(actor, "update", team, team.jurisdiction_id, ["name"])
    return team


@transaction.atomic
def skill_create(*, actor: User, jurisdiction: Jurisdiction, code: str, name: str) -> Skill:
    """A skill that users of `jurisdiction` and below can be given, and work can ask for."""
    _require_administers(actor, jurisdiction)
    code = clean_code(code)
    name = clean_text(name, field="name", max_length=PLACE_NAME_MAX)
    if Skill.objects.filter(code=code).exists():
        raise DomainError(_("Another skill has this code."), field="code")
    skill = Skill.objects.create(jurisdiction=jurisdiction, code=code, name=name)
    _audit(actor, "create", skill, jurisdiction.pk, ["code", "name", "jurisdiction"])
    return skill


# --- the periodic access review ------------------------------------------------------------------


@transaction.atomic
def users_disable_unused(*, days: int) -> list[int]:
    """Accounts nobody has signed in to for `days` (or, never used, made that long ago) stop working.

    Their sessions end; an administrator reactivates one that is still needed. Each is audited.
    """
    cutoff = clock.now() - dt.timedelta(days=days)
    unused = User.objects.filter(is_active=True).filter(
        Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff)
    )
    disabled = []
    for user in unused.select_for_update().order_by("pk"):
        user.is_active = False
        user.save(update_fields=["is_active"])
        _audit(None, "update", user, user.jurisdiction_id, ["is_active"], detail=f"not used for {days} days: deactivated")
        end_sessions(user)
        disabled.append(user.pk)
    return disabled


# --- breaking the glass ---------------------------------------------------------------------------

BREAK_GLASS_MINUTES = env_int("BREAK_GLASS_MINUTES", 60)


@transaction.atomic
def access_grant_break_glass(*, actor: User, record_type: str, object_id: int, reason: str) -> AccessGrant:
    """Open one record outside the actor's reach, in their jurisdiction, for a while: read only, audited, reviewed.

    A record that does not exist and one of another jurisdiction get the same refusal, so the glass
    cannot be used to learn which numbers exist elsewhere.
    """
    reason = " ".join(reason.split())
    if not reason or len(reason) > 500:
        raise DomainError(_("Give the reason you need this record (at most 500 characters)."), field="reason")
    record = policy.breakable().get(record_type)
    if record is None:
        raise DomainError(_("Choose one of the listed values."), field="record_type")
    model = django_apps.get_model(record_type)
    found = model._default_manager.filter(pk=object_id).values_list(f"{record.jurisdiction_field}_id", flat=True).first()
    jurisdiction = Jurisdiction.objects.filter(pk=found).first() if found is not None else None
    if jurisdiction is None or not policy.may_break_glass(actor, jurisdiction):
        if not policy.may_break_glass(actor, actor.jurisdiction):
            raise PermissionDenied
        raise DomainError(_("There is no such record in your jurisdiction."), field="object_id")
    grant = AccessGrant.objects.create(
        user=actor,
        record_type=record_type,
        object_id=object_id,
        jurisdiction=jurisdiction,
        reason=reason,
        expires_at=clock.now() + dt.timedelta(minutes=BREAK_GLASS_MINUTES),
    )
    trail.record(
        actor=actor,
        action="break_glass",
        object_type=model._meta.model_name or record_type,
        object_id=object_id,
        jurisdiction_id=jurisdiction.pk,
        detail=f"access grant {grant.pk} for {BREAK_GLASS_MINUTES} minutes",
    )
    return grant


@transaction.atomic
def access_grant_review(*, actor: User, grant: AccessGrant, note: str) -> AccessGrant:
    """The privacy officer looked at why the glass was broken (the note says what they concluded)."""
    if not policy.may_review_access(actor, grant.jurisdiction):
        raise PermissionDenied
    note = " ".join(note.split())
    if len(note) > 1000:
        raise DomainError(_("This is too long (at most %(n)d characters).") % {"n": 1000}, field="note")
    grant.reviewed_by, grant.reviewed_at, grant.review_note = actor, clock.now(), note
    grant.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
    _audit(actor, "update", grant, grant.jurisdiction_id, ["reviewed_at", "review_note"], detail="break glass reviewed")
    return grant
