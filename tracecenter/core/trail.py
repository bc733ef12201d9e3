"""The audit trail as the apps below it see it: one function, which the audit app fills in.

accounts sits below audit in the layers (the audited fetch in audit/access.py asks the access
policy), yet creating a user or resetting a password must be written to the trail in the same
transaction as the change. So the audit app installs its writer here when Django starts
(AuditConfig.ready), the way a higher area fills a panel registry, and accounts calls `record`.
A write with no writer installed fails loudly rather than going unaudited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from tracecenter.core.actors import Actor


class Recorder(Protocol):
    def __call__(
        self,
        *,
        actor: Actor | None,
        action: str,
        object_type: str = "",
        object_id: object = "",
        jurisdiction_id: int | None = None,
        fields: Iterable[str] = (),
        detail: str = "",
    ) -> object: ...


_recorder: Recorder | None = None


def install(recorder: Recorder) -> None:
    global _recorder
    _recorder = recorder


def record(
    *,
    actor: Actor | None,
    action: str,
    object_type: str = "",
    object_id: object = "",
    jurisdiction_id: int | None = None,
    fields: Iterable[str] = (),
    detail: str = "",
) -> None:
    """One entry in the audit trail; `fields` are names of fields touched, never their values."""
    if _recorder is None:
        raise RuntimeError("No audit trail is installed: add tracecenter.audit to INSTALLED_APPS.")
    _recorder(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        jurisdiction_id=jurisdiction_id,
        fields=fields,
        detail=detail,
    )
