"""Lab intake and identity review pages through the test client: upload, report, fixes, reviews, navigation.

Who may open which page is the access matrix's job (test_access_matrix.py); here each
page is driven the way a supervisor uses it, with the refusals that matter most repeated
on real data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from conftest import run_background_work
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.core import clock
from tracecenter.intake.models import InboundMessage, IntakeBatch, IntakeUpload, LabResult
from tracecenter.intake.pipeline import Intake
from tracecenter.intake.services import LabResultInput, lab_result_record
from tracecenter.intake.synthetic import SyntheticReport, oru_r01
from tracecenter.people.identity import match_review_open
from tracecenter.people.models import MatchReview, Person, PersonMerge

CSV_FIXTURE = Path(__file__).resolve().parents[2] / "intake" / "tests" / "fixtures" / "csv" / "test-results-upload-valid.csv"


def lab_report(n: int = 1, **overrides: Any) -> SyntheticReport:
    values: dict[str, Any] = {
        "control_id": f"PAGE{n:05d}",
        "first_name": "William",
        "last_name": "Okafor",
        "date_of_birth": dt.date(1979, 4, 2),
        "collected": clock.today() - dt.timedelta(days=3),
        "accession": f"PAGEACC{n:05d}",
        "phone": "6175550134",
        **overrides,
    }
    return SyntheticReport(**values)


BOUNDARY = "TraceCenterUploadBoundary7MA4YWxkTrZu0gW"


def upload(client: Client, name: str, data: bytes) -> Any:
    """POST a file as a browser (or an attacker) would. The multipart body is written by hand because
    the test client's own encoder already strips directories from the file name, and the server's
    handling of such a name is part of what is tested."""
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    assert BOUNDARY.encode() not in data
    return client.post(reverse("workspace:intake_upload"), data=body, content_type=f"multipart/form-data; boundary={BOUNDARY}")


def uploaded_batch(response: Any) -> IntakeBatch:
    """The batch the upload redirected to (asserting it did redirect there)."""
    assert response.status_code == 302, response.content.decode()[:2000]
    batch = IntakeBatch.objects.latest("pk")
    assert response["Location"] == reverse("workspace:intake_batch", args=[batch.pk])
    return batch


def progress_of(client: Client, batch: IntakeBatch) -> dict[str, Any]:
    """The progress endpoint, as the batch page's script polls it."""
    response = client.get(reverse("workspace:intake_batch_progress", args=[batch.pk]))
    assert response.status_code == 200
    progress: dict[str, Any] = response.json()
    assert set(progress) == {"status", "done", "total", "finished"}
    return progress


def ingested_by_a_worker(client: Client, batch: IntakeBatch) -> dict[str, Any]:
    """Nothing is ingested inside the request; a worker does it (here, in this process): the progress after."""
    assert progress_of(client, batch) == {"status": "running", "done": 0, "total": 0, "finished": False}
    assert not InboundMessage.objects.filter(batch=batch).exists()
    for _attempt in range(10):
        run_background_work()
        progress = progress_of(client, batch)
        if progress["finished"]:
            return progress
        # A failed attempt waits for its retry: its time has come.
        DBTaskResult.objects.filter(status="READY").update(run_after=clock.now())
    raise AssertionError(f"batch {batch.pk} never finished: {progress}")


# ---------------------------------------------------------------------------------------------
# Uploads. The request stores the file and queues its ingestion; the worker's code runs here.


def test_a_supervisor_uploads_hl7_and_csv_and_reads_the_reports(client: Client, users: dict[str, User]) -> None:
    supervisor = users[Role.SUPERVISOR]
    client.force_login(supervisor)
    nameless = lab_report(2, first_name="", last_name="", accession="PAGEACC00002")
    hl7 = (oru_r01(lab_report(1)) + oru_r01(nameless)).encode()

    response = upload(client, "elr-feed.hl7", hl7)
    batch = uploaded_batch(response)
    progress = ingested_by_a_worker(client, batch)
    assert progress == {"status": "done", "done": 2, "total": 2, "finished": True}

    page = client.get(reverse("workspace:intake_batch", args=[batch.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="intake-progress"' not in html  # finished: no progress bar, the report instead
    report = page.context["report"]
    assert (report["messages"], report["accepted"], report["rejected"]) == (2, 1, 1)
    assert report["results"]["positive"] == 1
    assert "<dt>Cases from these results</dt><dd>1</dd>" in html
    assert "<dt>Accepted</dt><dd>1</dd>" in html and "<dt>Rejected</dt><dd>1</dd>" in html
    [rejection] = report["rejections"]
    assert rejection["location"] == "PID-5" and rejection["message"] == 2
    assert "<td>PID-5</td>" in html
    assert "elr-feed.hl7" in html and IntakeBatch.objects.get(pk=batch.pk).format == "hl7v2"
    # The rejected message is kept, and listed on the intake page for someone to fix.
    rejected = InboundMessage.objects.get(batch=batch, state="rejected")
    intake_page = client.get(reverse("workspace:intake_upload")).content.decode()
    assert reverse("workspace:intake_message", args=[rejected.pk]) in intake_page
    assert list(LabResult.objects.values_list("source", "result")) == [("hl7v2", "positive")]

    csv_batch = uploaded_batch(upload(client, "simplereport.csv", CSV_FIXTURE.read_bytes()))
    assert ingested_by_a_worker(client, csv_batch)["status"] == "done"
    csv_page = client.get(reverse("workspace:intake_batch", args=[csv_batch.pk]))
    csv_report = csv_page.context["report"]
    assert (csv_report["messages"], csv_report["accepted"], csv_report["rejected"]) == (1, 1, 0)
    assert csv_report["results"]["positive"] == 1
    assert IntakeBatch.objects.get(pk=csv_batch.pk).format == "csv"
    assert LabResult.objects.filter(source="csv").count() == 1

    # What the worker stored is audited as the supervisor's, from the address the upload came from.
    stored = AuditEntry.objects.filter(object_type="lab_result", action="create")
    assert stored.exists()
    assert set(stored.values_list("actor_username", "ip_address", "channel")) == {(supervisor.username, "127.0.0.1", "worker")}
    # The upload, and every read of a report, is in the audit trail under the supervisor's name.
    for pk in (batch.pk, csv_batch.pk):
        entries = AuditEntry.objects.filter(object_type="intake_batch", object_id=str(pk), actor_username=supervisor.username)
        assert set(entries.values_list("action", flat=True)) == {"create", "read"}


def test_an_upload_that_crashes_ends_the_progress_and_says_so(
    client: Client, users: dict[str, User], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Intake, "ingest_bytes", crash)
    client.force_login(users[Role.SUPERVISOR])
    batch = uploaded_batch(upload(client, "elr-feed.hl7", oru_r01(lab_report()).encode()))
    # Tried again and again; once the retries are spent the batch says so (the page's script would otherwise
    # poll for ever under a bar that never moves). The file stays stored for a later try.
    assert ingested_by_a_worker(client, batch) == {"status": "failed", "done": 0, "total": 0, "finished": True}
    assert DBTaskResult.objects.get().status == "FAILED" and len(DBTaskResult.objects.get().worker_ids) == 4
    assert IntakeUpload.objects.get(batch=batch).data is not None
    assert "upload" in caplog.text and "RuntimeError" in caplog.text
    assert "disk full" not in caplog.text  # an exception's message may quote personal data: not logged
    html = client.get(reverse("workspace:intake_batch", args=[batch.pk])).content.decode()
    assert 'id="intake-progress"' not in html
    assert "Ingesting this file stopped on an error. Upload it again" in html


def test_the_progress_of_a_running_batch_is_counts_only(client: Client, users: dict[str, User], county: Jurisdiction) -> None:
    client.force_login(users[Role.EPIDEMIOLOGIST])
    batch = IntakeBatch.objects.create(
        source=IntakeBatch.Source.UPLOAD, filename="big.hl7", jurisdiction=county, units_total=1500, units_done=500
    )
    response = client.get(reverse("workspace:intake_batch_progress", args=[batch.pk]))
    assert response.json() == {"status": "running", "done": 500, "total": 1500, "finished": False}
    page = client.get(reverse("workspace:intake_batch", args=[batch.pk])).content.decode()
    assert '<progress id="intake-bar" max="1500" value="500">' in page
    assert reverse("workspace:intake_batch_progress", args=[batch.pk]) in page


# ---------------------------------------------------------------------------------------------
# Upload validation: refused before anything is stored.


def test_an_empty_file_is_refused_on_the_field(client: Client, users: dict[str, User]) -> None:
    client.force_login(users[Role.SUPERVISOR])
    response = upload(client, "empty.hl7", b"")
    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert 'class="usa-error-message field-error"' in response.content.decode()
    assert not IntakeBatch.objects.exists() and not InboundMessage.objects.exists()


def test_a_file_over_the_limit_is_refused_on_the_field(client: Client, users: dict[str, User], settings: Any) -> None:
    settings.INTAKE_MAX_FILE_BYTES = 1024
    client.force_login(users[Role.SUPERVISOR])
    response = upload(client, "big.hl7", oru_r01(lab_report()).encode() * 2)
    assert response.status_code == 200
    [error] = response.context["form"].errors["file"]
    assert "larger than" in error and "1.0\xa0KB" in error
    assert not IntakeBatch.objects.exists() and not InboundMessage.objects.exists()


def post_from_disk(client: Client, path: Path, *, csrf: bool = True) -> Any:
    """POST a multipart body read from a file, the way a server hands a request body over: unlike the test
    client's own requests, the body is not a bytes object in memory, so what the view holds is what it read.
    CSRF is checked, as for a browser (which sends the token it was given)."""
    from django.test.client import ClientHandler

    token = "T" * 32
    cookies = {name: morsel.value for name, morsel in client.cookies.items()} | ({"csrftoken": token} if csrf else {})
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": reverse("workspace:intake_upload"),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "HTTP_COOKIE": "; ".join(f"{name}={value}" for name, value in cookies.items()),
        "HTTP_X_CSRFTOKEN": token,
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "CONTENT_LENGTH": str(path.stat().st_size),
        "wsgi.errors": None,
    }
    with path.open("rb") as body:
        environ["wsgi.input"] = body
        return ClientHandler()(environ)


def multipart_file(path: Path, name: str, chunks: list[bytes]) -> Path:
    with path.open("wb") as body:
        body.write(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
        )
        for chunk in chunks:
            body.write(chunk)
        body.write(f"\r\n--{BOUNDARY}--\r\n".encode())
    return path


def test_a_file_over_its_formats_limit_is_refused_as_it_arrives_without_being_held(
    client: Client, users: dict[str, User], settings: Any, tmp_path: Path
) -> None:
    import tracemalloc

    settings.INTAKE_MAX_CSV_BYTES = 1024 * 1024
    client.force_login(users[Role.SUPERVISOR])
    size = 8 * 1024 * 1024
    body = multipart_file(tmp_path / "body", "one-line.csv", [b"patient_last_name," * (size // 18)])
    client.get(reverse("workspace:intake_upload"))  # what a first request loads (URLs, templates) is not the upload's
    tracemalloc.start()
    try:
        response = post_from_disk(client, body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    assert 'class="usa-error-message field-error"' in response.content.decode()
    assert "The file is larger than 1.0\xa0MB, the limit for CSV files." in response.content.decode()
    # Told from its first bytes to be a CSV, refused past 1 MB: the other 7 MB were read and dropped as they came.
    assert peak < size / 4, f"peak {peak / size:.2f} times the file"
    assert not IntakeBatch.objects.exists() and not IntakeUpload.objects.exists()


def test_an_upload_without_its_csrf_token_is_refused(client: Client, users: dict[str, User], tmp_path: Path) -> None:
    # The view reads the body with its own handler, so the CSRF check runs inside it: it must still run.
    client.force_login(users[Role.SUPERVISOR])
    body = multipart_file(tmp_path / "body", "feed.hl7", [oru_r01(lab_report()).encode()])
    assert post_from_disk(client, body, csrf=False).status_code == 403
    assert post_from_disk(client, body).status_code == 302
    assert IntakeBatch.objects.count() == 1


def test_an_accepted_upload_is_encrypted_as_it_arrives_and_nothing_is_left_on_disk(
    client: Client, users: dict[str, User], settings: Any, tmp_path: Path
) -> None:
    import tracemalloc

    uploads_dir = tmp_path / "uploads"
    uploads_dir.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads_dir)
    client.force_login(users[Role.SUPERVISOR])
    header, row = CSV_FIXTURE.read_text(encoding="utf-8").strip().split("\n")
    rows = [f"{header}\n".encode(), *(f"{row}\n".encode() for _ in range(4000))]
    data = b"".join(rows)
    body = multipart_file(tmp_path / "body", "results.csv", rows)
    client.get(reverse("workspace:intake_upload"))  # what a first request loads (URLs, templates) is not the upload's
    tracemalloc.start()
    try:
        response = post_from_disk(client, body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    batch = uploaded_batch(response)
    upload = IntakeUpload.objects.get(batch=batch)
    assert upload.size == len(data) and upload.data == data
    # The ciphertext, read back once to be stored (and on PostgreSQL the driver's copy of that parameter);
    # never the clear file whole beside it. Before: the file, its ciphertext, and on PostgreSQL 4.5 times more.
    assert peak < 2.5 * len(data), f"peak {peak / len(data):.2f} times the file"
    assert list(uploads_dir.iterdir()) == []


def test_a_post_without_a_file_asks_for_one(client: Client, users: dict[str, User]) -> None:
    client.force_login(users[Role.SUPERVISOR])
    response = client.post(reverse("workspace:intake_upload"), {})
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["This field is required."]
    assert "This field is required." in response.content.decode()
    assert not IntakeBatch.objects.exists()


# ---------------------------------------------------------------------------------------------
# Hostile uploads: kept and reported like any unreadable file, never executed, never written to disk by name.

XSS = "<img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.mark.parametrize(
    ("name", "data", "stored_name"),
    [
        pytest.param("garbage.bin", bytes(range(256)) * 64, "garbage.bin", id="binary"),
        pytest.param("one-line.txt", b"A" * (2 * 1024 * 1024), "one-line.txt", id="2MB-line"),
        pytest.param(f"../../etc/passwd{XSS}.hl7", oru_r01(lab_report()).encode(), f"passwd{XSS}.hl7", id="path-html-name"),
        pytest.param(f"..\\..\\Windows\\{XSS}.hl7", oru_r01(lab_report()).encode(), f"{XSS}.hl7", id="windows-path"),
    ],
)
def test_a_hostile_upload_is_kept_and_reported_without_harm(
    client: Client, users: dict[str, User], settings: Any, tmp_path: Path, name: str, data: bytes, stored_name: str
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # Every upload goes through a temporary file here, to show none is left behind or named after the upload.
    uploads_dir = tmp_path / "uploads"
    uploads_dir.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads_dir)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    client.force_login(users[Role.SUPERVISOR])

    batch = uploaded_batch(upload(client, name, data))
    progress = ingested_by_a_worker(client, batch)
    batch.refresh_from_db()
    # Only the last part of the name is kept, whichever separator the sender used.
    assert batch.filename == stored_name

    page = client.get(reverse("workspace:intake_batch", args=[batch.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    report = page.context["report"]
    # Whatever the file held, every unit of it is stored raw: nothing is silently dropped.
    assert report["messages"] >= 1
    assert InboundMessage.objects.filter(batch=batch).count() == report["messages"]
    if name.endswith(".hl7"):
        assert progress["status"] == "done" and report["accepted"] == 1
    else:
        assert progress["status"] == "failed" and report["rejected"] == 1 and report["file_errors"]
        assert InboundMessage.objects.get(batch=batch).state == "rejected"
    # The name is shown, escaped, on the report and in the list of deliveries; never as markup.
    listing = client.get(reverse("workspace:intake_upload")).content.decode()
    for text in (html, listing):
        assert XSS not in text
        assert stored_name.replace(XSS, XSS_ESCAPED) in text
    # Uploads are read and stored in the database: nothing is saved under the sent name, inside or outside.
    assert list(uploads_dir.iterdir()) == []
    assert not (tmp_path / "media").exists()
    assert not (uploads_dir / ".." / ".." / "etc").exists() and not (tmp_path / "Windows").exists()


# ---------------------------------------------------------------------------------------------
# A rejected message: problems, the fix, refusals.


def ingest_rejected(county: Jurisdiction, data: bytes, filename: str) -> InboundMessage:
    run = Intake(root=county)
    run.ingest_bytes(data, filename=filename)
    run.finish()
    return InboundMessage.objects.get(state="rejected")


@pytest.fixture
def rejected_message(county: Jurisdiction) -> InboundMessage:
    return ingest_rejected(county, oru_r01(lab_report(first_name="", last_name="")).encode(), "feed.hl7")


@pytest.fixture
def rejected_csv_row(county: Jurisdiction) -> InboundMessage:
    header, row = CSV_FIXTURE.read_text(encoding="utf-8").strip().split("\n")
    nameless = row.replace("1234,Doe,Jane,", "1234,,,", 1)
    assert nameless != row
    return ingest_rejected(county, f"{header}\n{nameless}\n".encode(), "results.csv")


def test_a_large_rejected_message_is_shown_a_part_at_a_time_and_not_offered_for_correction(
    client: Client, users: dict[str, User], county: Jurisdiction
) -> None:
    from tracecenter.workspace.views.intake import RAW_PART_CHARS

    message = ingest_rejected(county, b"\x00garbage " * 200_000, "dump.bin")  # 2 MB: its first 256 KB are kept
    length = len(message.raw)
    assert length == 256 * 1024
    client.force_login(users[Role.SUPERVISOR])
    url = reverse("workspace:intake_message", args=[message.pk])
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200 and len(response.content) < 2 * RAW_PART_CHARS
    assert "<textarea" not in html and response.context["form"] is None
    assert "too long to correct on this page" in html
    assert f"Characters 1 to 65,536 of {length:,}" in html and "Part 1 of 4" in html
    assert 'href="?part=2">Next part</a>' in html and "Previous part" not in html
    last = client.get(url, {"part": "4"})
    assert last.context["raw_part"] == message.raw[3 * RAW_PART_CHARS :]
    assert "Next part" not in last.content.decode() and 'href="?part=3">Previous part</a>' in last.content.decode()
    assert client.get(url, {"part": "99"}).context["part"] == 4
    assert client.get(url, {"part": "x"}).context["part"] == 1
    # A correction posted anyway is refused: nothing new is stored.
    refused = client.post(url, {"text": "MSH|^~\\&|fixed"})
    assert refused.status_code == 302 and InboundMessage.objects.count() == 1


def test_the_list_of_messages_that_need_attention_does_not_decrypt_them(
    client: Client, users: dict[str, User], rejected_message: InboundMessage
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(users[Role.SUPERVISOR])
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("workspace:intake_upload")).content.decode()
    assert reverse("workspace:intake_message", args=[rejected_message.pk]) in page
    listing = [q["sql"] for q in queries.captured_queries if "intake_inboundmessage" in q["sql"]]
    assert listing and not any('"intake_inboundmessage"."raw"' in sql for sql in listing)


def _as_browser_sends(text: str) -> str:
    """A textarea's value as a browser submits it: every line break as CRLF."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def test_a_rejected_message_shows_its_problems_and_the_read_is_audited(
    client: Client, users: dict[str, User], rejected_message: InboundMessage
) -> None:
    supervisor = users[Role.SUPERVISOR]
    client.force_login(supervisor)
    response = client.get(reverse("workspace:intake_message", args=[rejected_message.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h2>Problems</h2>" in html and "<strong>PID-5</strong>" in html
    assert "Re-process" in html
    entry = AuditEntry.objects.filter(action="read", object_type="inbound_message").latest("pk")
    assert entry.object_id == str(rejected_message.pk) and entry.actor_username == supervisor.username


def test_a_corrected_message_is_processed_and_replaces_the_original(
    client: Client, users: dict[str, User], rejected_message: InboundMessage
) -> None:
    client.force_login(users[Role.SUPERVISOR])
    url = reverse("workspace:intake_message", args=[rejected_message.pk])
    # What the textarea holds, with the name filled in, sent back as a browser sends it.
    text = client.get(url).context["form"].initial["text"].replace("||^^^^^^L", "||Okafor^William^^^^^L")
    response = client.post(url, {"text": _as_browser_sends(text)})
    fixed = InboundMessage.objects.get(replaces=rejected_message)
    assert response.status_code == 302 and response["Location"] == reverse("workspace:intake_message", args=[fixed.pk])
    assert fixed.state == "processed"
    page = client.get(response["Location"]).content.decode()
    assert "The corrected message was processed: processed." in page
    assert f'href="{url}">#{rejected_message.pk}</a>' in page  # "Corrects message #n"
    original = client.get(url).content.decode()
    rejected_message.refresh_from_db()
    assert rejected_message.state == "replaced"
    assert "replaced by a corrected message" in original and "Re-process" not in original
    assert "<h2>As received</h2>" in original  # the original, kept unchanged
    assert f'href="{reverse("workspace:intake_message", args=[fixed.pk])}">#{fixed.pk}</a>' in original
    assert LabResult.objects.count() == 1 and fixed.outcome["lab_results"] == [LabResult.objects.get().pk]


def test_a_corrected_message_is_listed_as_a_delivery_done_of_one_message(
    client: Client, users: dict[str, User], rejected_message: InboundMessage
) -> None:
    client.force_login(users[Role.SUPERVISOR])
    url = reverse("workspace:intake_message", args=[rejected_message.pk])
    text = client.get(url).context["form"].initial["text"].replace("||^^^^^^L", "||Okafor^William^^^^^L")
    client.post(url, {"text": _as_browser_sends(text)})
    correction = IntakeBatch.objects.get(source=IntakeBatch.Source.REPROCESS)
    assert (correction.status, correction.units_done, correction.units_total) == ("done", 1, 1)
    listing = client.get(reverse("workspace:intake_upload")).content.decode()
    row = re.search(rf'<tr><td><a href="{reverse("workspace:intake_batch", args=[correction.pk])}">.*?</tr>', listing)
    assert row is not None
    assert "could not be read" not in row.group(0) and "0 / 0" not in row.group(0)
    assert "<td>done</td><td>1 / 1</td>" in row.group(0)


def _assert_refused_as_unchanged(client: Client, message: InboundMessage) -> None:
    url = reverse("workspace:intake_message", args=[message.pk])
    shown = client.get(url).context["form"].initial["text"]
    response = client.post(url, {"text": _as_browser_sends(shown)})
    assert response.status_code == 200
    assert response.context["form"].errors["text"] == ["The message is unchanged: correct it before re-processing."]
    assert 'id="id_text_error"' in response.content.decode()
    message.refresh_from_db()
    assert message.state == "rejected" and InboundMessage.objects.count() == 1


def test_an_unchanged_csv_row_is_refused_on_the_field(
    client: Client, users: dict[str, User], rejected_csv_row: InboundMessage
) -> None:
    client.force_login(users[Role.SUPERVISOR])
    _assert_refused_as_unchanged(client, rejected_csv_row)


def test_an_unchanged_hl7_message_is_refused_on_the_field(
    client: Client, users: dict[str, User], rejected_message: InboundMessage
) -> None:
    client.force_login(users[Role.SUPERVISOR])
    _assert_refused_as_unchanged(client, rejected_message)


def test_an_empty_correction_is_refused_on_the_field(
    client: Client, users: dict[str, User], rejected_message: InboundMessage
) -> None:
    client.force_login(users[Role.SUPERVISOR])
    response = client.post(reverse("workspace:intake_message", args=[rejected_message.pk]), {})
    assert response.status_code == 200
    assert response.context["form"].errors["text"] == ["This field is required."]
    assert InboundMessage.objects.count() == 1


def test_a_supervisor_of_another_county_cannot_open_the_message(
    client: Client, make_user: Callable[..., User], other_county: Jurisdiction, rejected_message: InboundMessage
) -> None:
    outsider = make_user(Role.SUPERVISOR, other_county)
    client.force_login(outsider)
    url = reverse("workspace:intake_message", args=[rejected_message.pk])
    for response in (client.get(url), client.post(url, {"text": "MSH|^~\\&|fixed"})):
        assert response.status_code == 404
        assert "PID-5" not in response.content.decode()
    denied = AuditEntry.objects.filter(action="denied", object_type="inbound_message", actor_username=outsider.username)
    assert denied.count() == 2 and denied.first().object_id == str(rejected_message.pk)  # type: ignore[union-attr]
    assert not AuditEntry.objects.filter(action="read", object_type="inbound_message").exists()
    rejected_message.refresh_from_db()
    assert rejected_message.state == "rejected" and InboundMessage.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Identity review: the two records side by side, merge, undo, keep apart.


@pytest.fixture
def review(county: Jurisdiction, make_person: Callable[..., Person]) -> MatchReview:
    existing = make_person(county, first_name="Rosa", last_name="Delgado", phones=["(617) 555-0177"], emails=[])
    incoming = make_person(
        county, first_name="Rosa", last_name="Delgado", date_of_birth=None, phones=["(617) 555-0177"], emails=["rosa@example.org"]
    )
    lab_result_record(
        actor=None,
        person=incoming,
        data=LabResultInput(
            specimen_collection_date=clock.today() - dt.timedelta(days=2),
            test_loinc="94500-6",
            result="negative",
            test_name="SARS-CoV-2 RNA NAA",
        ),
    )
    return match_review_open(
        jurisdiction_id=county.pk,
        incoming_id=incoming.pk,
        candidate_id=existing.pk,
        score=9.5,
        comparison=[{"field": "date_of_birth", "outcome": "missing", "weight": 0.0}],
        source="inbound message 1",
    )


def test_the_supervisor_sees_both_records_side_by_side(client: Client, users: dict[str, User], review: MatchReview) -> None:
    supervisor = users[Role.SUPERVISOR]
    client.force_login(supervisor)
    listing = client.get(reverse("workspace:match_reviews")).content.decode()
    assert reverse("workspace:match_review", args=[review.pk]) in listing
    response = client.get(reverse("workspace:match_review", args=[review.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Incoming record (person {review.incoming_id})" in html
    assert f"Existing record (person {review.candidate_id})" in html
    assert html.count("Rosa Delgado") == 2 and "rosa@example.org" in html and "1985-03-14" in html
    assert "date_of_birth: missing (0.0)" in html
    assert 'value="same"' in html and 'value="different"' in html
    reads = AuditEntry.objects.filter(action="read", object_type="person", actor_username=supervisor.username)
    assert set(reads.values_list("object_id", flat=True)) == {str(review.incoming_id), str(review.candidate_id)}


def test_same_person_merges_and_the_merge_can_be_undone(client: Client, users: dict[str, User], review: MatchReview) -> None:
    client.force_login(users[Role.SUPERVISOR])
    incoming, candidate = review.incoming, review.candidate
    response = client.post(reverse("workspace:match_review", args=[review.pk]), {"decision": "same"}, follow=True)
    assert response.redirect_chain == [(reverse("workspace:match_reviews"), 302)]
    html = response.content.decode()
    assert "Merged." in html and "Nothing to review." in html
    merge = PersonMerge.objects.get()
    assert (merge.survivor_id, merge.merged_id) == (candidate.pk, incoming.pk)
    # Both records are the reviewer's: named, with their numbers.
    kept, merged = f"{candidate.full_name} (person {candidate.pk})", f"{incoming.full_name} (person {incoming.pk})"
    assert f"<td>#{merge.pk}</td><td>{kept}</td><td>{merged}</td>" in html
    assert set(LabResult.objects.values_list("person_id", flat=True)) == {candidate.pk}
    review.refresh_from_db()
    assert review.status == "merged"

    response = client.post(reverse("workspace:merge_undo", args=[merge.pk]), follow=True)
    html = response.content.decode()
    assert "The merge was undone" in html and "No merges." in html
    assert set(LabResult.objects.values_list("person_id", flat=True)) == {incoming.pk}
    incoming.refresh_from_db()
    review.refresh_from_db()
    assert incoming.merged_into_id is None and review.status == "open"
    assert reverse("workspace:match_review", args=[review.pk]) in html  # back in the queue

    # Undoing twice is refused with a message, not an error page.
    again = client.post(reverse("workspace:merge_undo", args=[merge.pk]), follow=True)
    assert again.status_code == 200 and "This merge was already undone." in again.content.decode()


def test_different_people_keeps_both_records(client: Client, users: dict[str, User], review: MatchReview) -> None:
    client.force_login(users[Role.SUPERVISOR])
    response = client.post(reverse("workspace:match_review", args=[review.pk]), {"decision": "different"}, follow=True)
    assert "Kept as different people." in response.content.decode()
    review.refresh_from_db()
    assert review.status == "distinct"
    assert not PersonMerge.objects.exists()
    assert Person.objects.filter(pk__in=[review.incoming_id, review.candidate_id], merged_into__isnull=True).count() == 2
    assert LabResult.objects.get().person_id == review.incoming_id
    # Decided: the page no longer offers the decision, and a second answer is refused.
    page = client.get(reverse("workspace:match_review", args=[review.pk])).content.decode()
    assert 'value="same"' not in page
    again = client.post(reverse("workspace:match_review", args=[review.pk]), {"decision": "same"})
    assert again.status_code == 200 and "This review was already decided." in again.content.decode()
    assert not PersonMerge.objects.exists()


@pytest.mark.parametrize("decision", [None, "", "maybe", "SAME"])
def test_an_invalid_decision_shows_an_error_and_decides_nothing(
    client: Client, users: dict[str, User], review: MatchReview, decision: str | None
) -> None:
    client.force_login(users[Role.SUPERVISOR])
    data = {} if decision is None else {"decision": decision}
    response = client.post(reverse("workspace:match_review", args=[review.pk]), data)
    assert response.status_code == 200
    assert "Choose whether these are the same person." in response.content.decode()
    review.refresh_from_db()
    assert review.status == "open" and not PersonMerge.objects.exists()


def test_a_supervisor_of_another_county_cannot_open_or_decide_the_review(
    client: Client, make_user: Callable[..., User], other_county: Jurisdiction, review: MatchReview
) -> None:
    outsider = make_user(Role.SUPERVISOR, other_county)
    client.force_login(outsider)
    url = reverse("workspace:match_review", args=[review.pk])
    assert client.get(url).status_code == 404
    response = client.post(url, {"decision": "same"})
    assert response.status_code == 404 and "Delgado" not in response.content.decode()
    assert "Delgado" not in client.get(reverse("workspace:match_reviews")).content.decode()
    review.refresh_from_db()
    assert review.status == "open" and not PersonMerge.objects.exists()
    assert AuditEntry.objects.filter(action="denied", object_type="match_review", actor_username=outsider.username).count() == 2


# A review or merge across jurisdictions: each record is shown only to whoever may see it.


@pytest.fixture
def across(county: Jurisdiction, other_county: Jurisdiction, make_person: Callable[..., Person]) -> MatchReview:
    """A review of a North County record against a South County one, routed (as before) to the North."""
    north = make_person(county, first_name="Rosa", last_name="Delgado", date_of_birth=None, phones=["(617) 555-0177"])
    south = make_person(other_county, first_name="Rosa", last_name="Delgado", street="9 Southern Way", phones=["(617) 555-0188"])
    return match_review_open(
        jurisdiction_id=county.pk, incoming_id=north.pk, candidate_id=south.pk, score=9.5, comparison=[], source="legacy"
    )


def test_a_record_outside_the_reviewers_jurisdiction_is_hidden_and_the_review_cannot_be_decided(
    client: Client, users: dict[str, User], across: MatchReview
) -> None:
    supervisor = users[Role.SUPERVISOR]
    client.force_login(supervisor)
    url = reverse("workspace:match_review", args=[across.pk])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "outside your jurisdiction" in html
    assert "Southern Way" not in html and "555-0188" not in html and "+16175550188" not in html
    assert f"person {across.candidate_id}" not in html
    assert 'value="same"' not in html and "Match score" not in html
    reads = AuditEntry.objects.filter(action="read", object_type="person", actor_username=supervisor.username)
    assert set(reads.values_list("object_id", flat=True)) == {str(across.incoming_id)}

    refused = client.post(url, {"decision": "same"})
    assert refused.status_code == 403
    across.refresh_from_db()
    assert across.status == "open" and not PersonMerge.objects.exists()
    assert AuditEntry.objects.filter(action="denied", object_type="match_review", object_id=str(across.pk)).exists()


def test_a_state_supervisor_sees_both_counties_records_and_decides(
    client: Client, state: Jurisdiction, make_user: Callable[..., User], across: MatchReview
) -> None:
    MatchReview.objects.filter(pk=across.pk).update(jurisdiction=state)
    client.force_login(make_user(Role.SUPERVISOR, state))
    assert reverse("workspace:match_review", args=[across.pk]) in client.get(reverse("workspace:match_reviews")).content.decode()
    html = client.get(reverse("workspace:match_review", args=[across.pk])).content.decode()
    assert "Southern Way" in html and "outside your jurisdiction" not in html and 'value="same"' in html
    response = client.post(reverse("workspace:match_review", args=[across.pk]), {"decision": "same"}, follow=True)
    assert "Merged." in response.content.decode()
    assert PersonMerge.objects.get().survivor_id == across.candidate_id


def test_a_review_routed_to_the_state_is_not_in_a_county_queue(
    client: Client, state: Jurisdiction, users: dict[str, User], across: MatchReview
) -> None:
    MatchReview.objects.filter(pk=across.pk).update(jurisdiction=state)
    client.force_login(users[Role.SUPERVISOR])
    listing = client.get(reverse("workspace:match_reviews")).content.decode()
    assert reverse("workspace:match_review", args=[across.pk]) not in listing
    assert client.get(reverse("workspace:match_review", args=[across.pk])).status_code == 404


def test_a_merge_across_counties_shows_a_county_supervisor_only_their_record_and_no_undo(
    client: Client, state: Jurisdiction, users: dict[str, User], make_user: Callable[..., User], across: MatchReview
) -> None:
    from tracecenter.people.merge import match_review_decide

    match_review_decide(actor=make_user(Role.SUPERVISOR, state), review=across, same_person=True)
    merge = PersonMerge.objects.get()
    client.force_login(users[Role.SUPERVISOR])
    html = client.get(reverse("workspace:match_reviews")).content.decode()
    assert f"<td>#{merge.pk}</td><td>outside your jurisdiction</td><td>person {across.incoming_id}</td>" in html
    assert reverse("workspace:merge_undo", args=[merge.pk]) not in html
    assert client.post(reverse("workspace:merge_undo", args=[merge.pk])).status_code == 403
    merge.refresh_from_db()
    assert merge.undone_at is None
    assert AuditEntry.objects.filter(action="denied", object_type="person_merge", object_id=str(merge.pk)).exists()


# ---------------------------------------------------------------------------------------------
# Navigation


@pytest.mark.parametrize(
    ("role", "intake", "reviews"),
    [
        (Role.SUPERVISOR, True, True),
        (Role.EPIDEMIOLOGIST, True, False),
        (Role.CONTACT_TRACER, False, False),
        (Role.CASE_INVESTIGATOR, False, False),
    ],
)
def test_the_menu_offers_intake_and_reviews_to_those_who_may_use_them(
    client: Client, users: dict[str, User], role: str, intake: bool, reviews: bool
) -> None:
    client.force_login(users[role])
    html = client.get(reverse("workspace:my_work")).content.decode()
    link = '<a class="usa-nav-link" href="{}"><span>{}</span></a>'
    assert (link.format(reverse("workspace:intake_upload"), "Lab intake") in html) is intake
    assert (link.format(reverse("workspace:match_reviews"), "Identity reviews") in html) is reviews
