"""manage.py api_token_create USERNAME --name NAME [--days N | --no-expiry]: prints a new token once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.accounts.models import User
from tracecenter.api.services import DEFAULT_LIFETIME_DAYS, api_token_create
from tracecenter.core.errors import DomainError


class Command(BaseCommand):
    help = "Make a personal API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the token is for, such as the name of the script.")
        parser.add_argument(
            "--days",
            type=int,
            default=DEFAULT_LIFETIME_DAYS,
            help=f"Days until the token expires (default {DEFAULT_LIFETIME_DAYS}).",
        )
        parser.add_argument("--no-expiry", action="store_true", help="Make a token that does not expire.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no user {options['username']!r}.")
        try:
            token, raw = api_token_create(
                actor=None, user=user, name=options["name"], days=None if options["no_expiry"] else options["days"]
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        expiry = token.expires_at.isoformat(timespec="minutes") if token.expires_at else "never"
        self.stderr.write(f"Token {token.name!r} for {user.username} (expires {expiry}). Store it now: it is not shown again.")
        self.stdout.write(raw)
