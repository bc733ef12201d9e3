"""The roles of a contact tracing center and what each may do.

This table is the single statement of least privilege: a capability not listed for
a role is denied, whatever the view, API endpoint or export asks for.
"""

from __future__ import annotations

import enum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CASE_INVESTIGATOR = "case_investigator", _("Case investigator")
    CONTACT_TRACER = "contact_tracer", _("Contact tracer")
    SUPERVISOR = "supervisor", _("Supervisor")
    EPIDEMIOLOGIST = "epidemiologist", _("Epidemiologist")
    WORKFORCE_PLANNER = "workforce_planner", _("Workforce planner")
    QUALITY_ANALYST = "quality_analyst", _("Quality analyst")
    ADMINISTRATOR = "administrator", _("Administrator")
    AUDITOR = "auditor", _("Auditor")
    PRIVACY_OFFICER = "privacy_officer", _("Privacy officer")


class Capability(enum.StrEnum):
    VIEW_RECORDS = "view_records"  # persons, lab results, cases, contacts, places
    EDIT_RECORDS = "edit_records"  # interviews, contacts, status changes
    CREATE_RECORDS = "create_records"  # new persons, lab results
    REPORT_CASES = "report_cases"  # open a case reported by telephone or a provider (not a feed)
    ASSIGN = "assign"  # assign and reassign cases and contacts
    EXPORT = "export"
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"
    INGEST = "ingest"  # upload lab result files; see intake reports and rejected messages, fix and re-process them
    REVIEW_MATCHES = "review_matches"  # decide whether two person records are the same person; merge and undo
    OPERATE = "operate"  # see the workers, periodic jobs and failed deliveries; send failed work again
    RETENTION = "retention"  # see what is past its retention period, set the periods, place and lift legal holds
    REVIEW_ACCESS = "review_access"  # review the records opened by breaking the glass


class Scope(enum.StrEnum):
    """How far a role sees within its jurisdiction."""

    ASSIGNED = "assigned"  # only records assigned to the user
    TEAM = "team"  # records of the user's team (or the whole jurisdiction if no team)
    JURISDICTION = "jurisdiction"  # the user's jurisdiction and everything below it
    NONE = "none"  # no personal records at all


_WORKER = frozenset({Capability.VIEW_RECORDS, Capability.EDIT_RECORDS, Capability.CREATE_RECORDS})

CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.CASE_INVESTIGATOR: _WORKER | {Capability.REPORT_CASES},
    Role.CONTACT_TRACER: _WORKER,
    Role.SUPERVISOR: _WORKER
    | {Capability.REPORT_CASES, Capability.ASSIGN, Capability.EXPORT, Capability.INGEST, Capability.REVIEW_MATCHES},
    Role.EPIDEMIOLOGIST: frozenset({Capability.VIEW_RECORDS, Capability.EXPORT, Capability.INGEST}),
    Role.WORKFORCE_PLANNER: frozenset(),
    Role.QUALITY_ANALYST: frozenset(),
    Role.ADMINISTRATOR: frozenset({Capability.MANAGE_USERS, Capability.OPERATE}),
    Role.AUDITOR: frozenset({Capability.VIEW_AUDIT}),
    # The privacy officer oversees how records are kept and read; no case work.
    Role.PRIVACY_OFFICER: frozenset({Capability.VIEW_AUDIT, Capability.RETENTION, Capability.REVIEW_ACCESS}),
}

SCOPES: dict[str, Scope] = {
    Role.CASE_INVESTIGATOR: Scope.ASSIGNED,
    Role.CONTACT_TRACER: Scope.ASSIGNED,
    Role.SUPERVISOR: Scope.TEAM,
    Role.EPIDEMIOLOGIST: Scope.JURISDICTION,
    Role.WORKFORCE_PLANNER: Scope.NONE,
    Role.QUALITY_ANALYST: Scope.NONE,
    Role.ADMINISTRATOR: Scope.NONE,
    Role.AUDITOR: Scope.NONE,
    Role.PRIVACY_OFFICER: Scope.NONE,
}

# Roles that can be given work: the assignment lists offer only these.
ASSIGNABLE_ROLES = (Role.CASE_INVESTIGATOR, Role.CONTACT_TRACER, Role.SUPERVISOR)
