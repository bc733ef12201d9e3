"""How an attempt to reach a person went: one list for every record and every channel.

Kept below the apps that record attempts (a contact's call log, a case's timeline, routing's
dispositions, later the channels) so that they all speak of the same outcomes in the same words.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CallOutcome(models.TextChoices):
    REACHED = "reached", _("Reached the person")
    NO_ANSWER = "no_answer", _("No answer")
    VOICEMAIL = "voicemail", _("Left a voicemail")
    BUSY = "busy", _("Line busy")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    DECLINED = "declined", _("Declined to talk")
    CALL_BACK = "call_back", _("Asked to be called back")
    LANGUAGE_BARRIER = "language_barrier", _("Needs another language")


# Outcomes that did not reach the person: each counts towards the attempts after which a record is unreachable.
NOT_REACHED = frozenset({CallOutcome.NO_ANSWER, CallOutcome.VOICEMAIL, CallOutcome.BUSY, CallOutcome.WRONG_NUMBER})
