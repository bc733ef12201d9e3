"""Single sign-on against a real OpenID Connect provider on a local port (oidc_provider.py).

The Django test client plays the browser on TraceCenter's side; each hop to the provider is a real HTTP
request, and TraceCenter's own calls to it (discovery, token, keys, userinfo) go through
mozilla-django-oidc's client, unmocked.
"""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.test import Client
from joserfc.jwk import OctKey, RSAKey

from tracecenter.accounts.models import SignedInSession, SsoIdentity, Team, User
from tracecenter.accounts.roles import Role
from tracecenter.accounts.second_factor import second_factor_method
from tracecenter.accounts.tests.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    REMOVE,
    ProviderUser,
    configure,
    running_provider,
    signing_key,
)
from tracecenter.audit.models import Action, AuditEntry

CALLBACK = "http://testserver/accounts/sso/callback/"
SIGNED_OUT = "http://testserver/accounts/login/"


@pytest.fixture
def provider():
    with running_provider(redirect_uris=[CALLBACK], post_logout_redirect_uris=[SIGNED_OUT]) as running:
        yield running


@pytest.fixture
def sso(settings, provider, county, team):
    configure(settings, provider)
    return provider


def to_provider_and_back(client: Client, *, start: str = "/accounts/sso/start/") -> str:
    """Click "Sign in with ...": TraceCenter sends the browser to the provider, which sends it back; the callback URL."""
    started = client.get(start)
    assert started.status_code == 302, started.content
    at_provider = requests.get(started["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return f"{back.path}?{back.query}"


def sign_in(client: Client, **kwargs: str):
    return client.get(to_provider_and_back(client, **kwargs))


def refusals() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=Action.LOGIN_FAILED).order_by("pk"))


def assert_refused(client: Client, response, message: str, trail: str, *, identities: int = 0) -> AuditEntry:
    """Sent back to the sign-in page with `message`, not signed in, nothing created, the refusal audited."""
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    page = client.get("/accounts/login/").content.decode()
    assert message in page, page
    assert SESSION_KEY not in client.session
    assert SsoIdentity.objects.count() == identities
    entry = refusals()[-1]
    assert entry.detail.startswith("single sign-on refused: ") and trail in entry.detail, entry.detail
    return entry


# --- the way in ---------------------------------------------------------------------------------------------------


def test_a_first_sign_in_creates_the_account_from_the_claims_and_lands_on_my_work(client, sso, county, team):
    response = sign_in(client)

    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(sso_identities__issuer=sso.issuer, sso_identities__subject="248289761001")
    assert (user.role, user.jurisdiction, user.team) == (Role.CONTACT_TRACER, county, team)
    assert (user.username, user.first_name, user.last_name, user.email) == ("jdoe", "Jane", "Doe", "jane.doe@health.example.gov")
    assert not user.has_usable_password() and not user.must_change_password
    assert int(client.session[SESSION_KEY]) == user.pk
    assert second_factor_method(client.session) == "sso"
    assert SignedInSession.objects.filter(user=user, session_key=client.session.session_key).exists()
    my_work = client.get("/")
    assert my_work.status_code == 200 and "<h1>My work</h1>" in my_work.content.decode()

    created = AuditEntry.objects.get(action=Action.CREATE, object_type="user", object_id=str(user.pk))
    assert created.jurisdiction_id == county.pk and {"role", "jurisdiction", "team"} <= set(created.fields)
    login = AuditEntry.objects.get(action=Action.LOGIN, actor_id=user.pk)
    assert (login.detail, login.jurisdiction_id) == ("single sign-on", county.pk)
    assert "jane" not in created.detail.lower() and "doe" not in created.detail.lower()


def test_the_token_request_carries_the_pkce_verifier_and_the_client_secret(client, sso):
    sign_in(client)
    (token_request,) = sso.token_requests
    assert token_request["client_id"] == CLIENT_ID and token_request["client_secret"] == CLIENT_SECRET
    assert len(token_request["code_verifier"]) >= 43
    assert token_request["redirect_uri"] == CALLBACK


def test_a_second_sign_in_finds_the_same_account_and_takes_a_changed_team_from_the_claims(client, sso, county, team):
    sign_in(client)
    user = User.objects.get(username="jdoe")
    night = Team.objects.create(name="Night shift", jurisdiction=county)
    sso.user.claims["team"] = "Night shift"
    sso.user.claims["email"] = "jane.new@health.example.gov"  # an address changes: the link does not

    again = Client()
    assert sign_in(again)["Location"] == "/"
    assert User.objects.count() == 1
    user.refresh_from_db()
    assert user.team == night and user.email == "jane.new@health.example.gov"
    changed = AuditEntry.objects.get(action=Action.UPDATE, object_type="user", object_id=str(user.pk))
    assert changed.fields == ["email", "team"] and changed.jurisdiction_id == county.pk
    assert SsoIdentity.objects.get(user=user).last_sign_in is not None


def test_a_move_to_another_jurisdiction_is_told_to_the_auditors_of_both(client, sso, county, other_county):
    sign_in(client)
    user = User.objects.get(username="jdoe")
    sso.user.claims.update(jurisdiction="xs-south", team="")
    sign_in(Client())
    user.refresh_from_db()
    assert (user.jurisdiction, user.team) == (other_county, None)
    moved = AuditEntry.objects.filter(action=Action.UPDATE, object_id=str(user.pk))
    assert sorted(e.jurisdiction_id for e in moved) == sorted([county.pk, other_county.pk])


def test_an_account_is_found_by_its_link_never_by_e_mail(client, sso, make_user, county):
    local = make_user(Role.SUPERVISOR, county, username="jane-local")
    local.email = "jane.doe@health.example.gov"  # the address the provider sends
    local.save()
    sign_in(client)
    linked = User.objects.get(sso_identities__subject="248289761001")
    assert linked.pk != local.pk and linked.role == Role.CONTACT_TRACER
    local.refresh_from_db()
    assert local.role == Role.SUPERVISOR  # untouched


def test_a_taken_user_name_gives_one_derived_from_the_link(client, sso, make_user, county):
    make_user(Role.CONTACT_TRACER, county, username="jdoe")
    sign_in(client)
    linked = User.objects.get(sso_identities__subject="248289761001")
    assert linked.username.startswith("sso-") and len(linked.username) == 16


def test_claims_given_by_userinfo_alone_are_used(client, sso, county, team):
    sso.user.userinfo_only = frozenset({"groups", "jurisdiction", "team"})
    assert sign_in(client)["Location"] == "/"
    user = User.objects.get(username="jdoe")
    assert (user.role, user.jurisdiction, user.team) == (Role.CONTACT_TRACER, county, team)
    assert "/userinfo" in sso.hits


def test_the_discovery_document_is_read_once_and_kept(client, sso):
    sign_in(client)
    sign_in(Client())
    assert sso.hits.count("/.well-known/openid-configuration") == 1


def test_endpoints_given_explicitly_need_no_discovery(client, sso, settings):
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{sso.url}/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{sso.url}/token"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{sso.url}/jwks"
    settings.OIDC_OP_USER_ENDPOINT = f"{sso.url}/userinfo"
    assert sign_in(client)["Location"] == "/"
    assert "/.well-known/openid-configuration" not in sso.hits


def test_the_page_asked_for_is_where_the_sign_in_lands(client, sso):
    assert sign_in(client, start="/accounts/sso/start/?next=/cases/")["Location"] == "/cases/"
    elsewhere = Client()
    assert sign_in(elsewhere, start="/accounts/sso/start/?next=https://evil.example/")["Location"] == "/"


def test_an_administrator_claim_signs_in_only_when_allowed_by_name(client, sso, settings, county):
    sso.user.claims.update(groups=["tc-admins"], team="")
    assert_refused(
        client, sign_in(client), "Administrators cannot sign in through Example State ID here", "OIDC_ALLOW_ADMINISTRATOR is off"
    )
    assert refusals()[-1].jurisdiction_id == county.pk  # where the claims say the person works
    assert not User.objects.exists()

    settings.OIDC_ALLOW_ADMINISTRATOR = True
    assert sign_in(Client())["Location"] == "/"
    assert User.objects.get(username="jdoe").role == Role.ADMINISTRATOR


# --- what is refused -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message", "trail"),
    [
        (lambda now: {"aud": "another-application"}, "it was issued to another application", "issued to another application"),
        (lambda now: {"aud": [CLIENT_ID, "another"]}, "it was authorized for another application", "authorized for another"),
        (lambda now: {"azp": "another-application"}, "it was authorized for another application", "authorized for another"),
        (lambda now: {"exp": now - 3600, "iat": now - 7200}, "it has expired", "it has expired"),
        (lambda now: {"exp": REMOVE}, "it lacks the claim exp", "lacks the claim exp"),
        (lambda now: {"nonce": "not-the-nonce-that-was-sent"}, "its nonce is not the one this sign-in sent", "nonce"),
        (lambda now: {"nonce": REMOVE}, "its nonce is not the one this sign-in sent", "nonce"),
        (lambda now: {"iss": "https://impostor.example"}, "it comes from another issuer", "another issuer"),
        (lambda now: {"sub": REMOVE}, "it lacks the claim sub", "lacks the claim sub"),
        (lambda now: {"iat": now + 3600}, "it is dated in the future", "future"),
    ],
    ids=[
        "wrong-audience",
        "several-audiences-no-azp",
        "another-azp",
        "expired",
        "no-exp",
        "wrong-nonce",
        "no-nonce",
        "wrong-issuer",
        "no-sub",
        "future",
    ],
)
def test_an_id_token_that_does_not_hold_is_refused(client, sso, changes, message, trail):
    sso.id_token_changes = changes(int(time.time()))
    entry = assert_refused(client, sign_in(client), message, trail)
    assert entry.object_id == "" and entry.jurisdiction_id is None
    assert not User.objects.exists()


def test_a_token_signed_with_a_key_the_provider_does_not_publish_is_refused(client, sso):
    sso.sign_with = signing_key("k-elsewhere")
    assert_refused(client, sign_in(client), "signed with a key the provider does not publish", "does not publish")
    assert not User.objects.exists()


def test_a_token_signed_with_another_key_under_the_published_key_id_is_refused(client, sso):
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    sso.sign_with = impostor
    assert_refused(client, sign_in(client), "its signature does not verify", "signature does not verify")


def test_a_token_signed_with_the_client_secret_or_not_at_all_is_refused(client, sso):
    sso.sign_with = OctKey.import_key(CLIENT_SECRET.encode() * 2)
    sso.id_token_header = {"alg": "HS256"}
    assert_refused(client, sign_in(client), "it is signed with HS256, not RS256", "HS256")

    sso.id_token_header = {"alg": "none"}
    again = Client()
    assert_refused(again, sign_in(again), "it is signed with none, not RS256", "none")
    assert sso.issued_id_tokens[-1].endswith(".")  # truly unsigned
    assert not User.objects.exists()


def test_a_token_that_is_no_token_is_refused(client, sso):
    sso.id_token_header = {"alg": "garbage"}
    assert_refused(client, sign_in(client), "it is malformed", "malformed")


def test_a_replayed_or_foreign_answer_is_refused(client, sso):
    callback = to_provider_and_back(client)
    assert client.get(callback)["Location"] == "/"

    # The same answer again, in another browser (its state is spent, and was never that browser's) ...
    replayed = Client()
    assert_refused(replayed, replayed.get(callback), "This sign-in was not started in this browser", "state", identities=1)
    # ... and an answer meant for one browser delivered to another.
    other = Client()
    foreign = to_provider_and_back(Client())
    assert_refused(
        other, other.get(foreign), "This sign-in was not started in this browser", "not one this session started", identities=1
    )
    assert sso.hits.count("/token") == 1  # neither reached the provider


def test_a_state_that_does_not_match_is_refused(client, sso):
    callback = to_provider_and_back(client)
    tampered = callback.replace("state=", "state=x")
    assert_refused(client, client.get(tampered), "This sign-in was not started in this browser", "state")
    assert not any(path == "/token" for path in sso.hits)  # refused before the provider is asked anything


def test_an_answer_without_a_code_is_refused(client, sso):
    callback = to_provider_and_back(client)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    assert_refused(client, client.get(f"/accounts/sso/callback/?state={state}"), "was incomplete", "no code")


def test_a_provider_that_declines_is_refused_with_its_error(client, sso):
    sso.deny = "access_denied"
    assert_refused(client, sign_in(client), "Example State ID did not sign you in (access_denied)", "error access_denied")


@pytest.mark.parametrize(
    ("claims", "message", "trail"),
    [
        ({"groups": ["tc-nobody"]}, "has no TraceCenter role", "no role maps from claim groups (tc-nobody)"),
        ({"groups": REMOVE}, "has no TraceCenter role", "(absent)"),
        ({"groups": ["tc-tracers", "tc-supervisors"]}, "is given several TraceCenter roles", "several roles"),
        ({"jurisdiction": "xs-nowhere"}, "names a jurisdiction TraceCenter does not know (“xs-nowhere”)", "unknown jurisdiction"),
        ({"jurisdiction": REMOVE}, "names no jurisdiction", "no jurisdiction in claim"),
        ({"jurisdiction": ["xs-north", "xs-south"]}, "names more than one jurisdiction", "not one text"),
        ({"team": "Team Z"}, "names a team (“Team Z”) that North County does not have", "team Team Z is not a team"),
        ({"team": ["Team A", "Team B"]}, "names more than one team", "not one text"),
    ],
    ids=[
        "unmapped-role",
        "no-role",
        "two-roles",
        "unknown-jurisdiction",
        "no-jurisdiction",
        "two-jurisdictions",
        "no-such-team",
        "two-teams",
    ],
)
def test_claims_that_place_the_person_nowhere_are_refused(client, sso, claims, message, trail):
    for name, value in claims.items():
        if value is REMOVE:
            del sso.user.claims[name]
        else:
            sso.user.claims[name] = value
    assert_refused(client, sign_in(client), message, trail)
    assert not User.objects.exists()


def test_a_team_of_another_jurisdiction_is_refused(client, sso, other_county, county):
    Team.objects.create(name="South team", jurisdiction=other_county)
    sso.user.claims["team"] = "South team"
    entry = assert_refused(client, sign_in(client), "names a team (“South team”) that North County does not have", "xs-north")
    assert entry.jurisdiction_id == county.pk


@pytest.mark.parametrize(
    ("subject", "trail"),
    [
        ("s" * 256, "longer than 255 characters"),
        ("abc\u0007def", "control or non-ASCII"),
        ("abc\u202edef", "control or non-ASCII"),
        ("", "no subject"),
    ],
    ids=["overlong", "control-character", "bidi-override", "empty"],
)
def test_an_unusable_subject_is_refused(client, sso, subject, trail):
    sso.user = ProviderUser(sub=subject)
    entry = assert_refused(client, sign_in(client), "answered with an account TraceCenter cannot use", trail)
    assert "\u0007" not in entry.detail and "\u202e" not in entry.detail and len(entry.detail) <= 200
    assert not User.objects.exists()


def test_userinfo_about_someone_else_is_refused(client, sso):
    sso.userinfo_sub = "someone-else"
    assert_refused(client, sign_in(client), "the userinfo answer is about another subject", "another subject")


def test_a_deactivated_account_stays_out_and_its_refusal_names_it(client, sso, county):
    sign_in(client)
    user = User.objects.get(username="jdoe")
    user.is_active = False
    user.save()
    later = Client()
    response = sign_in(later)
    assert response["Location"] == "/accounts/login/"
    assert "Your TraceCenter account is deactivated" in later.get("/accounts/login/").content.decode()
    entry = refusals()[-1]
    assert (entry.object_type, entry.object_id, entry.jurisdiction_id) == ("user", str(user.pk), county.pk)
    # Its session from before ends too: the backend refuses a deactivated user like Django's own.
    assert client.get("/")["Location"].startswith("/accounts/login/")


def test_a_required_amr_refuses_a_sign_in_without_multi_factor(client, sso, settings):
    settings.OIDC_REQUIRED_AMR = "mfa"
    sso.user.claims["amr"] = ["pwd"]
    assert_refused(client, sign_in(client), "did not use multi-factor authentication", "amr lacks mfa")
    sso.user.claims["amr"] = ["pwd", "mfa"]
    assert sign_in(Client())["Location"] == "/"


def test_an_unreachable_provider_is_said_so_on_the_sign_in_page(client, settings, db, provider):
    configure(settings, provider, OIDC_ISSUER="http://127.0.0.1:9")  # nothing listens on the discard port
    response = client.get("/accounts/sso/start/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert "could not complete the sign-in with Example State ID" in client.get("/accounts/login/").content.decode()
    assert "provider configuration unavailable" in refusals()[-1].detail


def test_sign_ins_started_from_one_address_are_bounded(client, sso, settings):
    settings.OIDC_MAX_STARTS_PER_ADDRESS = 2
    for _ in range(2):
        assert client.get("/accounts/sso/start/")["Location"].startswith(f"{sso.url}/authorize?")
    for _ in range(3):
        browser = Client()
        assert browser.get("/accounts/sso/start/")["Location"] == "/accounts/login/"
    assert "Too many sign-ins were started from here" in browser.get("/accounts/login/").content.decode()
    assert "sessionid" not in browser.cookies  # a refused start opens no session
    flood = [e for e in refusals() if "too many sign-ins started" in e.detail]
    assert len(flood) == 1  # once per window, not once per request


def test_the_test_provider_itself_refuses_a_wrong_verifier_and_a_spent_code(client, sso):
    callback = to_provider_and_back(client)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": "x" * 50}
    wrong = requests.post(f"{sso.url}/token", data={**form, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    bad_client = requests.post(f"{sso.url}/token", data={**form, "client_id": CLIENT_ID, "client_secret": "guess"}, timeout=10)
    assert bad_client.status_code == 401


# --- sign-in page, local accounts, sign-out ------------------------------------------------------------------------


def test_without_configuration_single_sign_on_is_off(client, db):
    assert client.get("/accounts/sso/start/").status_code == 404
    assert client.get("/accounts/sso/callback/?code=x&state=y").status_code == 404
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with" not in page and 'name="password"' in page


def test_the_sign_in_page_offers_both_ways_when_both_are_on(client, sso):
    page = client.get("/accounts/login/?next=/cases/").content.decode()
    assert 'name="password"' in page
    assert 'href="/accounts/sso/start/?next=/cases/">Sign in with Example State ID</a>' in page


def test_with_local_sign_in_off_a_password_is_refused_and_audited(client, sso, settings, users, county):
    settings.LOCAL_SIGN_IN = False
    page = client.get("/accounts/login/").content.decode()
    assert 'name="password"' not in page and "Sign in with Example State ID" in page

    tracer = users[Role.CONTACT_TRACER]
    response = client.post("/accounts/login/", {"username": tracer.username, "password": "correct-horse-battery-staple"})
    assert response.status_code == 403
    assert "Password sign-in is turned off: sign in with Example State ID." in response.content.decode()
    assert SESSION_KEY not in client.session
    refused = refusals()[-1]
    assert (refused.object_id, refused.jurisdiction_id) == (str(tracer.pk), county.pk)
    assert refused.detail.startswith("password sign-in is turned off")


def test_signing_out_signs_out_at_the_provider_too(client, sso):
    sign_in(client)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{sso.url}/logout"
    params = parse_qs(target.query)
    assert params["id_token_hint"] == [sso.issued_id_tokens[-1]]
    assert params["post_logout_redirect_uri"] == [SIGNED_OUT] and params["client_id"] == [CLIENT_ID]
    assert SESSION_KEY not in client.session

    back = requests.get(response["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302 and back.headers["Location"] == SIGNED_OUT
    assert AuditEntry.objects.filter(action=Action.LOGOUT).count() == 1


def test_a_password_session_signs_out_here_only(client, sso, users):
    client.force_login(users[Role.CONTACT_TRACER])
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert sso.logouts == []


def test_the_id_token_kept_for_sign_out_is_encrypted_in_the_session(client, sso):
    sign_in(client)
    kept = client.session["_tracecenter_sso_id_token"]
    assert kept.startswith("tc1$") and "Jane" not in kept and sso.issued_id_tokens[-1] not in kept


def test_the_configuration_checks_name_what_is_wrong(settings, sso):
    from tracecenter.accounts.sso.config import check_configuration

    settings.OIDC_ROLE_MAP = {"tc-x": "overlord", "tc-admins": "administrator"}
    settings.OIDC_RP_SIGN_ALGO = "HS256"
    settings.OIDC_RP_CLIENT_SECRET = ""
    ids = {problem.id for problem in check_configuration()}
    assert ids == {"tracecenter.E102", "tracecenter.W103", "tracecenter.E104", "tracecenter.E105"}
    settings.OIDC_ISSUER = "http://id.example.gov/realms/x"
    assert "tracecenter.E106" in {problem.id for problem in check_configuration()}
    settings.LOCAL_SIGN_IN = False
    assert "tracecenter.W108" in {problem.id for problem in check_configuration()}  # no administrator could sign in


def test_an_issuer_whose_discovery_names_another_issuer_is_not_used(client, sso, settings):
    settings.OIDC_ISSUER = sso.issuer + "/"  # not exactly what the document says
    client.get("/accounts/sso/start/")
    assert "names another issuer" in refusals()[-1].detail


def test_with_local_sign_in_off_an_administrator_claim_is_not_sent_to_a_password(client, sso, settings):
    settings.LOCAL_SIGN_IN = False
    sso.user.claims.update(groups=["tc-admins"], team="")
    assert_refused(client, sign_in(client), "Administrators cannot sign in through Example State ID here. Ask whoever", "ADMIN")


# --- an existing account, linked by whoever runs TraceCenter -------------------------------------------------------


def test_a_linked_password_account_is_the_one_single_sign_on_opens(client, sso, make_user, county, team):
    from django.core.management import call_command

    lucia = make_user(Role.CASE_INVESTIGATOR, county, team, username="lucia")
    call_command("sso_link", "--username", "lucia", "--subject", "248289761001", stdout=io.StringIO())
    linked = AuditEntry.objects.get(action=Action.UPDATE, object_id=str(lucia.pk))
    assert linked.fields == ["sso_identity"] and linked.jurisdiction_id == county.pk

    sign_in(client)
    assert User.objects.count() == 1
    lucia.refresh_from_db()
    assert int(client.session[SESSION_KEY]) == lucia.pk
    assert lucia.role == Role.CONTACT_TRACER  # the provider says so now


def test_a_link_that_is_taken_or_malformed_is_refused_with_the_argument_named(sso, make_user, county):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    make_user(Role.CASE_INVESTIGATOR, county, username="lucia")
    make_user(Role.CASE_INVESTIGATOR, county, username="kevin")
    call_command("sso_link", "--username", "lucia", "--subject", "s-1", stdout=io.StringIO())
    cases = [
        (["--username", "kevin", "--subject", "s-1"], "--subject: This subject is already linked to another account."),
        (["--username", "lucia", "--subject", "s-2"], "--username: This account is already linked to another subject"),
        (["--username", "nobody", "--subject", "s-3"], "--username: There is no account with this user name."),
        (["--username", "kevin", "--subject", "x" * 300], "--subject: the subject is longer than 255 characters"),
        (["--username", "kevin", "--subject", "bell\u0007"], "--subject: the subject holds control"),
    ]
    for arguments, error in cases:
        arguments = [a.encode().decode("unicode_escape") for a in arguments]
        with pytest.raises(CommandError) as raised:
            call_command("sso_link", *arguments, stdout=io.StringIO())
        assert str(raised.value).startswith(error), raised.value
    assert SsoIdentity.objects.count() == 1
