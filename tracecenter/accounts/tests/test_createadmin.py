"""`manage.py createadmin`: the first administrator of an empty database, for people and for scripts."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry

GOOD = "a long and sturdy passphrase"


def createadmin(*args: str) -> str:
    out = io.StringIO()
    call_command("createadmin", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch):
    """As in CI or a provisioning script: no terminal to ask a password on."""
    monkeypatch.delenv("TRACECENTER_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def test_it_creates_the_state_and_its_administrator_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("TRACECENTER_ADMIN_PASSWORD", GOOD)
    out = createadmin("--username", "chief", "--jurisdiction-code", "ms", "--jurisdiction-name", "Example State")

    admin = User.objects.get(username="chief")
    state = Jurisdiction.objects.get(code="ms")
    assert (admin.role, admin.jurisdiction, state.parent, state.name) == (Role.ADMINISTRATOR, state, None, "Example State")
    assert admin.check_password(GOOD) and not admin.must_change_password and admin.is_active
    assert not admin.is_staff and not admin.is_superuser  # the Django admin site is not how TraceCenter is run
    assert "Created the administrator chief" in out
    entries = list(AuditEntry.objects.order_by("pk").values_list("action", "object_type", "detail", "jurisdiction_id"))
    assert entries == [("create", "jurisdiction", "createadmin", state.pk), ("create", "user", "createadmin", state.pk)]
    assert GOOD not in str(list(AuditEntry.objects.values()))


def test_it_reads_the_password_from_a_file_without_its_final_newline(db, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text(GOOD + "\n")
    createadmin("--username", "chief", "--jurisdiction-code", "ms", "--jurisdiction-name", "S", "--password-file", str(secret))
    assert User.objects.get(username="chief").check_password(GOOD)


def test_a_second_administrator_joins_an_existing_jurisdiction(db, monkeypatch, state):
    monkeypatch.setenv("TRACECENTER_ADMIN_PASSWORD", GOOD)
    createadmin("--username", "deputy", "--jurisdiction-code", state.code)
    assert User.objects.get(username="deputy").jurisdiction == state
    assert Jurisdiction.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--jurisdiction-code", "ms", "--jurisdiction-name", "S"], "", "No password"),
        (["--jurisdiction-code", "ms", "--jurisdiction-name", "S"], "short", "too short"),
        (["--jurisdiction-code", "ms", "--jurisdiction-name", "S"], "password1234", "too common"),
        (["--jurisdiction-code", "ms"], GOOD, "give its name"),
        (["--jurisdiction-code", "Not A Code", "--jurisdiction-name", "S"], GOOD, "--jurisdiction-code"),
        (["--jurisdiction-code", "ms", "--jurisdiction-name", "S", "--time-zone", "Nowhere/Town"], GOOD, "time zone"),
        (["--jurisdiction-code", "ms", "--jurisdiction-name", "S", "--password-file", "/nonexistent/pw"], "", "cannot read"),
    ],
)
def test_it_refuses_clearly_and_creates_nothing(db, monkeypatch, args, env, message):
    if env:
        monkeypatch.setenv("TRACECENTER_ADMIN_PASSWORD", env)
    with pytest.raises(CommandError, match=message):
        createadmin("--username", "chief", *args)
    assert not User.objects.exists() and not Jurisdiction.objects.exists() and not AuditEntry.objects.exists()


def test_it_refuses_a_user_name_that_exists(db, monkeypatch, state, make_user):
    make_user(Role.CONTACT_TRACER, state, username="chief")
    monkeypatch.setenv("TRACECENTER_ADMIN_PASSWORD", GOOD)
    with pytest.raises(CommandError, match="A user named Chief already exists"):
        createadmin("--username", "Chief", "--jurisdiction-code", state.code)
    assert User.objects.get(username="chief").role == Role.CONTACT_TRACER


def test_on_a_terminal_it_asks_twice_and_refuses_two_different_answers(db, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([GOOD, GOOD + "!"])
    monkeypatch.setattr("sys.stdin", Terminal(""))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="differ"):
        createadmin("--username", "chief", "--jurisdiction-code", "ms", "--jurisdiction-name", "S")

    answers = iter([GOOD, GOOD])
    createadmin("--username", "chief", "--jurisdiction-code", "ms", "--jurisdiction-name", "S")
    assert User.objects.get(username="chief").check_password(GOOD)
