"""What a personal API token may be used for (its scopes), and which scope each endpoint needs.

A token carries one or more scopes; an endpoint needs exactly one, declared in ENDPOINT_SCOPES
below and nowhere else. A token without it is refused (403, audited) before the endpoint runs.
A signed-in session is not limited by scopes. Either way the role and jurisdiction policy still
decides what the caller may see and do: a scope narrows a token, it never widens the role.

- read: every GET, and the person search (a POST only so that names stay out of URLs).
- write: what changes case work: persons, lab results entered by hand, case status, assignment, contacts.
- ingest: lab intake: delivering a file of lab results and following what became of it.

An endpoint missing from the table stops the API from loading (`required`), so none can ship
without a stated scope.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import Viewer
from tracecenter.accounts.roles import Capability


class TokenScope(models.TextChoices):
    READ = "read", _("read: list, search and read records")
    WRITE = "write", _("write: enter and change records")
    INGEST = "ingest", _("ingest: deliver lab result files")


# Endpoint (its view function's name) -> the scope a token needs to call it.
ENDPOINT_SCOPES: dict[str, TokenScope] = {
    # persons
    "person_list": TokenScope.READ,
    "person_search": TokenScope.READ,
    "person_detail": TokenScope.READ,
    "person_new": TokenScope.WRITE,
    "lab_result_new": TokenScope.WRITE,  # a result entered by hand for a person the caller follows: case work
    # lab results
    "lab_result_list": TokenScope.READ,
    "lab_result_detail": TokenScope.READ,
    # cases
    "case_list": TokenScope.READ,
    "case_detail": TokenScope.READ,
    "case_status": TokenScope.WRITE,
    "case_assign_to": TokenScope.WRITE,
    "contact_new": TokenScope.WRITE,
    # contacts
    "contact_list": TokenScope.READ,
    "contact_detail": TokenScope.READ,
    # lab intake
    "intake_batch_new": TokenScope.INGEST,
    "intake_batch_detail": TokenScope.INGEST,
}

# The capabilities of a role that give a scope any use: a token is never given a scope its holder's role
# could do nothing with (an epidemiologist reads, so a "write" token of theirs would only mislead).
USEFUL_WITH: dict[TokenScope, frozenset[Capability]] = {
    TokenScope.READ: frozenset({Capability.VIEW_RECORDS}),
    TokenScope.WRITE: frozenset({Capability.EDIT_RECORDS, Capability.CREATE_RECORDS, Capability.ASSIGN}),
    TokenScope.INGEST: frozenset({Capability.INGEST}),
}


def required(endpoint: str) -> TokenScope:
    """The scope `endpoint` needs; an endpoint without one is a mistake that must stop the API loading."""
    try:
        return ENDPOINT_SCOPES[endpoint]
    except KeyError:
        raise ImproperlyConfigured(f"The API endpoint {endpoint!r} declares no token scope (api/scopes.py).") from None


def usable_by(user: Viewer) -> list[TokenScope]:
    """The scopes `user`'s role can make use of, in the table's order; none: the user has no use for a token."""
    return [scope for scope in TokenScope if any(policy.has(user, capability) for capability in USEFUL_WITH[scope])]


def parse(value: str) -> frozenset[TokenScope]:
    """The scopes stored as `value` ("read write"); a word that is no scope is ignored, never taken for one."""
    known = set(TokenScope.values)
    return frozenset(TokenScope(word) for word in value.split() if word in known)


def stored(scopes: frozenset[TokenScope] | set[TokenScope]) -> str:
    """How a set of scopes is stored: their names in the table's order, separated by spaces."""
    return " ".join(scope.value for scope in TokenScope if scope in scopes)
