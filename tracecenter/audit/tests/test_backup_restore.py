"""The backup procedure of docs/backup.md, run: back up, restore into a fresh database, check it with its keys."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from conftest import database_url
from tracecenter.audit import backup
from tracecenter.audit.services import seal_all

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]


def manage(database: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database, "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def records(make_case, county, users):
    """Cases with contacts, lab results and an audit trail: what a backup must bring back."""
    from tracecenter.contacts.services import ExposureInput, exposure_add
    from tracecenter.people.services import PersonInput

    for n in range(3):
        case = make_case(county, first_name=f"Backup{n}", owner=users["case_investigator"])
        exposure_add(
            actor=users["case_investigator"],
            case=case,
            person=PersonInput(first_name="Contact", last_name=f"Number{n}x", phones=[f"617555012{n}"]),
            data=ExposureInput(last_exposure_date=case.specimen_collection_date),
        )
    seal_all()


@pytest.fixture
def restored(tmp_path: Path, records: None) -> Iterator[str]:
    """The database backed up as docs/backup.md says, and restored into a fresh one: its URL."""
    if connection.vendor == "sqlite":
        target = tmp_path / "restored.sqlite3"
        with sqlite3.connect(connection.settings_dict["NAME"]) as live, sqlite3.connect(target) as copy:
            live.backup(copy)  # the online backup API: a consistent copy while the site runs
        yield f"sqlite:///{target}"
        return
    dump = tmp_path / "tracecenter.dump"
    name = f"restore_{uuid.uuid4().hex[:8]}"
    settings = connection.settings_dict
    target = {
        "-h": settings.get("HOST") or "127.0.0.1",
        "-p": str(settings.get("PORT") or 5432),
        "-U": settings.get("USER") or "postgres",
    }
    options = [part for pair in target.items() for part in pair]
    subprocess.run(["pg_dump", *options, "-Fc", "-f", str(dump), settings["NAME"]], check=True, timeout=300)
    subprocess.run(["createdb", *options, name], check=True, timeout=60)
    subprocess.run(["pg_restore", *options, "--no-owner", "-d", name, str(dump)], check=True, timeout=300)
    yield f"postgres://{target['-U']}@{target['-h']}:{target['-p']}/{name}"
    subprocess.run(["dropdb", *options, "--if-exists", name], check=False, timeout=60)


def test_a_restored_backup_has_every_row_an_unbroken_audit_chain_and_opens_with_its_keys(restored: str, tmp_path: Path):
    manifest = tmp_path / "manifest.json"
    written = manage(database_url(), "backup_manifest")
    assert written.returncode == 0, written.stderr
    manifest.write_text(written.stdout)
    data = json.loads(written.stdout)
    assert data["counts"]["people_person"] >= 6 and data["audit_head"]["seq"] > 0
    assert "Backup" not in written.stdout  # a manifest holds counts and ids, no personal data

    result = manage(restored, "restore_check", str(manifest))
    assert result.returncode == 0, result.stderr
    assert "restore OK" in result.stdout and "encrypted values opened" in result.stdout


def test_a_restore_with_other_keys_or_missing_rows_is_refused_with_what_is_wrong(restored: str, tmp_path: Path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(backup.manifest()))

    other_key = base64.b64encode(os.urandom(32)).decode()
    lost_keys = manage(restored, "restore_check", str(manifest), FIELD_ENCRYPTION_KEYS=f"other:{other_key}")
    assert lost_keys.returncode != 0
    assert "does not open with these keys" in lost_keys.stderr

    with sqlite3.connect(restored.removeprefix("sqlite:///")) if restored.startswith("sqlite") else _pg(restored) as db:
        db.execute("DELETE FROM contacts_exposure WHERE id = (SELECT max(id) FROM contacts_exposure)")
        db.commit()
    short = manage(restored, "restore_check", str(manifest))
    assert short.returncode != 0 and "contacts_exposure" in short.stderr


def test_a_manifest_that_is_not_one_is_refused(tmp_path: Path, db):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="not a manifest"):
        call_command("restore_check", str(bad))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("restore_check", str(tmp_path / "missing.json"))


def _pg(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(url)
