"""The TraceCenter REST API: one NinjaAPI, served at /api/."""

from __future__ import annotations

from ninja import NinjaAPI

from tracecenter.api import errors, views
from tracecenter.api.auth import BearerTokenAuth, SessionAuth, signed_in_or_token
from tracecenter.api.docs import LocalSwagger

DESCRIPTION = """\
Persons, lab results, cases and contacts, with the same permissions and audit trail as the pages.

Authenticate with a personal token (`Authorization: Bearer <token>`, made by
`manage.py api_token_create`) or with the session of a signed-in user (unsafe
methods then need the `X-CSRFToken` header). This schema, too, needs one of them. Errors are JSON: `detail`, and
`field` when one input is at fault.
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
api.add_router("/persons", views.persons)
api.add_router("/lab-results", views.lab_results)
api.add_router("/cases", views.cases)
api.add_router("/contacts", views.contacts)
