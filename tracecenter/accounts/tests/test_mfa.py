"""Multi-factor sign-in through the pages: the second step, enrolment, recovery codes, security keys, resets."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import PASSWORD, totp_code
from tracecenter.accounts import mfa
from tracecenter.accounts.models import RecoveryCode, SecurityKey
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import Action, AuditEntry

SECOND_STEP = "/accounts/second-factor/"


def password_only(user: Any, password: str = PASSWORD, **extra: Any) -> Client:
    client = Client(**extra)
    response = client.post("/accounts/login/", {"username": user.username, "password": password})
    assert response.status_code == 302 and response["Location"].startswith(SECOND_STEP), response
    return client


def passed(client: Client) -> bool:
    return client.get("/").status_code == 200


def enrolled(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)


# --- the second step ----------------------------------------------------------------------------------


def test_a_password_alone_opens_only_the_second_step(users, make_case, county):
    tracer = users[Role.CONTACT_TRACER]
    enrolled(tracer)
    case = make_case(county, owner=tracer)
    client = password_only(tracer)

    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 302 and response["Location"] == f"{SECOND_STEP}?next=%2Fcases%2F{case.pk}%2F"
    assert client.get("/accounts/password/")["Location"].startswith(SECOND_STEP)
    assert client.get("/accounts/security/")["Location"].startswith(SECOND_STEP)
    assert client.post("/accounts/security/recovery-codes/").status_code == 302 and not RecoveryCode.objects.exists()
    api = client.get("/api/cases")
    assert api.status_code == 403 and "second step" in api.json()["detail"]
    signed = AuditEntry.objects.get(action=Action.LOGIN, actor_id=tracer.pk)
    assert signed.detail == "password accepted; second factor next" and signed.jurisdiction_id == county.pk

    old_key = client.session.session_key
    response = client.post(SECOND_STEP, {"code": totp_code(tracer), "next": f"/cases/{case.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert client.session.session_key != old_key  # a new key once the session's privileges grew
    assert client.get(f"/cases/{case.pk}/").status_code == 200 and client.get("/api/cases").status_code == 200
    entry = AuditEntry.objects.filter(action=Action.LOGIN, actor_id=tracer.pk).latest("pk")
    assert entry.detail == "second factor passed: authenticator app" and entry.jurisdiction_id == county.pk


def test_a_wrong_or_reused_code_is_refused_audited_and_counted_until_locked(users, county, settings):
    tracer = users[Role.CONTACT_TRACER]
    device = enrolled(tracer)
    client = password_only(tracer)
    code = totp_code(tracer)
    assert client.post(SECOND_STEP, {"code": code}).status_code == 302
    # The same code again, on another sign-in: refused (django-otp keeps the last time step used).
    other = password_only(tracer)
    device.refresh_from_db()
    refused = other.post(SECOND_STEP, {"code": code})
    assert refused.status_code == 200 and "That code is not right" in refused.content.decode()
    assert not passed(other)

    wrong = f"{(int(totp_code(tracer)) + 1) % 1_000_000:06d}"
    for _ in range(settings.MFA_MAX_FAILURES - 1):
        other.post(SECOND_STEP, {"code": wrong})
    failures = AuditEntry.objects.filter(action=Action.LOGIN_FAILED, object_id=str(tracer.pk))
    assert failures.filter(detail="wrong second-factor code").count() == settings.MFA_MAX_FAILURES
    assert {entry.jurisdiction_id for entry in failures} == {county.pk}
    # Locked: even the right code is refused now, and that refusal is audited too.
    locked = other.post(SECOND_STEP, {"code": totp_code(tracer)})
    assert "Too many wrong codes" in locked.content.decode() and not passed(other)
    assert failures.filter(detail__contains="lock-out").exists()


@pytest.mark.parametrize(
    "hostile",
    ["", "12345", "1234567", "١٢٣٤٥٦", "12 34 5\x006", "' OR 1=1 --", "<script>alert(1)</script>", "9" * 5000, "\u202e123456"],
)
def test_hostile_codes_are_refused_cleanly(users, hostile):
    tracer = users[Role.CONTACT_TRACER]
    enrolled(tracer)
    client = password_only(tracer)
    response = client.post(SECOND_STEP, {"code": hostile})
    assert response.status_code == 200 and "<script>alert(1)</script>" not in response.content.decode()
    assert not passed(client)


def test_a_next_page_elsewhere_is_not_followed(users):
    tracer = users[Role.CONTACT_TRACER]
    enrolled(tracer)
    client = password_only(tracer)
    response = client.post(SECOND_STEP, {"code": totp_code(tracer), "next": "https://evil.example/"})
    assert response["Location"] == "/"


# --- enrolment and recovery codes ---------------------------------------------------------------------


def _setup_key(html: str) -> bytes:
    secret = re.search(r'data-totp-secret="([A-Z2-7]+)"', html)
    assert secret, "the set-up page shows no key"
    return base64.b32decode(secret.group(1) + "=" * (-len(secret.group(1)) % 8))


def test_the_first_sign_in_sets_up_an_authenticator_and_shows_recovery_codes_once(users, county):
    investigator = users[Role.CASE_INVESTIGATOR]
    client = password_only(investigator)
    assert client.get(SECOND_STEP)["Location"] == "/accounts/second-factor/setup/"
    page = client.get("/accounts/second-factor/setup/").content.decode()
    assert "<svg" in page  # the QR code, drawn on the server
    key = _setup_key(page)
    assert _setup_key(client.get("/accounts/second-factor/setup/").content.decode()) == key  # stable across reloads

    wrong = client.post("/accounts/second-factor/setup/", {"code": "000000" if TOTP(key).token() else "111111"})
    assert "That code is not right" in wrong.content.decode() and not passed(client)

    shown = client.post("/accounts/second-factor/setup/", {"code": f"{TOTP(key).token():06d}"})
    codes = re.findall(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>", shown.content.decode())
    assert shown.status_code == 200 and len(codes) == 10 and len(set(codes)) == 10
    assert passed(client)
    assert TOTPDevice.objects.get(user=investigator).confirmed
    # Only hashes are kept.
    stored = set(RecoveryCode.objects.filter(user=investigator).values_list("code_hash", flat=True))
    assert stored == {hashlib.sha256(code.replace("-", "").encode()).hexdigest() for code in codes}
    assert AuditEntry.objects.filter(
        object_id=str(investigator.pk), detail="authenticator app enrolled", jurisdiction_id=county.pk
    ).exists()

    # A recovery code signs in once; typed with capitals and spaces it still counts; used, it is refused.
    again = password_only(investigator)
    response = again.post(SECOND_STEP, {"code": codes[0].upper().replace("-", " ")})
    assert response.status_code == 302 and passed(again)
    assert mfa.recovery_codes_left(investigator) == 9
    third = password_only(investigator)
    assert "That code is not right" in third.post(SECOND_STEP, {"code": codes[0]}).content.decode()


def test_a_password_alone_cannot_add_an_authenticator_to_an_account_that_has_one(users):
    tracer = users[Role.CONTACT_TRACER]
    enrolled(tracer)
    client = password_only(tracer)
    response = client.get("/accounts/second-factor/setup/")
    assert response.status_code == 302 and response["Location"].startswith(SECOND_STEP)
    assert client.post("/accounts/second-factor/setup/", {"code": "123456"}).status_code == 302
    assert TOTPDevice.objects.filter(user=tracer).count() == 1


def test_new_recovery_codes_replace_the_old(users):
    tracer = users[Role.CONTACT_TRACER]
    first = mfa.recovery_codes_issue(actor=tracer)
    client = Client()
    client.force_login(tracer)
    page = client.post("/accounts/security/recovery-codes/").content.decode()
    second = re.findall(r"<code>([a-z2-9-]{14})</code>", page)
    assert len(second) == 10 and not set(first) & set(second)
    enrolled(tracer)
    assert "That code is not right" in password_only(tracer).post(SECOND_STEP, {"code": first[0]}).content.decode()


def test_a_role_left_out_of_the_required_roles_signs_in_with_a_password(users, settings):
    settings.MFA_REQUIRED_ROLES = frozenset({Role.ADMINISTRATOR})
    tracer = users[Role.CONTACT_TRACER]
    client = Client()
    assert client.post("/accounts/login/", {"username": tracer.username, "password": PASSWORD})["Location"] == "/"
    assert passed(client)
    admin = users[Role.ADMINISTRATOR]
    assert (
        Client().post("/accounts/login/", {"username": admin.username, "password": PASSWORD})["Location"].startswith(SECOND_STEP)
    )


# --- an administrator's reset ---------------------------------------------------------------------------


def test_an_administrator_resets_a_users_factors_audited_and_the_user_sets_up_again(users, make_user, other_county, county):
    tracer = users[Role.CONTACT_TRACER]
    enrolled(tracer)
    mfa.recovery_codes_issue(actor=tracer)
    session = password_only(tracer)
    session.post(SECOND_STEP, {"code": totp_code(tracer)})
    assert passed(session)

    outsider = Client()
    outsider.force_login(make_user(Role.ADMINISTRATOR, other_county))
    assert outsider.post(f"/administration/users/{tracer.pk}/second-factor/").status_code == 404
    assert TOTPDevice.objects.filter(user=tracer).exists()

    admin = Client()
    admin.force_login(users[Role.ADMINISTRATOR])
    assert admin.post(f"/administration/users/{tracer.pk}/second-factor/").status_code == 302
    assert not TOTPDevice.objects.filter(user=tracer).exists() and not RecoveryCode.objects.filter(user=tracer).exists()
    assert not passed(session)  # signed out
    entry = AuditEntry.objects.get(detail__startswith="second factors reset by an administrator")
    assert (entry.actor_id, entry.object_id, entry.jurisdiction_id) == (users[Role.ADMINISTRATOR].pk, str(tracer.pk), county.pk)
    assert password_only(tracer).get(SECOND_STEP)["Location"] == "/accounts/second-factor/setup/"


def test_signed_out_visitors_reach_none_of_the_second_step(client, db):
    for url in (SECOND_STEP, "/accounts/second-factor/setup/", "/accounts/security/"):
        assert client.get(url)["Location"].startswith("/accounts/login/")
    for url in (
        "/accounts/second-factor/key/challenge/",
        "/accounts/second-factor/key/check/",
        "/accounts/security/keys/options/",
    ):
        assert client.post(url)["Location"].startswith("/accounts/login/")


# --- security keys (WebAuthn), with a software authenticator ------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftKey:
    """A security key in software: an ES256 key pair, answering WebAuthn ceremonies as a real authenticator
    would (attestation "none"), so that the server's checks run on real signatures."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = bytes(range(16)) + struct.pack(">I", id(self) & 0xFFFFFFFF)
        self.counter = 0

    def _cose(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def create(self, options: dict[str, Any], origin: str) -> dict[str, Any]:
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose()
        auth_data = hashlib.sha256(options["rp"]["id"].encode()).digest() + bytes([0x41]) + struct.pack(">I", 0) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": _b64(self.credential_id),
            "rawId": _b64(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": _b64(client_data), "attestationObject": _b64(attestation), "transports": ["usb"]},
            "clientExtensionResults": {},
        }

    def get(self, options: dict[str, Any], origin: str, *, counter: int | None = None) -> dict[str, Any]:
        self.counter = self.counter + 1 if counter is None else counter
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = hashlib.sha256(options["rpId"].encode()).digest() + bytes([0x01]) + struct.pack(">I", self.counter)
        signature = self.private.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": _b64(self.credential_id),
            "rawId": _b64(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": _b64(client_data), "authenticatorData": _b64(auth_data), "signature": _b64(signature)},
            "clientExtensionResults": {},
        }


ORIGIN = "http://testserver"


def _post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body) if not isinstance(body, bytes) else body, content_type="application/json")


def register(client: Client, key: SoftKey, name: str = "blue key", origin: str = ORIGIN) -> Any:
    options = client.post("/accounts/security/keys/options/").json()
    return _post(client, "/accounts/security/keys/", {"name": name, "credential": key.create(options, origin)})


def test_a_security_key_registered_then_used_at_the_second_step(users, county):
    tracer = users[Role.CONTACT_TRACER]
    enrolled(tracer)
    key = SoftKey()
    client = Client()
    client.force_login(tracer)
    options = client.post("/accounts/security/keys/options/").json()
    assert options["rp"]["id"] == "testserver" and _unb64(options["user"]["id"]) == str(tracer.pk).encode()
    for hostile, why in (("blue\x00 key", "control characters"), ("x" * 61, "too long")):
        response = _post(client, "/accounts/security/keys/", {"name": hostile, "credential": key.create(options, ORIGIN)})
        assert response.status_code == 400 and why in response.json()["detail"]
        options = client.post("/accounts/security/keys/options/").json()
    assert not SecurityKey.objects.exists()
    response = _post(client, "/accounts/security/keys/", {"name": "  blue   key ", "credential": key.create(options, ORIGIN)})
    assert response.status_code == 200, response.content
    stored = SecurityKey.objects.get(user=tracer)
    assert bytes(stored.credential_id) == key.credential_id and stored.name == "blue key"
    assert AuditEntry.objects.filter(detail=f"security key {stored.pk} registered", jurisdiction_id=county.pk).exists()

    session = password_only(tracer)
    assert "Use your security key" in session.get(SECOND_STEP).content.decode()
    challenge = session.post("/accounts/second-factor/key/challenge/").json()
    assert [c["id"] for c in challenge["allowCredentials"]] == [_b64(key.credential_id)]
    answer = _post(session, "/accounts/second-factor/key/check/?next=/cases/", {"credential": key.get(challenge, ORIGIN)})
    assert answer.status_code == 200 and answer.json()["redirect"] == "/cases/"
    assert passed(session)
    stored.refresh_from_db()
    assert stored.sign_count == 1 and stored.last_used_at is not None

    # The same answer again (a replay): its challenge is spent.
    replay = password_only(tracer)
    replay.post("/accounts/second-factor/key/challenge/")
    assert _post(replay, "/accounts/second-factor/key/check/", {"credential": key.get(challenge, ORIGIN)}).status_code == 400
    assert not passed(replay)


def test_a_security_key_answer_that_does_not_hold_is_refused_and_audited(users, make_user, county):
    tracer = users[Role.CONTACT_TRACER]
    key = SoftKey()
    owner = Client()
    owner.force_login(tracer)
    assert register(owner, key).status_code == 200
    good = password_only(tracer)
    challenge = good.post("/accounts/second-factor/key/challenge/").json()
    assert (
        _post(good, "/accounts/second-factor/key/check/", {"credential": key.get(challenge, ORIGIN, counter=5)}).status_code
        == 200
    )
    assert SecurityKey.objects.get(user=tracer).sign_count == 5
    cases = {
        "another origin": lambda c: key.get(c, "https://evil.example"),
        "a cloned key (its counter went back)": lambda c: key.get(c, ORIGIN, counter=1),
        "another challenge": lambda c: key.get({**c, "challenge": _b64(b"x" * 32)}, ORIGIN),
        "another key": lambda c: SoftKey().get(c, ORIGIN),
    }
    for why, answer in cases.items():
        session = password_only(tracer)
        challenge = session.post("/accounts/second-factor/key/challenge/").json()
        response = _post(session, "/accounts/second-factor/key/check/", {"credential": answer(challenge)})
        assert response.status_code == 400, why
        assert not passed(session), why
    assert (
        AuditEntry.objects.filter(action=Action.LOGIN_FAILED, detail="security key refused", jurisdiction_id=county.pk).count()
        == 4
    )

    # Someone else's key answers for nobody but its owner.
    other = make_user(Role.CONTACT_TRACER, county)
    enrolled(other)
    session = password_only(other)
    assert session.post("/accounts/second-factor/key/challenge/").status_code == 400  # they have no key
    challenge = {"challenge": _b64(b"y" * 32), "rpId": "testserver"}
    assert _post(session, "/accounts/second-factor/key/check/", {"credential": key.get(challenge, ORIGIN)}).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        json.dumps({"credential": "x" * 70_000}).encode(),
        json.dumps({"credential": {"rawId": 5}}).encode(),
    ],
)
def test_hostile_security_key_requests_are_refused_cleanly(users, body):
    tracer = users[Role.CONTACT_TRACER]
    client = Client()
    client.force_login(tracer)
    client.post("/accounts/security/keys/options/")
    response = _post(client, "/accounts/security/keys/", body)
    assert response.status_code == 400 and response.json()["detail"]
    assert not SecurityKey.objects.exists()
    # Without asking for a challenge first.
    assert (
        _post(
            client,
            "/accounts/security/keys/",
            {"credential": SoftKey().create({"challenge": "", "rp": {"id": "testserver"}}, ORIGIN)},
        ).status_code
        == 400
    )


def test_the_last_factor_of_a_user_who_must_have_one_cannot_be_removed(users):
    tracer = users[Role.CONTACT_TRACER]
    client = Client()
    client.force_login(tracer)
    register(client, SoftKey())
    key = SecurityKey.objects.get(user=tracer)
    client.post(f"/accounts/security/keys/{key.pk}/remove/")
    assert SecurityKey.objects.filter(pk=key.pk).exists()
    enrolled(tracer)
    client.post(f"/accounts/security/keys/{key.pk}/remove/")
    assert not SecurityKey.objects.filter(pk=key.pk).exists()


def test_nobody_removes_another_users_key(users, make_user, county):
    tracer = users[Role.CONTACT_TRACER]
    owner = Client()
    owner.force_login(tracer)
    register(owner, SoftKey())
    enrolled(tracer)
    key = SecurityKey.objects.get(user=tracer)
    other = Client()
    other.force_login(make_user(Role.SUPERVISOR, county))
    other.post(f"/accounts/security/keys/{key.pk}/remove/")
    assert SecurityKey.objects.filter(pk=key.pk).exists()
