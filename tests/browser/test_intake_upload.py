"""A supervisor uploads a file of 3,000 lab reports in a real browser and watches a worker ingest it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.browser.pages import sign_in
from tracecenter.accounts.roles import Role
from tracecenter.core import clock
from tracecenter.intake.models import IntakeBatch, LabResult
from tracecenter.intake.synthetic import Analyte, SyntheticReport, oru_r01

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MESSAGES = 3_000  # six chunks: the page's poll (every second) sees it part way even on a fast machine
FIRST = [
    "Amara", "Bogdan", "Chiara", "Dmitri", "Esperanza", "Farouk", "Giulia", "Hiroshi", "Ingrid", "Jamal",
    "Keiko", "Lucía", "Mateus", "Nadia", "Oluwaseun", "Priya", "Quentin", "Rashida", "Soren", "Thandiwe",
    "Ulrich", "Valentina", "Wendell", "Ximena", "Yusuf", "Zofia", "Anselm", "Brigid", "Cosimo", "Dagny",
]  # fmt: skip
LAST = [
    "Abernathy", "Baptiste", "Castellanos", "Dunmore", "Eriksen", "Fairbanks", "Gallagher", "Hollis", "Iwasaki",
    "Jablonski", "Kowalczyk", "Lindqvist", "Montgomery", "Nakamura", "Okonkwo", "Pemberton", "Quiroga", "Rutherford",
    "Santorelli", "Thibodeaux", "Underwood", "Vasquez", "Whitfield", "Xiong", "Yamamoto", "Zielinski", "Achebe",
    "Bergström", "Cavanaugh", "Delacroix", "Ellingsworth", "Fitzgerald", "Grünewald", "Halvorsen", "Ibáñez",
    "Jovanovic", "Kaczmarek", "Lockhart", "Mbeki", "Northcott", "Oyelaran", "Prendergast", "Quattrone", "Rasmussen",
    "Szymanski", "Trevelyan", "Umarov", "Vanterpool", "Wojcik", "Yelverton",
]  # fmt: skip

# True while the bar, and the count beside it, show part of the file done: the script has moved them.
BAR_PART_WAY = f"""() => {{
    const bar = document.getElementById("intake-bar");
    const count = document.querySelector("#intake-progress .count");
    return bar !== null && bar.max === {MESSAGES} && bar.value > 0 && bar.value < bar.max
        && count.textContent === bar.value + " / " + bar.max;
}}"""


def hl7_file() -> bytes:
    """3,000 ORU^R01 messages, each for a different person (no two share a name or a birth date); one in ten positive."""
    assert 2 * len(FIRST) * len(LAST) >= MESSAGES
    collected = clock.today() - dt.timedelta(days=2)
    messages = []
    for n in range(MESSAGES):
        report = SyntheticReport(
            control_id=f"BULK{n:06d}",
            first_name=FIRST[n % len(FIRST)],
            # The second half: the same surnames, double-barrelled (another name to the matcher).
            last_name=LAST[n // len(FIRST) % len(LAST)] + ("" if n < len(FIRST) * len(LAST) else "-Whitcombe"),
            date_of_birth=dt.date(1935, 1, 1) + dt.timedelta(days=7 * n),
            collected=collected,
            accession=f"BULKACC{n:06d}",
            sex="MF"[n % 2],
            analytes=[Analyte(result="positive" if n % 10 == 0 else "negative")],
        )
        messages.append(oru_r01(report))
    return "".join(messages).encode()


@pytest.fixture
def background_ingest() -> Iterator[None]:
    """A worker beside the live server, as `make run` starts one: it ingests the upload while the page polls."""
    from tracecenter.core.worker import start_in_thread

    worker = start_in_thread()
    yield
    worker.shutdown()
    worker.thread.join(timeout=30)


def test_a_supervisor_uploads_3000_messages_and_watches_them_ingested(
    page, live_server, background_ingest, county, team, make_user
):
    supervisor = make_user(Role.SUPERVISOR, county, team, username="supervisor.north")
    data = hl7_file()
    # The status of every progress answer the page's script receives: proof that it polled. Only what the
    # event carries is read; a body fetched here could already be gone once the page reloads.
    polls: list[int] = []
    page.on("response", lambda response: polls.append(response.status) if "/progress/" in response.url else None)

    sign_in(page, live_server, supervisor.username)
    page.get_by_role("link", name="Lab intake").click()
    page.get_by_label("Lab result file").set_input_files(
        files=[{"name": "elr-bulk.hl7", "mimeType": "text/plain", "buffer": data}]
    )
    page.get_by_role("button", name="Upload and ingest").click()
    page.wait_for_url(f"{live_server.url}/intake/batches/*/")

    # Still being ingested: the page shows the bar, and its script moves it as chunks are stored.
    page.locator("#intake-bar").wait_for()
    page.wait_for_function(BAR_PART_WAY, timeout=120_000)

    # Once finished, the script reloads the page, which shows the report in place of the bar. (How long it takes is
    # bench/intake.py's to measure; here a slow shared machine only waits longer.)
    page.get_by_role("heading", name="Report", exact=True).wait_for(timeout=180_000)
    assert page.locator("#intake-progress").count() == 0
    accepted = page.locator("dl.report dt:text-is('Accepted') + dd")
    rejected = page.locator("dl.report dt:text-is('Rejected') + dd")
    assert (accepted.inner_text(), rejected.inner_text()) == (str(MESSAGES), "0")

    batch = IntakeBatch.objects.get()
    assert batch.status == "done" and (batch.units_done, batch.units_total) == (MESSAGES, MESSAGES)
    assert LabResult.objects.count() == MESSAGES
    assert len(polls) >= 2 and set(polls) == {200}
