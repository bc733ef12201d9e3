"""From an ID token's claims to an account: found by its link (issuer, subject), created at the first sign-in, its role,
jurisdiction and team brought in line with the claims at every one, each change audited."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from django.conf import settings
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from tracecenter.accounts.models import Jurisdiction, SsoIdentity, Team, User
from tracecenter.accounts.roles import Role
from tracecenter.accounts.sso.config import SsoRefused, provider_name, shown, unusable_answer
from tracecenter.core import clock, trail
from tracecenter.core.errors import DomainError

SUBJECT_MAX = 255  # OpenID Connect Core 2: `sub` is at most 255 ASCII characters
NAME_MAX = 150


@dataclasses.dataclass(frozen=True)
class Assignment:
    """Where the claims put the person: the role, jurisdiction and team their account must have."""

    role: str
    jurisdiction: Jurisdiction
    team: Team | None


def clean_subject(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise SsoRefused(unusable_answer(), "the ID token carries no subject")
    if len(value) > SUBJECT_MAX:
        raise SsoRefused(unusable_answer(), f"the subject is longer than {SUBJECT_MAX} characters", subject=value)
    if not (value.isascii() and value.isprintable()):
        raise SsoRefused(unusable_answer(), "the subject holds control or non-ASCII characters", subject=value)
    return value


def _one_value(claims: Mapping[str, Any], name: str) -> str | None:
    """A claim that must hold one text (a single-valued list counts: directories often send lists)."""
    value = claims.get(name)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value is None or value == "" or value == []:
        return None
    if not isinstance(value, str):
        raise ValueError(name)
    return value


type Refuse = Callable[..., NoReturn]


def _role(claims: Mapping[str, Any], refuse: Refuse) -> str:
    name = settings.OIDC_ROLE_CLAIM
    raw = claims.get(name)
    values = raw if isinstance(raw, list) else [raw] if raw not in (None, "") else []
    role_map: dict[str, str] = settings.OIDC_ROLE_MAP
    roles = sorted({role_map[value] for value in values if isinstance(value, str) and value in role_map})
    if not roles:
        refuse(
            _("Your account at %(provider)s has no TraceCenter role. Ask your administrator to give you one."),
            f"no role maps from claim {shown(name)} ({', '.join(shown(v) for v in values[:5]) or 'absent'})",
        )
    if len(roles) > 1:
        refuse(
            _("Your account at %(provider)s is given several TraceCenter roles; it must have one. Ask your administrator."),
            f"claim {shown(name)} maps to several roles: {', '.join(roles)}",
        )
    role = roles[0]
    if role not in Role.values:
        refuse(unusable_answer(), f"OIDC_ROLE_MAP names {shown(role)}, which is not a role")
    if role == Role.ADMINISTRATOR and not settings.OIDC_ALLOW_ADMINISTRATOR:
        refuse(
            _("Administrators cannot sign in through %(provider)s here: sign in with your TraceCenter password.")
            if settings.LOCAL_SIGN_IN
            else _("Administrators cannot sign in through %(provider)s here. Ask whoever runs TraceCenter."),
            "an administrator claim, and OIDC_ALLOW_ADMINISTRATOR is off",
        )
    return role


def assignment_from_claims(claims: Mapping[str, Any], *, account: User | None, subject: str) -> Assignment:
    """The role, jurisdiction and team the claims give, or SsoRefused saying which claim is wrong."""
    claimed: Jurisdiction | None = None

    def refuse(message: str, reason: str, **values: str) -> NoReturn:
        # Audited where the account is, or else where the claims say the person works, if that place exists.
        raise SsoRefused(
            message % {"provider": provider_name(), **values},
            reason,
            account=account,
            jurisdiction_id=account.jurisdiction_id if account is not None else (claimed.pk if claimed else None),
            subject=subject,
        )

    jurisdiction_claim, team_claim = settings.OIDC_JURISDICTION_CLAIM, settings.OIDC_TEAM_CLAIM
    try:
        code = _one_value(claims, jurisdiction_claim)
    except ValueError:
        refuse(_("Your account at %(provider)s names more than one jurisdiction."), "the jurisdiction claim is not one text")
    if code is not None:
        claimed = Jurisdiction.objects.filter(code=code.strip().lower()).first()
    role = _role(claims, refuse)
    if code is None:
        refuse(
            _("Your account at %(provider)s names no jurisdiction. Ask your administrator."),
            f"no jurisdiction in claim {shown(jurisdiction_claim)}",
        )
    if claimed is None:
        refuse(
            _("Your account at %(provider)s names a jurisdiction TraceCenter does not know (“%(code)s”)."),
            f"unknown jurisdiction {shown(code)}",
            code=shown(code),
        )
    try:
        team_name = _one_value(claims, team_claim)
    except ValueError:
        refuse(_("Your account at %(provider)s names more than one team."), "the team claim is not one text")
    team = None
    if team_name is not None:
        team = Team.objects.filter(jurisdiction=claimed, name=" ".join(team_name.split())).first()
        if team is None:
            refuse(
                _("Your account at %(provider)s names a team (“%(team)s”) that %(jurisdiction)s does not have."),
                f"team {shown(team_name)} is not a team of jurisdiction {claimed.code}",
                team=shown(team_name),
                jurisdiction=claimed.name,
            )
    return Assignment(role=role, jurisdiction=claimed, team=team)


def _profile(claims: Mapping[str, Any]) -> dict[str, str]:
    """Names and e-mail, for display only (nothing is found by them): cleaned, never a reason to refuse."""

    def text(name: str) -> str:
        value = claims.get(name)
        if not isinstance(value, str):
            return ""
        return " ".join("".join(ch for ch in value if ch.isprintable()).split())[:NAME_MAX]

    profile = {"first_name": text("given_name"), "last_name": text("family_name"), "email": text("email")[:254]}
    try:
        validate_email(profile["email"])
    except ValidationError:
        profile["email"] = ""
    # A claim the provider does not send (a scope not granted) leaves what the account holds.
    return {name: value for name, value in profile.items() if value}


def _username(claims: Mapping[str, Any], issuer: str, subject: str) -> str:
    """The provider's preferred user name when it is a valid, free one; otherwise one derived from the link."""
    preferred = claims.get("preferred_username")
    if isinstance(preferred, str) and 0 < len(preferred) <= 150:
        try:
            UnicodeUsernameValidator()(preferred)
        except ValidationError:
            pass
        else:
            if not User.objects.filter(username__iexact=preferred).exists():
                return preferred
    base = "sso-" + hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:12]
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _audit_change(user: User, action: str, fields: list[str], jurisdiction_ids: set[int | None]) -> None:
    # A move between jurisdictions is told to the auditors of both.
    for jurisdiction_id in sorted(jurisdiction_ids, key=lambda pk: pk or 0):
        trail.record(
            actor=None,
            action=action,
            object_type="user",
            object_id=user.pk,
            jurisdiction_id=jurisdiction_id,
            fields=fields,
            detail="from the identity provider's claims at single sign-on",
        )


def user_for_claims(*, issuer: str, claims: Mapping[str, Any]) -> User:
    """The account linked to (issuer, sub), created at the first sign-in, brought in line with the claims at every one.

    Raises SsoRefused, having changed nothing, when the claims cannot place the person.
    """
    subject = clean_subject(claims.get("sub"))
    identity = SsoIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    account = identity.user if identity is not None else None
    assignment = assignment_from_claims(claims, account=account, subject=subject)
    if account is not None and not account.is_active:
        raise SsoRefused(
            _("Your TraceCenter account is deactivated. Ask your administrator."),
            "the account is deactivated",
            account=account,
            subject=subject,
        )
    wanted: dict[str, Any] = {
        "role": assignment.role,
        "jurisdiction": assignment.jurisdiction,
        "team": assignment.team,
        **_profile(claims),
    }
    for attempt in range(3):
        try:
            with transaction.atomic():
                if identity is None:
                    return _create(issuer, subject, claims, wanted)
                return _update(identity, wanted)
        except IntegrityError:
            # Two first sign-ins of one person at once, or a user name taken meanwhile: look again.
            if attempt == 2:
                raise
            identity = SsoIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    raise AssertionError("unreachable")  # pragma: no cover


def _create(issuer: str, subject: str, claims: Mapping[str, Any], wanted: dict[str, Any]) -> User:
    user = User(username=_username(claims, issuer, subject), must_change_password=False, **wanted)
    user.set_unusable_password()  # a password sign-in never opens an account made by the provider
    user.save()
    SsoIdentity.objects.create(user=user, issuer=issuer, subject=subject, last_sign_in=clock.now())
    _audit_change(user, "create", sorted([*wanted, "username", "sso_identity"]), {user.jurisdiction_id})
    return user


def _update(identity: SsoIdentity, wanted: dict[str, Any]) -> User:
    user = User.objects.select_for_update().get(pk=identity.user_id)
    if not user.is_active:  # deactivated while this sign-in was under way
        raise SsoRefused(
            _("Your TraceCenter account is deactivated. Ask your administrator."),
            "the account is deactivated",
            account=user,
            subject=identity.subject,
        )
    before = user.jurisdiction_id
    changed = [name for name, value in wanted.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, wanted[name])
    if changed:
        user.save(update_fields=changed)
        _audit_change(user, "update", sorted(changed), {before, user.jurisdiction_id})
    SsoIdentity.objects.filter(pk=identity.pk).update(last_sign_in=clock.now())
    return user


@transaction.atomic
def sso_identity_link(*, username: str, subject: str, issuer: str) -> SsoIdentity:
    """Link an existing account to its person at the provider, so that single sign-on opens it (and its work, its
    history) rather than a new one. For whoever runs `manage.py`: no acting user, and the link is audited."""
    if not issuer:
        raise DomainError(_("Give the issuer, or configure single sign-on (OIDC_ISSUER) first."), field="issuer")
    try:
        subject = clean_subject(subject)
    except SsoRefused as refused:
        raise DomainError(refused.reason, field="subject") from None
    user = User.objects.filter(username=username).first()
    if user is None:
        raise DomainError(_("There is no account with this user name."), field="username")
    if SsoIdentity.objects.filter(issuer=issuer, subject=subject).exclude(user=user).exists():
        raise DomainError(_("This subject is already linked to another account."), field="subject")
    if SsoIdentity.objects.filter(issuer=issuer, user=user).exclude(subject=subject).exists():
        raise DomainError(_("This account is already linked to another subject of this provider."), field="username")
    identity, created = SsoIdentity.objects.get_or_create(issuer=issuer, subject=subject, defaults={"user": user})
    if created:
        trail.record(
            actor=None,
            action="update",
            object_type="user",
            object_id=user.pk,
            jurisdiction_id=user.jurisdiction_id,
            fields=["sso_identity"],
            detail="linked to a subject of the identity provider (manage.py sso_link)",
        )
    return identity
