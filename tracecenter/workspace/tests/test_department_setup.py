"""The acceptance test of administration: a health department sets itself up from an empty database.

`createadmin` makes the first administrator; from then on everything goes through the pages, as a
browser would drive them: links followed from the pages, CSRF tokens read from the forms and checked.
"""

from __future__ import annotations

import base64
import html as htmllib
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import totp_code
from tracecenter.accounts.models import Jurisdiction, Team, User
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import RuleSet

ADMIN_PASSWORD = "the chief's own long passphrase"
TRACER_PASSWORD = "my very own tracer passphrase"


class Browser:
    """The Django test client with CSRF checks on, following links and filling forms by what the page shows."""

    def __init__(self) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.html = ""
        self.url = ""

    def get(self, url: str, expect: int = 200) -> str:
        response = self.client.get(url)
        assert response.status_code == expect, (url, response.status_code)
        self.url, self.html = url, response.content.decode()
        return self.html

    def follow(self, text: str) -> str:
        """Open the link whose text is `text` on the current page."""
        # A link of the main navigation holds its text in a <span> (USWDS's header).
        text_re = re.escape(htmllib.escape(text))
        found = re.search(rf'<a[^>]*href="([^"]+)"[^>]*>\s*(?:<span>)?{text_re}(?:</span>)?\s*</a>', self.html)
        assert found, f"no link {text!r} on {self.url}"
        return self.get(htmllib.unescape(found.group(1)))

    def option(self, name: str, label: str) -> str:
        """The value of the option labelled `label` in the select `name` of the current page."""
        select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', self.html, re.S)
        assert select, f"no select {name!r} on {self.url}"
        found = re.search(rf'<option value="([^"]*)"[^>]*>{re.escape(htmllib.escape(label))}</option>', select.group(1))
        assert found, f"no option {label!r} in {name!r}"
        return found.group(1)

    def submit(self, data: dict[str, str], *, action: str | None = None, expect: int = 302) -> str:
        """POST `data` with the CSRF token of the current page's form; returns where it redirected (or the page)."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.html)
        assert token, f"no CSRF token on {self.url}"
        url = action or self.url
        response = self.client.post(url, {"csrfmiddlewaretoken": token.group(1), **data})
        assert response.status_code == expect, (url, response.status_code, response.content.decode()[:3000])
        if expect == 302:
            return response["Location"]
        self.html = response.content.decode()
        return self.html

    def sign_in(self, username: str, password: str) -> str:
        """The password, then the second step: a code from the app, or, the first time, setting the app up
        from the key the page shows (as a phone would read it) and seeing the recovery codes."""
        self.get("/accounts/login/")
        second_step = self.submit({"username": username, "password": password})
        assert second_step.startswith("/accounts/second-factor/"), second_step
        user = User.objects.get(username=username)
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            self.get(second_step)
            return self.submit({"code": totp_code(user)})
        self.get(self.client.get(second_step)["Location"])
        secret = re.search(r'data-totp-secret="([A-Z2-7]+)"', self.html)
        assert secret, "the set-up page shows no key"
        key = base64.b32decode(secret.group(1) + "=" * (-len(secret.group(1)) % 8))
        html = self.submit({"code": f"{TOTP(key).token():06d}"}, expect=200)
        assert (
            "Your recovery codes" in html
            and len(re.findall(r"<li><code>[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}</code></li>", html)) == 10
        )
        return re.search(r'<a class="usa-button" href="([^"]+)"', html).group(1)  # type: ignore[union-attr]

    def sign_out(self) -> None:
        self.submit({}, action="/accounts/logout/")


def temporary_password(html: str) -> str:
    found = re.search(r'<code id="temporary-password">([^<]+)</code>', html)
    assert found, "the temporary password is not shown"
    return htmllib.unescape(found.group(1))


def add_tracer(browser: Browser, username: str, first: str, last: str, languages: list[tuple[str, str]]) -> str:
    browser.follow("Users")
    browser.follow("Add a user")
    data = {
        "username": username,
        "first_name": first,
        "last_name": last,
        "email": f"{username}@north.example.org",
        "role": browser.option("role", "Contact tracer"),
        "jurisdiction": browser.option("jurisdiction", "North County"),
        "team": browser.option("team", "Night shift (North County)"),
        "languages-TOTAL_FORMS": str(len(languages)),
        "languages-INITIAL_FORMS": "0",
        "languages-MIN_NUM_FORMS": "0",
        "languages-MAX_NUM_FORMS": "20",
    }
    for i, (language, proficiency) in enumerate(languages):
        data[f"languages-{i}-language"] = browser.option("languages-0-language", language)
        data[f"languages-{i}-proficiency"] = browser.option("languages-0-proficiency", proficiency)
    page = browser.submit(data, expect=200)
    assert f"{first} {last} was created" in page
    return temporary_password(page)


@pytest.mark.django_db
def test_a_department_sets_itself_up_from_an_empty_database_through_the_pages(monkeypatch):
    assert not (Jurisdiction.objects.exists() or User.objects.exists() or RuleSet.objects.exists())

    # 1. The first administrator, from the command line.
    monkeypatch.setenv("TRACECENTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    call_command("createadmin", "--username", "chief", "--jurisdiction-code", "xs", "--jurisdiction-name", "Example State")

    # 2. Everything else through the pages.
    admin = Browser()
    assert admin.sign_in("chief", ADMIN_PASSWORD) == "/"
    admin.get("/")
    admin.follow("Administration")
    admin.follow("Add a jurisdiction below Example State")
    admin.submit({"name": "North County", "code": "xs-north", "time_zone": admin.option("time_zone", "America/Chicago")})

    admin.get("/administration/")
    assert "North County" in admin.html
    admin.follow("Add a team to North County")
    admin.submit({"name": "Night shift"})

    admin.get("/administration/")
    spanish = add_tracer(admin, "lucia", "Lucía", "Herrera", [("Spanish", "Native"), ("English", "Fluent")])
    english = add_tracer(admin, "kevin", "Kevin", "Tran", [("English", "Native")])
    assert spanish != english

    admin.get("/administration/")
    admin.follow("Rule versions of North County")
    admin.submit(
        {
            "effective_from": "2022-01-01",
            "days_before_onset": "2",
            "days_before_specimen": "2",
            "isolation_days": "5",
            "quarantine_days": "10",
            "note": "CDC guidance of December 2021",
        }
    )
    admin.get(admin.url)
    assert "In force today" in admin.html
    admin.sign_out()

    # 3. A tracer signs in with the temporary password, must change it, and reaches My work.
    tracer = Browser()
    assert tracer.sign_in("lucia", spanish) == "/"
    assert tracer.client.get("/").headers["Location"] == "/accounts/password/"
    tracer.get("/accounts/password/")
    assert "Change your password" in tracer.html
    landing = tracer.submit({"old_password": spanish, "new_password1": TRACER_PASSWORD, "new_password2": TRACER_PASSWORD})
    assert landing == "/"
    assert "<h1>My work</h1>" in tracer.get("/")

    # What the pages made.
    county = Jurisdiction.objects.get(code="xs-north")
    assert (county.parent.code, county.time_zone) == ("xs", "America/Chicago")
    team = Team.objects.get(jurisdiction=county, name="Night shift")
    lucia = User.objects.get(username="lucia")
    assert (lucia.role, lucia.jurisdiction, lucia.team, lucia.must_change_password) == (Role.CONTACT_TRACER, county, team, False)
    assert dict(lucia.spoken_languages.values_list("language", "proficiency")) == {"es": "native", "en": "fluent"}
    assert lucia.check_password(TRACER_PASSWORD)
    assert dict(User.objects.get(username="kevin").spoken_languages.values_list("language", "proficiency")) == {"en": "native"}
    assert RuleSet.objects.get(jurisdiction=county).isolation_days == 5
    trail = str(list(AuditEntry.objects.values()))
    for secret in (ADMIN_PASSWORD, TRACER_PASSWORD, spanish, english):
        assert secret not in trail
    written = set(AuditEntry.objects.filter(action__in=["create", "update"]).values_list("object_type", flat=True))
    assert written == {"jurisdiction", "team", "user", "rule_set"}
