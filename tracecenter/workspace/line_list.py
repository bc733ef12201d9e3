"""Line lists: the cases or contacts a supervisor or epidemiologist may see, as CSV or an Excel workbook.

The same doors as every page: the rows are those the access policy lets the viewer read (the filters
of "My work" narrow them further); the columns are those the viewer's role may see; every record
written is in the audit trail, one entry each, before it leaves. Identifying columns (name, date of
birth, phone, street) go only to roles that work with people directly (who edit records); an
epidemiologist's list carries what analysis needs (dates, status, age, sex, postal code) and no more.

A cell that a spreadsheet would read as a formula (starting with = + - @, a tab or a carriage return)
is written with a leading apostrophe (OWASP's advice for CSV injection), and, in a workbook, as text.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from django.db.models import Model, QuerySet
from django.utils import timezone

from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record_many
from tracecenter.cases.models import Case
from tracecenter.contacts.models import Exposure
from tracecenter.people.models import ContactPoint, Person

CHUNK = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text a spreadsheet would run as a formula, made plain text; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    value: Callable[[Any], Any]
    identifying: bool = False


def _age(person: Person, on: dt.date) -> int | None:
    born = person.date_of_birth
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _phone(person: Person) -> str:
    phones = [cp.value for cp in person.contact_points.all() if cp.kind == ContactPoint.Kind.PHONE]
    return phones[0] if phones else ""


def _owner(record: Case | Exposure) -> str:
    return record.owner.display_name if record.owner else ""


CASE_COLUMNS = [
    Column("case_id", lambda c: c.pk),
    Column("jurisdiction", lambda c: c.jurisdiction.name),
    Column("status", lambda c: c.status),
    Column("priority", lambda c: c.priority),
    Column("worker", _owner),
    Column("opened_on", lambda c: timezone.localdate(c.opened_at)),
    Column("specimen_collection_date", lambda c: c.specimen_collection_date),
    Column("symptom_onset", lambda c: c.symptom_onset),
    Column("asymptomatic", lambda c: c.asymptomatic),
    Column("hospitalized", lambda c: c.hospitalized),
    Column("congregate_setting", lambda c: c.congregate_setting),
    Column("infectious_start", lambda c: c.infectious_start),
    Column("infectious_end", lambda c: c.infectious_end),
    Column("isolation_end", lambda c: c.isolation_end),
    Column("sex", lambda c: c.person.sex),
    Column("age_years", lambda c: _age(c.person, c.specimen_collection_date or timezone.localdate(c.opened_at))),
    Column("postal_code", lambda c: c.person.postal_code),
    Column("first_name", lambda c: c.person.first_name, identifying=True),
    Column("last_name", lambda c: c.person.last_name, identifying=True),
    Column("date_of_birth", lambda c: c.person.date_of_birth, identifying=True),
    Column("phone", lambda c: _phone(c.person), identifying=True),
    Column("street", lambda c: c.person.street, identifying=True),
    Column("city", lambda c: c.person.city, identifying=True),
]

CONTACT_COLUMNS = [
    Column("contact_id", lambda e: e.pk),
    Column("case_id", lambda e: e.case_id),
    Column("parent_contact_id", lambda e: e.parent_exposure_id),
    Column("jurisdiction", lambda e: e.jurisdiction.name),
    Column("status", lambda e: e.status),
    Column("worker", _owner),
    Column("first_exposure_date", lambda e: e.first_exposure_date),
    Column("last_exposure_date", lambda e: e.last_exposure_date),
    Column("quarantine_end", lambda e: e.quarantine_end),
    Column("setting", lambda e: e.setting),
    Column("relationship", lambda e: e.relationship),
    Column("proximity", lambda e: e.proximity),
    Column("sex", lambda e: e.person.sex),
    Column("age_years", lambda e: _age(e.person, e.last_exposure_date)),
    Column("postal_code", lambda e: e.person.postal_code),
    Column("first_name", lambda e: e.person.first_name, identifying=True),
    Column("last_name", lambda e: e.person.last_name, identifying=True),
    Column("date_of_birth", lambda e: e.person.date_of_birth, identifying=True),
    Column("phone", lambda e: _phone(e.person), identifying=True),
]


def columns_for(user: User, kind: str) -> list[Column]:
    """The columns `user`'s role may take away: identifying ones only for those who work with people."""
    columns = CASE_COLUMNS if kind == "cases" else CONTACT_COLUMNS
    identifying = user.has_capability(Capability.EDIT_RECORDS)
    return [c for c in columns if identifying or not c.identifying]


def prepared[M: Model](qs: QuerySet[M], columns: list[Column]) -> QuerySet[M]:
    """What the columns read, fetched with the rows (the phones only when a phone column is there)."""
    qs = qs.select_related("person", "jurisdiction", "owner")
    if any(c.name == "phone" for c in columns):
        qs = qs.prefetch_related("person__contact_points")
    return qs.order_by("pk")


def _rows(
    user: User, records: QuerySet[Any], columns: list[Column], *, object_type: str, detail: str
) -> Iterator[list[list[Any]]]:
    """The rows, a chunk at a time, each chunk audited (one entry per record) before it is handed out."""
    chunk: list[Any] = []
    for record in records.iterator(chunk_size=CHUNK):
        chunk.append(record)
        if len(chunk) == CHUNK:
            yield _audited(user, chunk, columns, object_type=object_type, detail=detail)
            chunk = []
    if chunk:
        yield _audited(user, chunk, columns, object_type=object_type, detail=detail)


def _audited(user: User, chunk: list[Any], columns: list[Column], *, object_type: str, detail: str) -> list[list[Any]]:
    audit_record_many(
        actor=user,
        action=Action.EXPORT,
        object_type=object_type,
        items=[(record.pk, record.jurisdiction_id) for record in chunk],
        fields=[c.name for c in columns],
        detail=detail,
    )
    return [[neutralise(column.value(record)) for column in columns] for record in chunk]


def _csv_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else value


def csv_lines(user: User, records: QuerySet[Any], columns: list[Column], *, object_type: str) -> Iterator[str]:
    """The list as CSV text, line by line, for a streamed response: memory stays flat however long the list."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.name for c in columns])
    yield _drain(buffer)
    for chunk in _rows(user, records, columns, object_type=object_type, detail="line list csv"):
        for row in chunk:
            writer.writerow([_csv_text(v) for v in row])
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def workbook(user: User, records: QuerySet[Any], columns: list[Column], *, object_type: str) -> IO[bytes]:
    """The list as an Excel workbook, built row by row (openpyxl's write-only mode) into a temporary file."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(object_type)
    sheet.append([c.name for c in columns])
    for chunk in _rows(user, records, columns, object_type=object_type, detail="line list xlsx"):
        for row in chunk:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # text, whatever it starts with: never a formula
                cells.append(cell)
            sheet.append(cells)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - handed to the response, which closes it
    book.save(out)
    out.seek(0)
    return out
