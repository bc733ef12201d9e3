"""Single sign-on through the state's OpenID Connect provider (docs/sso.md).

mozilla-django-oidc is the relying party: its views start the authorization code flow (with a state,
a nonce and PKCE) and its backend exchanges the code at the provider's token endpoint. What it leaves
open, and a health department cannot, is done here:

- the ID token is verified in full: signature by a key the provider publishes, issuer, audience
  (the library skips it), authorized party, expiry, issue time, nonce, and, when asked, an `amr`
  that shows multi-factor authentication;
- an account is found by its link (issuer, subject), the provider's stable identifier of the person,
  never by e-mail: an address changes hands and a new account at the provider can claim it;
- role, jurisdiction and team come from the claims at every sign-in (the provider is the source of
  truth), and a claim that names no role, an unknown jurisdiction or a team outside it refuses the
  sign-in (`SsoRefused`, which the sign-in view audits and explains) instead of guessing;
- an administrator is provisioned from a claim only when OIDC_ALLOW_ADMINISTRATOR says so.

Single sign-on is off unless OIDC_ISSUER and OIDC_CLIENT_ID are set; the backend stays inert until then.
"""

from tracecenter.accounts.sso.backend import SsoBackend
from tracecenter.accounts.sso.config import SsoRefused, SsoUnavailable, enabled, endpoints, provider_name, shown
from tracecenter.accounts.sso.logout import provider_logout_url, signed_in_through_sso

__all__ = [
    "SsoBackend",
    "SsoRefused",
    "SsoUnavailable",
    "enabled",
    "endpoints",
    "provider_logout_url",
    "provider_name",
    "shown",
    "signed_in_through_sso",
]
