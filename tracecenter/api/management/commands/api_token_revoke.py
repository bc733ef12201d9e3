"""manage.py api_token_revoke USERNAME --name NAME: the token stops working at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.api.models import ApiToken
from tracecenter.api.services import api_token_revoke


class Command(BaseCommand):
    help = "Revoke a user's active API token by its name."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        token = (
            ApiToken.objects.select_related("user")
            .filter(user__username=options["username"], name=" ".join(options["name"].split()), revoked=False)
            .first()
        )
        if token is None:
            raise CommandError("There is no such active token.")
        api_token_revoke(actor=None, token=token)
        self.stdout.write(f"Revoked token {token.name!r} of {options['username']}.")
