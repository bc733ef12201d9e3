"""Every page, as each role with pages of its own sees it, checked with axe-core: no serious or critical violation.

On the demo data and the intake fixtures (lab files, a rejected message, identity reviews), so each page shows what
it shows in use: lists with rows, forms with their validation errors, the 403 and 404 pages. The visited pages are
checked against the site's URL names: a new page is either visited here or listed below with the reason it is not a
page (a POST action, a download, JSON).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django_otp.oath import TOTP

from conftest import run_background_work
from tests.browser.axe import axe_violations
from tests.browser.pages import sign_in
from tracecenter.accounts.models import Team, User
from tracecenter.cases.models import Case
from tracecenter.contacts.models import Exposure
from tracecenter.intake.models import InboundMessage, IntakeBatch
from tracecenter.routing.claims import route

DEMO_PASSWORD = "tracecenter-demo"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIXTURES = Path(__file__).resolve().parents[2] / "tracecenter" / "intake" / "tests" / "fixtures"

# URL names that are not pages a person reads: actions answering a POST with a redirect, JSON, files.
NOT_PAGES = {
    "accounts:logout",
    "accounts:security_key_challenge",
    "accounts:security_key_check",
    "accounts:security_key_options",
    "accounts:security_key_add",
    "accounts:security_key_remove",
    "accounts:sso_start",
    "accounts:sso_callback",  # the identity provider's pages (not configured in the demo)
    "workspace:bulk_assign",
    "workspace:agent_state",  # the routing desk's actions (the desk itself is on My work, checked with an offer)
    "workspace:next_task",
    "workspace:offer_accept",
    "workspace:offer_reject",
    "workspace:wrap_up",
    "workspace:line_list",
    "workspace:derived_dates",
    "workspace:case_status",
    "workspace:case_assign",
    "workspace:case_transfer",
    "workspace:contact_status",
    "workspace:contact_call",
    "workspace:contact_exposure",
    "workspace:contact_assign",
    "workspace:intake_batch_progress",
    "workspace:merge_undo",
    "workspace:break_glass_review",
    "workspace:retention_rule",
    "workspace:legal_hold_place",
    "workspace:legal_hold_lift",
    "workspace:system_retry",
    "workspace:admin_jurisdiction_delete",
    "workspace:admin_condition_test_add",
    "workspace:admin_condition_test_remove",
    "workspace:admin_rule_set_delete",
    "workspace:admin_user_deactivate",
    "workspace:admin_user_reactivate",
    "workspace:admin_user_password_reset",
    "workspace:admin_user_second_factors_reset",
    "workspace:admin_routing_surge",
    "tokens:revoke_mine",
    "tokens:revoke",
    # Pages only a first sign-in or a new token reaches; their templates are checked through the same base
    # and components by test_mfa_sign_in (the set-up page) and below (the recovery codes).
    "accounts:second_factor_setup",
    "accounts:password_change",
}


def _page_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, f"{namespace}{p.namespace}:" if p.namespace else namespace)
            elif isinstance(p, URLPattern) and p.name and namespace in ("workspace:", "accounts:", "tokens:"):
                names.add(namespace + p.name)

    walk(get_resolver().url_patterns, "")
    return names


class Checker:
    def __init__(self, page, server) -> None:
        self.page, self.server = page, server
        self.problems: list[str] = []
        self.visited: set[str] = set()
        page.on("console", lambda m: self._console(m))

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(f"{self.page.url}: {message.text}")

    def check(self, label: str) -> None:
        self.page.wait_for_load_state("load")
        match = resolve(urlsplit(self.page.url).path)
        if match.view_name:
            self.visited.add(match.view_name)
        self.problems.extend(axe_violations(self.page, f"{label} ({urlsplit(self.page.url).path})"))

    def visit(self, path: str, label: str = "") -> None:
        self.page.goto(self.server.url + path)
        self.check(label or path)


def test_every_page_has_no_serious_accessibility_violation(browser, live_server):
    call_command("demo_data", "--cases", "8", verbosity=0)
    call_command("ingest", str(FIXTURES), verbosity=0, stdout=io.StringIO())
    run_background_work()
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    c = Checker(page, live_server)

    # Signed out: the sign-in page, its error, the second step and its error, a page that is not there.
    c.visit("/accounts/login/", "sign-in")
    page.get_by_label("User name").fill("epidemiologist")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    c.check("sign-in with an error")
    page.get_by_label("User name").fill("epidemiologist")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/second-factor/**")
    c.check("second step")
    page.get_by_label("Code from your app, or a recovery code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    c.check("second step with an error")
    context.clear_cookies()

    # A case investigator: their work, a case, its interview (with errors), a contact, the person pages, reporting.
    worker = User.objects.get(username="investigator")
    sign_in(page, live_server, "investigator", DEMO_PASSWORD)
    c.check("my work (investigator)")
    case = Case.objects.filter(owner=worker, exposures__isnull=False).order_by("pk").first()
    exposure = Exposure.objects.filter(case=case).order_by("pk").first()
    c.visit(f"/cases/{case.pk}/", "case")
    c.visit(f"/cases/{case.pk}/interview/", "interview")
    page.get_by_role("button", name="Add a contact").click()
    page.locator("[name='contacts-0-last_exposure_date']").fill("2999-01-01")
    page.get_by_role("button", name="Save the interview").click()
    page.locator("#error-summary").wait_for()
    c.check("interview with errors")
    c.visit(f"/contacts/{exposure.pk}/", "contact")
    c.visit("/persons/", "find a person")
    page.get_by_label("Last name", exact=True).fill(case.person.last_name)
    page.get_by_role("button", name="Search").click()
    page.locator("#person-results").wait_for()
    c.check("find a person, with results")
    c.visit(f"/persons/{case.person.pk}/", "person")
    c.visit(f"/persons/{case.person.pk}/edit/", "person, edit")
    c.visit("/cases/report/", "report a case")
    page.get_by_role("button", name="Open the case").click()
    c.check("report a case, with errors")
    c.visit(f"/cases/{case.pk}/contacts/new/", "add a contact")
    c.visit("/accounts/security/", "sign-in security")
    page.get_by_role("button", name="Make new recovery codes (the old ones stop working)").click()
    c.check("recovery codes")
    c.visit("/account/api-tokens/", "API tokens")
    c.visit("/cases/999999999/", "404")
    c.visit("/audit/", "403")
    # The routing desk with an offer on it, then the case it opens with the attempt's form (routed here, by
    # the same pass the worker runs).
    c.visit("/", "my work (investigator, desk)")
    page.get_by_label("My state").select_option("available")
    page.get_by_role("button", name="Change my state").click()
    page.get_by_text("You are now: Available.").wait_for()
    route()
    c.visit("/", "my work, an offer on the desk")
    page.locator(".desk-offer").first.get_by_role("button", name="Accept").click()
    page.locator("#attempt").wait_for()
    c.check("a case with the attempt's form")
    context.clear_cookies()
    sign_in(page, live_server, "tracer", DEMO_PASSWORD)
    c.check("my work (tracer)")
    context.clear_cookies()

    # The county supervisor: the team's work filtered (and a filter that does not hold), lab intake, break-glass.
    sign_in(page, live_server, "supervisor", DEMO_PASSWORD)
    c.check("my work (supervisor)")
    c.visit("/?status=nonsense", "my work, a filter with an error")
    c.visit("/break-glass/", "open another record")
    c.visit("/routing/board/", "routing board")
    page.locator("#id_priority-item").fill("999999999")
    page.locator("#id_priority-priority").fill("50")
    page.locator("#id_priority-reason").fill("Surge")
    page.get_by_role("button", name="Change the priority").click()
    page.locator("#id_priority-item_error").wait_for()
    c.check("routing board, an action with an error")
    context.clear_cookies()

    # The state's supervisor: where the lab feeds arrive, and the identity reviews.
    sign_in(page, live_server, "supervisor.state", DEMO_PASSWORD)
    c.visit("/intake/", "lab intake")
    batch = IntakeBatch.objects.order_by("pk").first()
    c.visit(f"/intake/batches/{batch.pk}/", "intake batch")
    message = (
        InboundMessage.objects.filter(state="rejected").order_by("pk").first() or InboundMessage.objects.order_by("pk").first()
    )
    c.visit(f"/intake/messages/{message.pk}/", "intake message")
    c.visit("/administration/routing/", "routing, with the surge switch")
    page.get_by_role("button", name="Save surge mode").click()
    c.check("routing, surge mode with errors")
    c.visit("/identity/reviews/", "identity reviews")
    review = page.locator("main table a").first
    if review.count():
        review.click()
        c.check("identity review")
    context.clear_cookies()

    # The administrator: every administration page, a form with errors, the System page, tokens.
    sign_in(page, live_server, "admin", DEMO_PASSWORD)
    admin = User.objects.get(username="admin")
    county = admin.jurisdiction
    team = Team.objects.filter(jurisdiction=county).order_by("pk").first()
    c.visit("/administration/", "jurisdictions")
    c.visit(f"/administration/jurisdictions/{county.pk}/", "jurisdiction")
    c.visit(f"/administration/jurisdictions/{county.pk}/new/", "new jurisdiction")
    c.visit(f"/administration/jurisdictions/{county.pk}/teams/new/", "new team")
    c.visit(f"/administration/jurisdictions/{county.pk}/rules/", "rule versions")
    page.get_by_role("button", name="Add the version").click()
    c.check("rule versions, a new version with errors")
    page.get_by_label("In force from").fill("2999-01-01")
    page.get_by_label("Isolation days").fill("5")
    page.get_by_label("Quarantine days").fill("10")
    page.get_by_role("button", name="Add the version").click()
    page.locator("main a[href*='/administration/rules/']").first.click()
    c.check("rule version")
    c.visit(f"/administration/jurisdictions/{county.pk}/conditions/", "conditions")
    if team:
        c.visit(f"/administration/teams/{team.pk}/", "team")
    c.visit("/administration/skills/", "skills")
    c.visit("/administration/routing/", "routing")
    page.locator("main a[href*='/queue/']").first.click()
    c.check("a queue")
    page.get_by_role("button", name="Preview").click()
    c.check("a queue, its preview")
    c.visit("/administration/users/", "users")
    c.visit("/administration/users/new/", "new user")
    page.get_by_role("button", name="Create the user").click()
    c.check("new user, with errors")
    page.get_by_label("User name").fill("newcomer")
    page.get_by_label("First name").fill("Nora")
    page.get_by_label("Last name").fill("Newcomer")
    page.get_by_label("Role").select_option(label="Contact tracer")
    page.get_by_label("Jurisdiction").select_option(label=county.name)
    page.get_by_role("button", name="Create the user").click()
    page.get_by_role("heading", name="Nora Newcomer was created").wait_for()
    c.check("new user, the temporary password")
    temporary = page.locator("#temporary-password").inner_text()
    c.visit(f"/administration/users/{User.objects.get(username='tracer').pk}/", "user")
    c.visit("/administration/api-tokens/", "administered tokens")
    c.visit("/administration/system/", "system")
    context.clear_cookies()

    # The auditor: the trail, who saw a person, what a user saw, the access review.
    sign_in(page, live_server, "auditor", DEMO_PASSWORD)
    c.visit("/audit/", "audit trail")
    c.visit(f"/audit/person/?person={case.person.pk}", "who saw a person")
    c.visit("/audit/user/?username=tracer", "what a user saw")
    c.visit("/privacy/access/", "access review")
    context.clear_cookies()

    # The privacy officer: opened records and retention.
    sign_in(page, live_server, "privacy", DEMO_PASSWORD)
    c.visit("/privacy/break-glass/", "opened records")
    c.visit("/privacy/retention/", "retention")
    context.clear_cookies()

    # A first sign-in: setting up the authenticator app, the recovery codes, choosing a password (with an error).
    c.visit("/accounts/login/", "sign-in")
    page.get_by_label("User name").fill("newcomer")
    page.get_by_label("Password").fill(temporary)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/accounts/second-factor/setup/**")
    c.check("authenticator set-up")
    page.get_by_label("Type the 6-digit code the app shows").fill("000000")
    page.get_by_role("button", name="Turn on").click()
    c.check("authenticator set-up, with an error")
    secret = page.locator("[data-totp-secret]").get_attribute("data-totp-secret")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Type the 6-digit code the app shows").fill(f"{TOTP(key).token():06d}")
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    c.check("recovery codes, first sign-in")
    page.get_by_role("link", name="I have kept them: continue").click()
    page.wait_for_url(f"{live_server.url}/accounts/password/")
    c.check("choose a password")
    page.get_by_label("Old password").fill(temporary)
    page.get_by_label("New password", exact=True).fill("a long passphrase of my own")
    page.get_by_label("New password confirmation").fill("another passphrase entirely")
    page.get_by_role("button", name="Change the password").click()
    c.check("choose a password, with errors")
    context.close()

    missing = _page_names() - c.visited - NOT_PAGES
    assert not missing, (
        f"pages the accessibility check does not visit (visit them, or say why they are not pages): {sorted(missing)}"
    )
    assert not c.problems, "accessibility violations:\n" + "\n".join(c.problems)


def test_the_checker_finds_a_violation(page):
    """The check is not vacuous: a button without a name is reported, with its rule, target and help."""
    page.set_content("<html lang='en'><head><title>t</title></head><body><main><button id='nameless'></button></main></body>")
    found = axe_violations(page, "nameless button")
    assert any("button-name" in line and "#nameless" in line for line in found), found
