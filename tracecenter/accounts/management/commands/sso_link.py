"""`manage.py sso_link`: let single sign-on open an account that already exists.

    manage.py sso_link --username lucia --subject 0c9d6f3e-5b1a-4c7e-9f0e-1d2a3b4c5d6e

Accounts are found at sign-in by their link to the provider (issuer, subject), never by e-mail, so the
first single sign-on of someone who had a password account makes them a new one. Linking the old
account first keeps their cases, contacts and history under one name. The subject is the `sub` the
provider gives the person (its admin console shows it: Keycloak's user id, Entra ID's pairwise
subject for this application, Okta's user id).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.accounts.sso.provisioning import sso_identity_link
from tracecenter.core.errors import DomainError


class Command(BaseCommand):
    help = "Link an existing account to its person at the identity provider (issuer, subject)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--subject", required=True, help="the provider's `sub` for this person")
        parser.add_argument("--issuer", default="", help="the provider's issuer (default: OIDC_ISSUER)")

    def handle(self, *args: Any, **options: Any) -> None:
        issuer = options["issuer"] or settings.OIDC_ISSUER
        try:
            identity = sso_identity_link(username=options["username"], subject=options["subject"], issuer=issuer)
        except DomainError as exc:
            raise CommandError(f"--{exc.field}: {exc.message}" if exc.field else exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"{identity.user.username} now signs in through {issuer}."))
