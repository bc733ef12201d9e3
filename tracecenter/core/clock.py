"""The one place TraceCenter asks what time it is, so tests can travel in time."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()


def today() -> dt.date:
    """Today's date in the center's local time zone: quarantine days are local days."""
    return timezone.localdate(timezone.now())
