"""The privacy officer's retention pages for an account that has lost its jurisdiction: refused, not a server error."""

from __future__ import annotations

from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import LegalHold
from tracecenter.audit.retention import legal_hold_place


def test_a_privacy_officer_without_a_jurisdiction_is_refused_and_lifts_nothing(client, state, users):
    privacy = users[Role.PRIVACY_OFFICER]
    privacy.jurisdiction = state
    privacy.save()
    hold = legal_hold_place(actor=privacy, reason="Court order 12", person_id=42)
    privacy.jurisdiction = None
    privacy.save()
    client.force_login(privacy)
    # The lift asserted a jurisdiction: a server error (AssertionError), and under `python -O` None.path.
    assert client.post(reverse("workspace:legal_hold_lift", args=[hold.pk])).status_code == 403
    assert client.get(reverse("workspace:retention")).status_code == 403
    hold.refresh_from_db()
    assert hold.lifted_at is None
    assert LegalHold.objects.count() == 1
