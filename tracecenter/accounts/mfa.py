"""Multi-factor sign-in: an authenticator app (TOTP), WebAuthn security keys, and recovery codes.

After the password, a user whose role requires it (MFA_REQUIRED_ROLES) passes one of:

- a 6-digit code from an authenticator app (RFC 6238 TOTP through django-otp, which refuses a code
  used once already and follows the app's clock drift);
- a security key (WebAuthn through the `webauthn` library; only public keys are kept);
- a single-use recovery code, for a lost phone.

A user who has none enrols an authenticator app at their first sign-in, and gets their recovery
codes then. An administrator resets a user's factors (a lost phone and lost codes); the user enrols
again at their next sign-in. Every pass, failure, enrolment and reset is audited, with the user's
jurisdiction, so their auditors see it. Wrong codes are counted per account across processes
(accounts/throttle.py), on top of django-otp's own growing delay per device.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse, WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tracecenter.accounts import policy, throttle
from tracecenter.accounts.models import RecoveryCode, SecurityKey, User
from tracecenter.accounts.second_factor import second_factor_required
from tracecenter.accounts.services import end_sessions
from tracecenter.accounts.validation import clean_text
from tracecenter.core import clock, trail
from tracecenter.core.errors import DomainError

TOTP_DEVICE_NAME = "authenticator app"
# Recovery codes: 12 characters of an alphabet without look-alikes (no 0/o, 1/l/i), 60 random bits each.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"[:32]
RECOVERY_LENGTH = 12
# A browser's answer to a WebAuthn ceremony is a few kilobytes; anything far larger is not one.
MAX_CREDENTIAL_JSON = 64 * 1024
MAX_KEYS_PER_USER = 10

METHOD_LABELS = {
    "totp": "authenticator app",
    "security_key": "security key",
    "recovery_code": "recovery code",
    "sso": "single sign-on",
}


class SecondFactorLocked(DomainError):
    """Too many wrong codes for this account: wait for the window to end."""


def _audit(actor: User | None, user: User, action: str, detail: str) -> None:
    trail.record(
        actor=actor,
        action=action,
        object_type="user",
        object_id=user.pk,
        jurisdiction_id=user.jurisdiction_id,
        detail=detail,
    )


# --- what a user has ------------------------------------------------------------------------------


def authenticator(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def security_keys(user: User) -> list[SecurityKey]:
    return list(SecurityKey.objects.filter(user=user))


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def has_second_factor(user: User) -> bool:
    return authenticator(user) is not None or SecurityKey.objects.filter(user=user).exists()


# --- the authenticator app (TOTP) --------------------------------------------------------------------


def authenticator_enrolment(user: User) -> TOTPDevice:
    """The unconfirmed authenticator the user is setting up: the same one on every reload of the page, so
    that the QR code scanned stays good while they type its first code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def authenticator_confirm(*, actor: User, code: str) -> list[str]:
    """Confirm the authenticator being set up with its first code; it replaces any earlier one.

    Returns new recovery codes when the user had none left (shown once), else an empty list.
    """
    device = TOTPDevice.objects.select_for_update().filter(user=actor, confirmed=False).order_by("-pk").first()
    if device is None:
        raise DomainError(_("Start again: open the set-up page to get a new code to scan."), field="code")
    token = _digits(code)
    if token is None or not device.verify_token(token):
        _audit(None, actor, "login_failed", "wrong code when setting up an authenticator app")
        raise DomainError(_("That code is not right. Type the 6 digits your app shows now."), field="code")
    TOTPDevice.objects.filter(user=actor).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    _audit(actor, actor, "update", "authenticator app enrolled")
    return recovery_codes_issue(actor=actor) if recovery_codes_left(actor) == 0 else []


def _digits(code: str) -> str | None:
    token = "".join(code.split())
    return token if len(token) == 6 and token.isascii() and token.isdigit() else None


# --- recovery codes --------------------------------------------------------------------------------


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normal_recovery(code: str) -> str | None:
    text = "".join(ch for ch in code.lower() if ch not in " -\t")
    return text if len(text) == RECOVERY_LENGTH and all(ch in RECOVERY_ALPHABET for ch in text) else None


@transaction.atomic
def recovery_codes_issue(*, actor: User) -> list[str]:
    """A new set of recovery codes, replacing the old; returned once, only their hashes are kept."""
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _i in range(RECOVERY_LENGTH)) for _n in range(settings.MFA_RECOVERY_CODES)
    ]
    RecoveryCode.objects.filter(user=actor).delete()
    RecoveryCode.objects.bulk_create([RecoveryCode(user=actor, code_hash=_recovery_hash(code)) for code in codes])
    _audit(actor, actor, "update", f"{len(codes)} new recovery codes issued")
    return [f"{code[:4]}-{code[4:8]}-{code[8:]}" for code in codes]


# --- the second step of a sign-in -----------------------------------------------------------------


def code_check(*, user: User, code: str) -> str:
    """Check a code typed at the second step: an authenticator code or a recovery code.

    Returns the method it passed by ("totp" or "recovery_code"); raises DomainError when it is wrong
    (counted and audited) and SecondFactorLocked while too many wrong codes were typed.
    """
    if throttle.second_factor_locked(user.pk):
        _audit(None, user, "login_failed", "second factor refused during a lock-out (too many wrong codes)")
        raise SecondFactorLocked(_("Too many wrong codes. Wait 15 minutes and try again, or ask your supervisor."), field="code")
    method = _code_method(user, code)
    if method is None:
        throttle.second_factor_failed(user.pk)
        _audit(None, user, "login_failed", "wrong second-factor code")
        raise DomainError(_("That code is not right. Type the 6 digits your app shows now, or a recovery code."), field="code")
    throttle.second_factor_succeeded(user.pk)
    _audit(user, user, "login", f"second factor passed: {METHOD_LABELS[method]}")
    return method


def _code_method(user: User, code: str) -> str | None:
    token = _digits(code)
    if token is not None:
        device = authenticator(user)
        if device is None:
            return None
        # django-otp refuses a code used once already and, after failures, adds its own growing delay per device.
        return "totp" if device.verify_token(token) else None
    recovery = _normal_recovery(code)
    if recovery is None:
        return None
    with transaction.atomic():
        # A used code stays (with when) so that its reuse is refused and the count of those left is right.
        used = RecoveryCode.objects.filter(user=user, code_hash=_recovery_hash(recovery), used_at__isnull=True).update(
            used_at=clock.now()
        )
    return "recovery_code" if used else None


# --- security keys (WebAuthn) ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ceremony:
    """The options a browser's navigator.credentials call needs (JSON), and the challenge to keep for the answer."""

    options_json: str
    challenge: bytes


def _descriptors(keys: list[SecurityKey]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=bytes(key.credential_id)) for key in keys]


def security_key_registration(user: User, *, rp_id: str) -> Ceremony:
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=settings.WEBAUTHN_RP_NAME,
        # The user handle is the account number, never a name or an e-mail: authenticators may show or sync it.
        user_id=str(user.pk).encode(),
        user_name=user.username,
        user_display_name=user.username,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED, user_verification=UserVerificationRequirement.DISCOURAGED
        ),
        exclude_credentials=_descriptors(security_keys(user)),
    )
    return Ceremony(options_to_json(options), options.challenge)


def _credential(credential_json: str) -> str:
    if len(credential_json) > MAX_CREDENTIAL_JSON:
        raise DomainError(_("The security key's answer is too large to be one."), field="credential")
    return credential_json


@transaction.atomic
def security_key_add(*, actor: User, name: str, credential_json: str, challenge: bytes, rp_id: str, origin: str) -> SecurityKey:
    """Register the key that answered the registration ceremony `challenge`; audited."""
    name = clean_text(name, field="name", max_length=60, required=False) or _("Security key")
    if SecurityKey.objects.filter(user=actor).count() >= MAX_KEYS_PER_USER:
        raise DomainError(_("You have %(n)d security keys already: remove one first.") % {"n": MAX_KEYS_PER_USER}, field="name")
    try:
        verified = verify_registration_response(
            credential=_credential(credential_json), expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origin
        )
    except (InvalidRegistrationResponse, WebAuthnException, ValueError, KeyError, TypeError) as exc:
        _audit(None, actor, "login_failed", "security key registration refused")
        raise DomainError(_("The security key's answer could not be verified: %(why)s") % {"why": str(exc)[:200]}) from None
    if SecurityKey.objects.filter(credential_id=verified.credential_id).exists():
        raise DomainError(_("This security key is registered already."))
    key = SecurityKey.objects.create(
        user=actor,
        name=name,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )
    _audit(actor, actor, "update", f"security key {key.pk} registered")
    return key


@transaction.atomic
def security_key_remove(*, actor: User, key_id: int) -> None:
    """Remove one of the actor's own keys; never the last factor of someone who must have one."""
    key = SecurityKey.objects.filter(user=actor, pk=key_id).first()
    if key is None:
        raise DomainError(_("No such security key."))
    others = authenticator(actor) is not None or SecurityKey.objects.filter(user=actor).exclude(pk=key.pk).exists()
    if not others and second_factor_required(actor.role):
        raise DomainError(_("This is your only second factor: set up an authenticator app or another key first."))
    key.delete()
    _audit(actor, actor, "update", f"security key {key_id} removed")


def security_key_challenge(user: User, *, rp_id: str) -> Ceremony:
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=_descriptors(security_keys(user)),
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    return Ceremony(options_to_json(options), options.challenge)


def security_key_check(*, user: User, credential_json: str, challenge: bytes, rp_id: str, origin: str) -> SecurityKey:
    """Check a security key's answer to the sign-in ceremony `challenge`; counted and audited like a code."""
    if throttle.second_factor_locked(user.pk):
        _audit(None, user, "login_failed", "second factor refused during a lock-out (too many wrong codes)")
        raise SecondFactorLocked(_("Too many failed attempts. Wait 15 minutes and try again, or ask your supervisor."))
    try:
        key = _verified_key(user, _credential(credential_json), challenge, rp_id, origin)
    except DomainError:
        throttle.second_factor_failed(user.pk)
        _audit(None, user, "login_failed", "security key refused")
        raise
    throttle.second_factor_succeeded(user.pk)
    _audit(user, user, "login", f"second factor passed: security key {key.pk}")
    return key


def _verified_key(user: User, credential_json: str, challenge: bytes, rp_id: str, origin: str) -> SecurityKey:
    try:
        raw_id = base64url_to_bytes(str(json.loads(credential_json).get("rawId", "")))
    except (ValueError, AttributeError, TypeError):
        raise DomainError(_("The security key's answer is not valid.")) from None
    with transaction.atomic():
        key = SecurityKey.objects.select_for_update().filter(user=user, credential_id=raw_id).first()
        if key is None:
            raise DomainError(_("This security key is not registered to you."))
        try:
            verified = verify_authentication_response(
                credential=credential_json,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=bytes(key.public_key),
                credential_current_sign_count=key.sign_count,
            )
        except (InvalidAuthenticationResponse, WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise DomainError(_("The security key's answer could not be verified: %(why)s") % {"why": str(exc)[:200]}) from None
        key.sign_count = verified.new_sign_count
        key.last_used_at = clock.now()
        key.save(update_fields=["sign_count", "last_used_at"])
    return key


# --- an administrator's reset ----------------------------------------------------------------------


@transaction.atomic
def second_factors_reset(*, actor: User, user: User) -> dict[str, Any]:
    """Remove all of `user`'s second factors (a lost phone and lost codes) and end their sessions.

    They enrol again at their next sign-in, after their password. Only an administrator of the user's
    jurisdiction may; audited with what was removed.
    """
    if not policy.may_administer(actor, user.jurisdiction):
        raise PermissionDenied
    removed = {
        "authenticator": TOTPDevice.objects.filter(user=user).delete()[0],
        "security_keys": SecurityKey.objects.filter(user=user).delete()[0],
        "recovery_codes": RecoveryCode.objects.filter(user=user).delete()[0],
    }
    sessions = end_sessions(user)
    _audit(
        actor, user, "update", "second factors reset by an administrator: " + ", ".join(f"{k} {v}" for k, v in removed.items())
    )
    return {**removed, "sessions": sessions}
