"""Limits on sessions: an absolute lifetime, and a number of sessions per user at once.

Idle sessions already end after SESSION_IDLE_SECONDS (Django's own expiry, renewed on every
request). On top of that:

- every session ends SESSION_ABSOLUTE_SECONDS (12 hours) after its sign-in, however busy: a session
  stolen from a shared computer or a proxy log is not good forever; the middleware
  (workspace.middleware.SessionLimitsMiddleware) signs it out on its next request;
- a user holds at most SESSION_MAX_PER_USER sessions (3): a new sign-in ends the oldest ones, so a
  forgotten session on another computer does not live on beside the new one.

The sign-in time is kept in the session itself; the sessions of each user are rows of
SignedInSession, written when Django says a user signed in or out (its auth signals: every way of
signing in passes through them).
"""

from __future__ import annotations

import datetime as dt
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest

from tracecenter.core import clock, trail

STARTED_AT = "_tracecenter_signed_in_at"


def _store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key)
    return store


def session_started(*, user: Any, session: SessionBase) -> list[str]:
    """Register the session `user` just signed in to; end their oldest sessions past the limit.

    Returns the keys of the sessions ended (their users are signed out on their next request).
    """
    from tracecenter.accounts.models import SignedInSession

    now = clock.now()
    session[STARTED_AT] = int(now.timestamp())
    if session.session_key is None:
        session.save()  # a sign-in that replaced another user's session has no key until it is saved
    key = session.session_key
    if key is None:  # saving gives a session its key
        raise RuntimeError("the session has no key after saving")
    with transaction.atomic():
        SignedInSession.objects.update_or_create(session_key=key, defaults={"user": user, "started_at": now})
        others = list(SignedInSession.objects.filter(user=user).exclude(session_key=key).order_by("-started_at", "-pk"))
        # Sessions that ended by themselves (idle, browser closed) make no room for others: only live ones count.
        gone = [row for row in others if not _store(row.session_key).load()]
        live = [row for row in others if row not in gone]
        ended = live[max(settings.SESSION_MAX_PER_USER - 1, 0) :]
        for row in ended:
            _store().delete(row.session_key)
        SignedInSession.objects.filter(pk__in=[row.pk for row in gone + ended]).delete()
    if ended:
        trail.record(
            actor=None,
            action="logout",
            object_type="user",
            object_id=user.pk,
            jurisdiction_id=getattr(user, "jurisdiction_id", None),
            detail=f"{len(ended)} older session(s) ended: at most {settings.SESSION_MAX_PER_USER} at once",
        )
    return [row.session_key for row in ended]


def session_rekeyed(*, old_key: str | None, new_key: str | None) -> None:
    """The session got a new key (a password change keeps the session under a new key)."""
    from tracecenter.accounts.models import SignedInSession

    if old_key and new_key and old_key != new_key:
        SignedInSession.objects.filter(session_key=old_key).update(session_key=new_key)


def session_ended(*, session_key: str | None) -> None:
    from tracecenter.accounts.models import SignedInSession

    if session_key:
        SignedInSession.objects.filter(session_key=session_key).delete()


def absolute_end(session: SessionBase) -> dt.datetime | None:
    """When this signed-in session ends however busy it is; None for a session nobody signed in to."""
    started = session.get(STARTED_AT)
    if not isinstance(started, int):
        return None
    return dt.datetime.fromtimestamp(started, tz=dt.UTC) + dt.timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS)


def past_absolute_lifetime(session: SessionBase) -> bool:
    """A signed-in session past its lifetime, or one that does not say when it began (made before the limit)."""
    end = absolute_end(session)
    return end is None or clock.now() >= end


def _on_signed_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        session_started(user=user, session=session)


def _on_signed_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        session_ended(session_key=session.session_key)


def connect() -> None:
    user_logged_in.connect(_on_signed_in, dispatch_uid="tracecenter.accounts.sessions.signed_in")
    user_logged_out.connect(_on_signed_out, dispatch_uid="tracecenter.accounts.sessions.signed_out")


def sessions_prune() -> int:
    """Remove the sessions that ended by themselves (idle past SESSION_IDLE_SECONDS, or closed with the browser and
    never used again) from the store, and the sign-in rows of sessions no longer there.

    Django keeps an expired session's row until someone clears it; a store that only grows keeps session data
    (who was signed in, when) longer than it serves anyone. Returns how many sign-in rows were removed.
    """
    from tracecenter.accounts.models import SignedInSession

    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
        from django.contrib.sessions.models import Session

        live = Session.objects.filter(expire_date__gt=clock.now()).values("session_key")
        removed: int = SignedInSession.objects.exclude(session_key__in=live).delete()[0]
        return removed
    gone = [row.pk for row in SignedInSession.objects.only("pk", "session_key") if not _store().exists(row.session_key)]
    return SignedInSession.objects.filter(pk__in=gone).delete()[0]
