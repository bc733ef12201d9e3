"""The TraceCenter REST API: one NinjaAPI, served at /api/."""

from __future__ import annotations

from ninja import NinjaAPI

from tracecenter.api import errors, intake, views
from tracecenter.api.auth import BearerTokenAuth, SessionAuth, each_operation, signed_in_or_token
from tracecenter.api.docs import LocalSwagger

DESCRIPTION = """\
Persons, lab results, cases and contacts, and lab intake, with the same permissions and audit trail as the pages.

Authenticate with a personal token (`Authorization: Bearer <token>`, made on the "API tokens" page or by
`manage.py api_token_create`) or with the session of a signed-in user (unsafe
methods then need the `X-CSRFToken` header). This schema, too, needs one of them. A token carries scopes
(`read`, `write`, `ingest`): each operation names the one it needs in `x-token-scope`, and a token without it
gets 403. A token makes a limited number of requests a minute; past it, 429 with `Retry-After` (seconds).
Errors are JSON: `detail`, and `field` when one input is at fault.
"""

api = NinjaAPI(
    title="TraceCenter API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="tc_api",
    openapi_url="/schema",
    docs=LocalSwagger(),
    docs_url="/docs",
    docs_decorator=signed_in_or_token,
    auth=[BearerTokenAuth(), SessionAuth()],
)
errors.install(api)
api.add_decorator(errors.limit_body_size, mode="view")
# Added after the body limit, so it wraps it: a refused body is counted on the token's use too.
api.add_decorator(each_operation, mode="view")
api.add_router("/persons", views.persons)
api.add_router("/lab-results", views.lab_results)
api.add_router("/cases", views.cases)
api.add_router("/contacts", views.contacts)
api.add_router("/intake", intake.router)
