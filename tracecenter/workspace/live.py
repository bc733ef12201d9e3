"""Live screens: what changes on cases and contacts is pushed to the browsers that show them.

Subscribers here turn domain events into pushes (core/push.py) to the groups the access
policy names for the record (accounts.policy.record_groups); the socket below lets a signed-in
user's browser join the groups policy gives them (push_groups) and catch up on what it missed.
A push carries ids only; the page then fetches the part it shows through its ordinary,
audited view.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.urls import path

from tracecenter.accounts import policy, sessions
from tracecenter.accounts.models import Jurisdiction
from tracecenter.accounts.second_factor import second_factor_method, second_factor_required
from tracecenter.cases.events import CaseAssigned, CaseOpened, CasePriorityChanged, CaseStatusChanged, CaseTransferred
from tracecenter.cases.models import Case
from tracecenter.contacts.events import ExposureAssigned, ExposureStatusChanged
from tracecenter.contacts.models import Exposure
from tracecenter.core import clock, events, push

logger = logging.getLogger(__name__)


# --- Events to pushes.


def _case_groups(case: Case, *extra_users: int | None) -> list[str]:
    return policy.record_groups(jurisdiction=case.jurisdiction, team_id=case.team_id, user_ids=[case.owner_id, *extra_users])


def _case(case_id: int) -> Case | None:
    return Case.objects.select_related("jurisdiction").filter(pk=case_id).first()


def on_case_assigned(event: CaseAssigned) -> None:
    case = _case(event.case_id)
    if case is None:
        return
    groups = _case_groups(case, event.previous_owner_id)
    if event.previous_team_id is not None and event.previous_team_id != case.team_id:
        groups.append(f"team.{event.previous_team_id}")  # the team it left sees it go
    push.push(groups, "case.assigned", {"case_id": case.pk, "owner_id": case.owner_id})


def on_case_transferred(event: CaseTransferred) -> None:
    case = _case(event.case_id)
    origin = Jurisdiction.objects.filter(pk=event.from_jurisdiction_id).first()
    if case is None:
        return
    groups = _case_groups(case, event.previous_owner_id)
    if origin is not None:
        groups += policy.record_groups(jurisdiction=origin, team_id=None)  # where it was sees it leave
    push.push(groups, "case.changed", {"case_id": case.pk})


def on_case_changed(event: CaseOpened | CaseStatusChanged | CasePriorityChanged) -> None:
    on_cases_changed([event])


def on_cases_changed(batch: Sequence[CaseOpened | CaseStatusChanged | CasePriorityChanged]) -> None:
    cases = Case.objects.select_related("jurisdiction").filter(pk__in=[event.case_id for event in batch])
    push.push_many((_case_groups(case), "case.changed", {"case_id": case.pk}) for case in cases)


def on_exposure_changed(event: ExposureAssigned | ExposureStatusChanged) -> None:
    exposure = Exposure.objects.select_related("jurisdiction").filter(pk=event.exposure_id).first()
    if exposure is None:
        return
    previous = event.previous_owner_id if isinstance(event, ExposureAssigned) else None
    groups = policy.record_groups(
        jurisdiction=exposure.jurisdiction, team_id=exposure.team_id, user_ids=[exposure.owner_id, previous]
    )
    push.push(groups, "contact.changed", {"contact_id": exposure.pk, "owner_id": exposure.owner_id})


def register() -> None:
    events.subscribe(CaseAssigned, on_case_assigned)
    events.subscribe(CaseTransferred, on_case_transferred)
    events.subscribe(CaseOpened, on_case_changed, batch=on_cases_changed, name="tracecenter.workspace.live.on_case_opened")
    events.subscribe(
        CaseStatusChanged, on_case_changed, batch=on_cases_changed, name="tracecenter.workspace.live.on_case_status_changed"
    )
    events.subscribe(
        CasePriorityChanged, on_case_changed, batch=on_cases_changed, name="tracecenter.workspace.live.on_case_priority_changed"
    )
    events.subscribe(ExposureAssigned, on_exposure_changed, name="tracecenter.workspace.live.on_exposure_assigned")
    events.subscribe(ExposureStatusChanged, on_exposure_changed, name="tracecenter.workspace.live.on_exposure_status_changed")


# --- The socket.


class LiveConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """One browser tab's live connection: the groups policy allows, catch-up, nothing else.

    Signed-in users only (the session, as the pages); the groups are fixed when it connects, from
    the same policy as the pages. The socket closes when the session would have expired, so a
    tab left open does not outlive the sign-in.
    """

    joined: list[str]
    expires_at: dt.datetime | None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        session = self.scope.get("session")
        # A password alone opens only the second step of the sign-in, never the live updates.
        if not await database_sync_to_async(_past_second_factor)(user, session):
            await self.close(code=4401)
            return
        self.joined = await database_sync_to_async(policy.push_groups)(user)
        self.expires_at = await database_sync_to_async(_session_end)(session) if session is not None else None
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        push.ensure_fanout(self.channel_layer)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:
            return None  # not JSON: ignored, like anything else a browser of ours would not send

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        if not isinstance(content, dict) or content.get("type") != "resume":
            return
        after = content.get("after")
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            return
        missed = await database_sync_to_async(push.messages_after)(self.joined, after, limit=500)
        if len(missed) >= 500:
            await self.send_json({"type": "reload"})  # too much to replay: the page is stale anyway
            return
        for message in missed:
            await self.send_json({"type": "push", **message})

    async def push_message(self, event: dict[str, Any]) -> None:
        if self.expires_at is not None and clock.now() >= self.expires_at:
            await self.close(code=4401)
            return
        await self.send_json({"type": "push", "id": event["id"], "kind": event["kind"], "data": event["data"], "at": event["at"]})


def _past_second_factor(user: Any, session: Any) -> bool:
    # Read in a thread: the session may still have to be loaded from its store.
    return not second_factor_required(user.role) or (session is not None and second_factor_method(session) is not None)


def _session_end(session: Any) -> dt.datetime:
    """The sooner of the session's idle expiry and its absolute end (accounts/sessions.py)."""
    idle: dt.datetime = session.get_expiry_date()
    absolute = sessions.absolute_end(session)
    return min(idle, absolute) if absolute is not None else idle


websocket_urlpatterns = [path("live/", LiveConsumer.as_asgi(), name="live")]
