"""manage.py feed_senders: the sending facilities a jurisdiction takes lab results from over MLLP.

    manage.py feed_senders list [--jurisdiction CODE]
    manage.py feed_senders add --jurisdiction CODE --facility ID [--name NAME]
    manage.py feed_senders deactivate --jurisdiction CODE --facility ID
    manage.py feed_senders activate --jurisdiction CODE --facility ID

ID is what the sender puts in MSH-4: its universal id (MSH-4.2, an OID or a CLIA number) or its
namespace id (MSH-4.1); compared ignoring case and spaces. While a jurisdiction has an active
sender, its listener refuses (AR) messages from any other; with none, it takes any sender.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracecenter.accounts.models import Jurisdiction
from tracecenter.core.errors import DomainError
from tracecenter.intake.models import FeedSender
from tracecenter.intake.services import feed_sender_add, feed_sender_set_active


class Command(BaseCommand):
    help = "List, add, deactivate or reactivate the sending facilities a jurisdiction takes HL7 feeds from over MLLP."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="the senders of one jurisdiction, or of all")
        listing.add_argument("--jurisdiction", default="", help="code of the jurisdiction (default: all)")
        for name, text in (
            ("add", "allow a sending facility (or reactivate it)"),
            ("deactivate", "stop taking its messages"),
            ("activate", "take its messages again"),
        ):
            action = actions.add_parser(name, help=text)
            action.add_argument("--jurisdiction", required=True, help="code of the receiving jurisdiction")
            action.add_argument("--facility", required=True, help="MSH-4 universal id (OID, CLIA) or namespace id")
            if name == "add":
                action.add_argument("--name", default="", help="who it is, for people (the lab's name)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list(options["jurisdiction"])
            return
        jurisdiction = self._jurisdiction(options["jurisdiction"])
        if action == "add":
            try:
                sender = feed_sender_add(
                    actor=None, jurisdiction=jurisdiction, sending_facility=options["facility"], name=options["name"]
                )
            except DomainError as exc:
                raise CommandError(str(exc.message)) from None
            self.stdout.write(f"{jurisdiction.code}: {sender} is allowed")
            return
        key = " ".join(options["facility"].split()).casefold()
        found = [s for s in FeedSender.objects.filter(jurisdiction=jurisdiction) if s.sending_facility.casefold() == key]
        if not found:
            raise CommandError(f"{jurisdiction.code} has no sender {options['facility']!r}; `feed_senders list` shows them.")
        sender = feed_sender_set_active(actor=None, sender=found[0], active=action == "activate")
        self.stdout.write(f"{jurisdiction.code}: {sender} is {'allowed' if sender.active else 'no longer allowed'}")

    def _jurisdiction(self, code: str) -> Jurisdiction:
        found = Jurisdiction.objects.filter(code=code).first()
        if found is None:
            raise CommandError(f"No jurisdiction has the code {code!r}.")
        return found

    def _list(self, code: str) -> None:
        senders = FeedSender.objects.select_related("jurisdiction").order_by("jurisdiction__code", "sending_facility")
        if code:
            senders = senders.filter(jurisdiction=self._jurisdiction(code))
        rows = list(senders)
        if not rows:
            self.stdout.write("no senders listed: every listener takes messages from any sending facility")
        for sender in rows:
            state = "active" if sender.active else "inactive"
            self.stdout.write(f"{sender.jurisdiction.code}\t{sender.sending_facility}\t{state}\t{sender.name}")
