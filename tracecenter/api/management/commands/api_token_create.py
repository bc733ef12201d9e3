"""manage.py api_token_create USERNAME --name NAME --scope read [--scope write ...] [--days N]: prints a new token once."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.accounts.models import User
from tracecenter.api.scopes import TokenScope
from tracecenter.api.services import MAX_RATE_PER_MINUTE, api_token_create, default_days, max_days
from tracecenter.core.errors import DomainError


class Command(BaseCommand):
    help = "Make a personal API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the token is for, such as the name of the script.")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            metavar="SCOPE",
            help=f"What the token may be used for, repeated for more than one: {', '.join(TokenScope.values)}.",
        )
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Days until the token expires (default {default_days()}, at most {max_days()}).",
        )
        parser.add_argument(
            "--rate-per-minute",
            type=int,
            default=None,
            help=f"The token's own limit of requests a minute (1 to {MAX_RATE_PER_MINUTE}); default API_TOKEN_RATE_PER_MINUTE.",
        )
        # Gone: every token expires. Still recognised, to say so rather than "unrecognized arguments".
        parser.add_argument("--no-expiry", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["no_expiry"]:
            raise CommandError(f"Every API token expires: give --days (at most {max_days()}) or leave it for {default_days()}.")
        if not options["scopes"]:
            raise CommandError(
                f"Give the token's scopes: --scope SCOPE, repeated for more than one ({', '.join(TokenScope.values)})."
            )
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no user {options['username']!r}.")
        try:
            token, raw = api_token_create(
                actor=None,
                user=user,
                name=options["name"],
                scopes=options["scopes"],
                days=options["days"] if options["days"] is not None else default_days(),
                rate_per_minute=options["rate_per_minute"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        expiry = token.expires_at.isoformat(timespec="minutes")
        self.stderr.write(
            f"Token {token.name!r} for {user.username} (scopes {token.scopes}; expires {expiry}). "
            "Store it now: it is not shown again."
        )
        self.stdout.write(raw)
