"""manage.py postal_areas: which jurisdiction lab results go to when the lab wrote a postal code and no county.

    manage.py postal_areas list
    manage.py postal_areas add --jurisdiction CODE --prefix 021 [--prefix 022 ...]
    manage.py postal_areas remove --prefix 021

The longest listed prefix of a patient's postal code names the jurisdiction of a new patient's record.
Once any prefix is listed, a postal code that matches none sends the result to the state's own queue
(the top of the tree), not to the county that uploaded the file.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.accounts.models import Jurisdiction
from tracecenter.core.errors import DomainError
from tracecenter.intake.models import PostalArea
from tracecenter.intake.services import postal_area_add, postal_area_remove


class Command(BaseCommand):
    help = "List, add or remove the postal code prefixes that route lab results to a jurisdiction."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="every prefix and its jurisdiction")
        add = actions.add_parser("add", help="route postal codes starting with a prefix to a jurisdiction")
        add.add_argument("--jurisdiction", required=True, help="code of the jurisdiction")
        add.add_argument("--prefix", required=True, action="append", help="start of the postal codes (repeatable)")
        remove = actions.add_parser("remove", help="stop routing a prefix")
        remove.add_argument("--prefix", required=True, action="append", help="start of the postal codes (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            for area in PostalArea.objects.select_related("jurisdiction"):
                self.stdout.write(f"{area.prefix}\t{area.jurisdiction.code}\t{area.jurisdiction.name}")
            return
        try:
            if action == "add":
                jurisdiction = Jurisdiction.objects.filter(code=options["jurisdiction"]).first()
                if jurisdiction is None:
                    raise CommandError(f"No jurisdiction has the code {options['jurisdiction']!r}.")
                for prefix in options["prefix"]:
                    area = postal_area_add(actor=None, jurisdiction=jurisdiction, prefix=prefix)
                    self.stdout.write(f"{area.prefix}* -> {jurisdiction.code}")
            else:
                for prefix in options["prefix"]:
                    removed = postal_area_remove(actor=None, prefix=prefix)
                    self.stdout.write(f"{prefix}: {'removed' if removed else 'was not listed'}")
        except DomainError as exc:
            raise CommandError(str(exc.message)) from None
