"""manage.py demo_code USERNAME: the code a demo user's authenticator app would show now."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP

from tracecenter.accounts.models import User
from tracecenter.demo.builder import demo_authenticator, is_demo_user


class Command(BaseCommand):
    help = (
        "Print the 6-digit code of a demo user's authenticator app (the second step of signing in), for trying "
        "TraceCenter without an authenticator app. Demo users only, never with TRACECENTER_ENV=production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="a demo login printed by demo_data (investigator, tracer, supervisor...)")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_code prints second-factor codes: it does not run with TRACECENTER_ENV=production.")
        username = options["username"]
        # Only the published demo accounts: an account a department made keeps its second factor its own.
        user = User.objects.filter(username=username).first() if is_demo_user(username) else None
        if user is None:
            raise CommandError(f"{username[:60]!r} is not a demo user: run demo_data first, and use a login it printed.")
        device = demo_authenticator(user)
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        seconds_left = device.step - int(totp.time - device.t0) % device.step
        self.stdout.write(f"{totp.token():0{device.digits}d}")
        self.stderr.write(f"(good for {seconds_left} more seconds)")
