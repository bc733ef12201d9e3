"""From received bytes to persons, lab results and cases, without losing or doubling a message.

The order of work is the guarantee:

1. Each unit (HL7 message, CSV row, FHIR Bundle) is stored raw, encrypted, and
   committed before anything else looks at it (store_units). A unit already stored
   with the same content is a duplicate and is not processed again, unless it was
   never processed (a crash came between storing and processing): then it is now.
2. Units are parsed (pure code, formats/*). A unit that cannot be read is marked
   rejected with every problem found.
3. A chunk of parsed units is applied in one transaction: identities resolved against
   existing persons (people.identity), new persons created, results stored, corrections
   applied, events recorded. If anything unexpected fails, the chunk is rolled back and
   applied again one unit per transaction, so one bad unit fails alone (state "failed",
   kept for re-processing) and every other unit is accepted.
4. After commit the workers deliver the events: positives open cases (cases.handlers).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence, Sized
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record_many
from tracecenter.core import clock, crypto, events
from tracecenter.core.actors import acting_user
from tracecenter.core.bulk import insert_rows, update_rows
from tracecenter.core.codes import normalize_language
from tracecenter.core.errors import DomainError
from tracecenter.intake import classify, detect
from tracecenter.intake.events import LabResultCorrected, LabResultReceived
from tracecenter.intake.limits import max_file_bytes
from tracecenter.intake.models import (
    InboundMessage,
    IntakeBatch,
    LabResult,
    LabResultRevision,
    PostalArea,
    condition_tests_configured,
)
from tracecenter.intake.records import LabReport, ParseError, PatientRecord, Problem, RawUnit, ResultRecord
from tracecenter.intake.report import IngestReport
from tracecenter.intake.services import LabResultInput, clean_lab_result_input
from tracecenter.people import matching, normalize
from tracecenter.people.identity import NewPerson, Resolver, contact_points_add, match_reviews_open, persons_create_bulk
from tracecenter.people.models import MatchReview, Person, Sex

logger = logging.getLogger(__name__)

CHUNK = 500
_SOURCE = {"hl7v2": LabResult.Source.HL7V2, "csv": LabResult.Source.CSV, "fhir": LabResult.Source.FHIR}
_STATUS = {"F": LabResult.Status.FINAL, "C": LabResult.Status.CORRECTED, "P": LabResult.Status.PRELIMINARY}
Progress = Callable[[int, int], None]


def content_key(fmt: str, text: str) -> str:
    """Same format and same text: the same message (its control id is part of the text)."""
    return crypto.blind_index(f"{fmt}\x1f{text}", purpose="inbound_message")


def file_content_key(fmt: str, data: bytes) -> str:
    """The content key of a whole file refused as a whole, of which only the start is kept (see KEPT_OF_A_REFUSED_FILE).

    Computed over every byte without copying them, so the same file sent again is recognised.
    """
    return crypto.blind_index_of_bytes(f"{fmt}\x1f".encode(), data, purpose="inbound_file")


# A file refused as a whole (not in a format TraceCenter reads, over its limit, a header that cannot be read)
# holds no message anyone could correct on a page: its start is kept to show what it was, not all of it.
KEPT_OF_A_REFUSED_FILE = 256 * 1024


def _problems_json(problems: Sequence[Problem]) -> str:
    return json.dumps([p.as_dict() for p in problems]) if problems else ""


def problems_of(message: InboundMessage) -> list[Problem]:
    return [Problem(**p) for p in json.loads(message.problems or "[]")]


def warnings_of(message: InboundMessage) -> list[Problem]:
    return [Problem(**p) for p in json.loads(message.warnings or "[]")]


# ---------------------------------------------------------------------------------------------
# Jurisdictions


def intake_root(code: str = "") -> Jurisdiction:
    """The jurisdiction feeds deliver to: the code given, INTAKE_JURISDICTION, or the only top-level one."""
    code = code or settings.INTAKE_JURISDICTION
    if code:
        found = Jurisdiction.objects.filter(code=code).first()
        if found is None:
            raise DomainError(_("No jurisdiction has the code %(code)s.") % {"code": code})
        return found
    roots = list(Jurisdiction.objects.filter(parent__isnull=True)[:2])
    if len(roots) != 1:
        raise DomainError(_("Say which jurisdiction receives lab results (INTAKE_JURISDICTION or --jurisdiction)."))
    return roots[0]


class _Counties:
    """Where a new patient's record goes, from the address the lab wrote.

    Across the whole state (not only below the run's jurisdiction: a county's upload may hold a patient
    of the next county): by county name (as labs write it), else by postal code (the longest prefix
    listed in PostalArea). An address that says where and maps to no jurisdiction goes to the state's
    own queue, never silently to the uploader's county; a record with no county and no postal code
    stays with the run's jurisdiction, as nothing says it lies elsewhere. A postal code is only
    evidence once the state has listed postal areas: before, it maps nothing and says nothing.
    """

    def __init__(self, root: Jurisdiction) -> None:
        self.root = root
        self.top_id = root.ancestors_and_self()[0]
        self._by_key: dict[str, int] = {}
        self.paths: dict[int, str] = {}
        for j in Jurisdiction.objects.filter(path__startswith=f"/{self.top_id}/").order_by("path"):
            self.paths[j.pk] = j.path
            if j.pk != self.top_id:
                self._by_key.setdefault(self._key(j.name), j.pk)
        self._areas = dict(
            PostalArea.objects.filter(jurisdiction__path__startswith=f"/{self.top_id}/").values_list("prefix", "jurisdiction_id")
        )

    @staticmethod
    def _key(name: str) -> str:
        key = normalize.name_key(name)
        for suffix in ("county", "parish", "borough"):
            if key.endswith(suffix) and len(key) > len(suffix):
                key = key[: -len(suffix)]
        return key

    def _by_postal_code(self, postal_code: str) -> int | None:
        digits = "".join(ch for ch in postal_code if ch.isalnum()).upper()
        for length in range(len(digits), 0, -1):
            if digits[:length] in self._areas:
                return self._areas[digits[:length]]
        return None

    def of(self, county: str, postal_code: str = "") -> int:
        if county.strip() and self._key(county) in self._by_key:
            return self._by_key[self._key(county)]
        if self._areas and postal_code.strip():
            found = self._by_postal_code(postal_code)
            return found if found is not None else self.top_id
        if county.strip():
            return self.top_id  # a county we do not have: the state decides, not the uploader's county
        return self.root.pk


# ---------------------------------------------------------------------------------------------
# Step 1: store raw


@dataclasses.dataclass
class Stored:
    unit: RawUnit
    message: InboundMessage
    process: bool  # False: a duplicate of a message already processed (or rejected)
    resumed: bool = False  # stored by an earlier run that stopped before processing it


def store_units(
    *,
    units: Sequence[RawUnit],
    fmt: str,
    batch: IntakeBatch | None,
    jurisdiction: Jurisdiction,
    stored_here: set[int] | None = None,
    keys: Sequence[str] | None = None,
) -> tuple[list[Stored], int, int]:
    """Store units not seen before and commit.

    Returns what to process, the number of duplicates, and the number this same delivery
    already processed before it was restarted (a worker that died mid-file): those are
    neither processed again nor counted as duplicates. `stored_here` holds the ids of the
    messages this run stored (it is added to), which tells a repeat within the file from a
    message of the earlier attempt. `keys`: the units' content keys when not those of their text.
    """
    keyed = list(zip(units, keys, strict=True)) if keys is not None else [(unit, content_key(fmt, unit.text)) for unit in units]
    # A file may repeat a message within itself: the second is a duplicate of the first.
    seen: dict[str, RawUnit] = {}
    duplicates = earlier = 0
    unique: list[tuple[RawUnit, str]] = []
    for unit, key in keyed:
        if key in seen:
            duplicates += 1
        else:
            seen[key] = unit
            unique.append((unit, key))
    out: list[Stored] = []
    with transaction.atomic():
        existing = {m.content_key: m for m in InboundMessage.objects.filter(content_key__in=[k for _u, k in unique])}
        fresh = []
        for unit, key in unique:
            found = existing.get(key)
            if found is not None:
                # Never processed (a crash), failed on our side, or refused only for its sender (who may be allowed
                # by now): process it now. Anything else was done.
                resume = found.state in (InboundMessage.State.RECEIVED, InboundMessage.State.FAILED) or _sender_refused(found)
                if resume:
                    pass
                elif batch is not None and found.batch_id == batch.pk and found.pk not in (stored_here or ()):
                    earlier += 1
                else:
                    duplicates += 1
                out.append(Stored(unit, found, resume, resumed=resume))
                continue
            message = InboundMessage(
                batch=batch,
                index=unit.index,
                where=unit.where[:60],
                format=fmt,
                raw=unit.text,
                content_key=key,
                jurisdiction=jurisdiction,
            )
            fresh.append(message)
            out.append(Stored(unit, message, True))
        try:
            with transaction.atomic():
                insert_rows(InboundMessage, fresh)
            if stored_here is not None:
                stored_here.update(m.pk for m in fresh)
        except IntegrityError:
            # Another intake stored one of these a moment ago: store one at a time, the rest as duplicates.
            for stored in out:
                if stored.message.pk is None:
                    message, created = InboundMessage.objects.get_or_create(
                        content_key=stored.message.content_key,
                        defaults={
                            f: getattr(stored.message, f) for f in ("batch", "index", "where", "format", "raw", "jurisdiction")
                        },
                    )
                    stored.message = message
                    if created and stored_here is not None:
                        stored_here.add(message.pk)
                    if not created and message.state not in (InboundMessage.State.RECEIVED, InboundMessage.State.FAILED):
                        stored.process = False
                        duplicates += 1
    return out, duplicates, earlier


def _sender_refused(message: InboundMessage) -> bool:
    """Rejected for its sender alone (not on the allow-list then), not for its content."""
    return message.state == InboundMessage.State.REJECTED and {p.code for p in problems_of(message)} == {UNKNOWN_SENDER}


UNKNOWN_SENDER = "unknown_sender"


def _facility_key(text: str) -> str:
    return " ".join(text.split()).casefold()


# ---------------------------------------------------------------------------------------------
# Step 3: apply


@dataclasses.dataclass
class _Pending:
    """One parsed message on its way into the database."""

    stored: Stored
    reports: list[LabReport]
    warnings: list[Problem]
    # Per report: the person (an id, or a NewPerson index in the chunk) and the results to store.
    persons: list[int | NewPerson] = dataclasses.field(default_factory=list)
    results: list[list[tuple[ResultRecord, dict[str, Any]]]] = dataclasses.field(default_factory=list)
    problems: list[Problem] = dataclasses.field(default_factory=list)
    outcome: dict[str, Any] = dataclasses.field(default_factory=dict)


def _clean_contacts(patient: PatientRecord, warnings: list[Problem]) -> tuple[list[str], list[str]]:
    phones: list[str] = []
    for raw in patient.phones:
        try:
            phone = normalize.phone_e164(raw)
        except normalize.InvalidValue:
            warnings.append(Problem("patient phone", f"{raw.strip()[:40]!r} is not a valid phone number; not kept.", "bad_phone"))
            continue
        if phone not in phones:
            phones.append(phone)
    emails: list[str] = []
    for raw in patient.emails:
        try:
            email = normalize.email_key(raw)
        except normalize.InvalidValue:
            warnings.append(
                Problem("patient e-mail", f"{raw.strip()[:80]!r} is not a valid e-mail address; not kept.", "bad_email")
            )
            continue
        if email not in emails:
            emails.append(email)
    return phones, emails


def _clean_patient(patient: PatientRecord, problems: list[Problem]) -> dict[str, Any] | None:
    """Person field values from a feed's patient, or None with every problem listed.

    Not people.services.clean_person_input: that one stops at the first error and refuses a
    bad phone, which is right for a form and wrong for a lab report (a lab cannot be asked
    to fix it in the middle of a surge; the result must still reach a case).
    """
    values: dict[str, Any] = {}
    for field in ("first_name", "middle_name", "last_name", "street", "city", "postal_code"):
        text = " ".join((getattr(patient, field) or "").split())
        try:
            text = normalize.clean_name(text) if field.endswith("_name") else text
        except normalize.InvalidValue as exc:
            problems.append(Problem(f"patient {field.replace('_', ' ')}", str(exc), exc.code))
            continue
        values[field] = text[:200]
    if not values.get("last_name") and not values.get("first_name"):
        problems.append(Problem("patient name", "The patient has no name.", "missing_name"))
    dob = patient.date_of_birth
    if dob is not None and (dob.year < 1900 or dob > clock.today()):
        problems.append(Problem("patient date of birth", f"{dob.isoformat()} is not a plausible date of birth.", "bad_dob"))
    values["date_of_birth"] = dob
    values["date_of_birth_as_written"] = patient.date_of_birth_as_written if dob is None else ""
    values["sex"] = patient.sex if patient.sex in Sex.values else Sex.UNKNOWN
    values["state"] = (patient.state or "").strip().upper()[:2]
    # The parsers already give ISO codes; normalised again here because this is where a Person is written.
    values["preferred_language"] = normalize_language(patient.preferred_language or "") or "en"
    return None if problems else values


@dataclasses.dataclass
class _Patient:
    """One report's patient, cleaned: the person to find or create."""

    report: LabReport
    values: dict[str, Any] | None  # None: refused (see problems)
    phones: list[str]
    emails: list[str]
    identity: matching.Identity | None
    problems: list[Problem]


def _identity(values: dict[str, Any], phones: list[str], emails: list[str]) -> matching.Identity:
    return matching.identity_from(
        first_name=values["first_name"],
        middle_name=values["middle_name"],
        last_name=values["last_name"],
        date_of_birth=values["date_of_birth"],
        date_of_birth_text=values["date_of_birth_as_written"],
        sex=values["sex"],
        street=values["street"],
        city=values["city"],
        postal_code=values["postal_code"],
        phones=phones,
        emails=emails,
    )


class _Chunk:
    """Applies a chunk of parsed messages; see the module docstring."""

    def __init__(
        self,
        *,
        fmt: str,
        file_name: str,
        actor: User | None,
        counties: _Counties,
        resolver: Resolver,
        timings: defaultdict[str, float],
    ) -> None:
        self.timings = timings
        self.fmt = fmt
        self.file_name = file_name  # for the report's rejections
        self.actor = actor
        self.counties = counties
        self.resolver = resolver
        self.report = IngestReport()
        # Filled while identities are resolved, written once the chunk's new persons exist.
        self._contact_updates: list[tuple[int, list[str], list[str]]] = []
        self._reviews: list[tuple[NewPerson, Any, _Pending]] = []

    # -- pass 1: validate and resolve identities (reads only) --------------------------------------

    def _prepare(self, pending: list[_Pending], new_rows: list[NewPerson]) -> None:
        # Clean every patient first, so one query fetches the candidates of the whole chunk.
        cleaned: list[list[_Patient]] = []
        for item in pending:
            patients = []
            for lab_report in item.reports:
                problems: list[Problem] = []
                values = _clean_patient(lab_report.patient, problems)
                phones, emails = _clean_contacts(lab_report.patient, item.warnings)
                identity = None if values is None else _identity(values, phones, emails)
                patients.append(_Patient(lab_report, values, phones, emails, identity, problems))
            cleaned.append(patients)
        self.resolver.prefetch(p.identity for patients in cleaned for p in patients if p.identity is not None)
        for item, patients in zip(pending, cleaned, strict=True):
            self._prepare_one(item, patients, new_rows)

    def _prepare_one(self, item: _Pending, patients: list[_Patient], new_rows: list[NewPerson]) -> None:
        planned: list[tuple[int | NewPerson, list[tuple[ResultRecord, dict[str, Any]]]]] = []
        for patient in patients:
            if patient.values is None or patient.identity is None:
                item.problems.extend(patient.problems)
                continue
            results = []
            for record in patient.report.results:
                values = self._clean_result(record, patient.values.get("date_of_birth"), patient.report, item.warnings)
                if values is not None:
                    results.append((record, values))
            if not results:
                item.problems.append(
                    Problem("results", "No result in this message could be stored (see the warnings).", "no_result")
                )
                continue
            planned.append((self._person_for(patient, new_rows, item), results))
        if item.problems:
            return  # all or nothing per message: a lab resends the whole message once fixed
        for person, results in planned:
            item.persons.append(person)
            item.results.append(results)

    def _person_for(self, patient: _Patient, new_rows: list[NewPerson], item: _Pending) -> int | NewPerson:
        if patient.identity is None or patient.values is None:  # only patients that were read come here
            raise RuntimeError("a patient that could not be read reached matching")
        identity, phones, emails = patient.identity, patient.phones, patient.emails
        resolution = self.resolver.resolve(identity)
        if resolution.decision == "match" and resolution.person_id is not None:
            self.report.persons_matched += 1
            if resolution.person_id < 0:  # someone created earlier in this chunk
                row = new_rows[-resolution.person_id - 1]
                row.phones.extend(p for p in phones if p not in row.phones)
                row.emails.extend(e for e in emails if e not in row.emails)
                return row
            self._contact_updates.append((resolution.person_id, phones, emails))
            return resolution.person_id
        jurisdiction_id = self.counties.of(patient.report.patient.county, patient.report.patient.postal_code)
        row = NewPerson(jurisdiction_id=jurisdiction_id, values=patient.values, phones=phones, emails=emails, identity=identity)
        new_rows.append(row)
        # A provisional id until the chunk's persons are created.
        self.resolver.remember(-len(new_rows), identity, path=self.counties.paths[jurisdiction_id])
        if resolution.decision == "review" and resolution.candidate_id is not None:
            self._reviews.append((row, resolution, item))
        return row

    def _clean_result(
        self, record: ResultRecord, dob: dt.date | None, lab_report: LabReport, warnings: list[Problem]
    ) -> dict[str, Any] | None:
        where = f"result {record.test_loinc}"
        warnings.extend(record.warnings)
        if record.status == "W":
            return {"retract": True}
        collected = record.specimen_collection_date or record.result_date
        if collected is None:
            warnings.append(
                Problem(where, "No specimen collection date (nor a result date): the result cannot be dated.", "no_date")
            )
            return None
        data = LabResultInput(
            specimen_collection_date=collected,
            test_loinc=record.test_loinc,
            result=record.classification,
            test_name=record.test_name[:200],
            result_date=record.result_date if record.result_date and record.result_date >= collected else None,
            performing_lab=record.performing_lab[:200],
            ordering_provider=lab_report.ordering_provider[:200],
            ordering_facility=lab_report.ordering_facility[:200],
        )
        try:
            values = clean_lab_result_input(dob, data)
        except DomainError as exc:
            warnings.append(Problem(f"{where} {exc.field or ''}".strip(), str(exc.message), "invalid_result"))
            return None
        if record.specimen_collection_date is None:
            warnings.append(Problem(where, "No specimen collection date: the result date is used instead.", "no_collection_date"))
        values["condition"] = record.condition
        values["status"] = _STATUS.get(record.status, LabResult.Status.FINAL)
        values["result_code"] = record.result_code[:40]
        values["result_text"] = " ".join(record.result_text.split())[:200]
        values["review_reason"] = "; ".join(w.reason for w in record.warnings)[:300]
        values["sending_facility"] = " ".join(lab_report.sending_facility.split())[:200]
        values["observation_key"] = (
            crypto.blind_index(
                f"{lab_report.sending_facility_id or lab_report.sending_facility}|{record.observation_key}", purpose="observation"
            )
            if record.accession
            else ""
        )
        return values

    # -- pass 2: write ----------------------------------------------------------------------------

    def apply(self, pending: list[_Pending]) -> None:
        new_rows: list[NewPerson] = []
        started = time.perf_counter()
        self._prepare(pending, new_rows)
        self.timings["match"] += time.perf_counter() - started
        started = time.perf_counter()
        created = persons_create_bulk(actor=self.actor, rows=new_rows) if new_rows else []
        real_id = {id(row): person.pk for row, person in zip(new_rows, created, strict=True)}
        for index, person in enumerate(created):
            self.resolver.rename(-(index + 1), person.pk)
        self.report.persons_created += len(created)
        contact_points_add(self._contact_updates)
        reviews = []
        for row, resolution, item in self._reviews:
            candidate_id = resolution.candidate_id
            if candidate_id < 0:  # the candidate is someone created earlier in this chunk
                candidate_id = real_id[id(new_rows[-candidate_id - 1])]
            # Routed where a reviewer covers both records: the county for two of its own, else above.
            route = policy.review_route(self.counties.paths[row.jurisdiction_id], self.resolver.path_of(candidate_id))
            reviews.append(
                MatchReview(
                    jurisdiction_id=route,
                    incoming_id=real_id[id(row)],
                    candidate_id=candidate_id,
                    score=resolution.score or 0.0,
                    comparison=resolution.comparison,
                    source=f"inbound message {item.stored.message.pk}",
                )
            )
        match_reviews_open(reviews)
        self.report.persons_review += len(reviews)
        jurisdiction_of = {p.pk: p.jurisdiction_id for p in created}
        existing_ids = {p for item in pending for p in item.persons if isinstance(p, int)}
        jurisdiction_of.update(Person.objects.filter(pk__in=existing_ids).values_list("pk", "jurisdiction_id"))
        self._store_results(pending, real_id, jurisdiction_of)
        self._finish_messages(pending)
        self.timings["store"] += time.perf_counter() - started

    def _store_results(self, pending: list[_Pending], real_id: dict[int, int], jurisdiction_of: dict[int, int]) -> None:
        keys = {
            v["observation_key"] for item in pending for results in item.results for _r, v in results if v.get("observation_key")
        }
        earlier: dict[tuple[int, str], LabResult] = {}
        if keys:
            for lab in LabResult.objects.filter(observation_key__in=keys).order_by("pk"):
                earlier[(lab.person_id, lab.observation_key)] = lab
        to_create: list[LabResult] = []
        received: list[events.DomainEvent] = []
        corrected: list[events.DomainEvent] = []
        for item in pending:
            if item.problems:
                continue
            message = item.stored.message
            for person, results in zip(item.persons, item.results, strict=True):
                person_id = person if isinstance(person, int) else real_id[id(person)]
                for record, values in results:
                    key = values.get("observation_key", "")
                    before = earlier.get((person_id, key)) if key else None
                    if values.get("retract"):
                        retract_key = self._retract_key(record, item)
                        target = earlier.get((person_id, retract_key)) if retract_key else None
                        if target is None and retract_key:
                            target = LabResult.objects.filter(person_id=person_id, observation_key=retract_key).first()
                        if target is None:
                            item.warnings.append(
                                Problem(
                                    f"result {record.test_loinc}",
                                    "Marked entered in error, but no earlier result with this accession and test "
                                    "was received; nothing to retract.",
                                    "nothing_to_retract",
                                )
                            )
                            continue
                        corrected.append(self._revise(target, message, {"status": LabResult.Status.RETRACTED}, "retracted"))
                        self.report.retractions += 1
                        continue
                    if before is not None:
                        if before.result == values["result"] and before.status != LabResult.Status.RETRACTED:
                            self.report.results_ignored += 1  # the same result sent again
                            continue
                        changes = {k: values[k] for k in ("result", "result_code", "result_text", "status", "review_reason")}
                        if changes["status"] == LabResult.Status.FINAL:
                            changes["status"] = LabResult.Status.CORRECTED
                        if before.pk is None:
                            # The original came earlier in this same chunk and is not written yet: write it corrected.
                            self.report.results[before.result] -= 1
                            for field, value in changes.items():
                                setattr(before, field, value)
                            before.message = message
                        else:
                            corrected.append(self._revise(before, message, changes, values["result"]))
                        self.report.corrections += 1
                        self.report.results[values["result"]] += 1
                        continue
                    lab = LabResult(
                        person_id=person_id,
                        jurisdiction_id=jurisdiction_of[person_id],
                        source=_SOURCE[self.fmt],
                        entered_by=acting_user(self.actor),
                        message=message,
                        **values,
                    )
                    to_create.append(lab)
                    if key:
                        earlier[(person_id, key)] = lab
                    self.report.results[values["result"]] += 1
        insert_rows(LabResult, to_create)
        by_message: dict[int, list[int]] = {}
        for lab in to_create:
            by_message.setdefault(lab.message_id or 0, []).append(lab.pk)
            received.append(
                LabResultReceived(
                    lab_result_id=lab.pk, person_id=lab.person_id, jurisdiction_id=lab.jurisdiction_id, classification=lab.result
                )
            )
        for item in pending:
            item.outcome["lab_results"] = by_message.get(item.stored.message.pk, [])
        audit_record_many(
            actor=self.actor,
            action=Action.CREATE,
            object_type="lab_result",
            items=[(lab.pk, lab.jurisdiction_id) for lab in to_create],
            detail="lab intake",
        )
        # Delivered by the workers once this chunk commits: opening cases is not intake's work.
        events.publish_many(received + corrected)

    def _retract_key(self, record: ResultRecord, item: _Pending) -> str:
        if not record.accession:
            return ""
        lab_report = item.reports[0]
        return crypto.blind_index(
            f"{lab_report.sending_facility_id or lab_report.sending_facility}|{record.observation_key}", purpose="observation"
        )

    def _revise(
        self, lab: LabResult, message: InboundMessage, changes: dict[str, Any], classification: str
    ) -> events.DomainEvent:
        previous = {"result": lab.result, "status": lab.status, "result_code": lab.result_code, "message_id": lab.message_id}
        LabResultRevision.objects.create(lab_result=lab, message=message, previous=previous)
        old_result = lab.result
        for field, value in changes.items():
            setattr(lab, field, value)
        lab.message = message
        lab.save(update_fields=[*changes, "message"])
        audit_record_many(
            actor=self.actor,
            action=Action.UPDATE,
            object_type="lab_result",
            items=[(lab.pk, lab.jurisdiction_id)],
            fields=sorted(changes),
            detail="lab correction",
        )
        return LabResultCorrected(
            lab_result_id=lab.pk,
            person_id=lab.person_id,
            jurisdiction_id=lab.jurisdiction_id,
            previous=old_result,
            classification=classification,
        )

    def _finish_messages(self, pending: list[_Pending]) -> None:
        now = clock.now()
        for item in pending:
            message = item.stored.message
            message.attempts += 1
            message.processed_at = now
            message.warnings = _problems_json(item.warnings)
            self.report.warnings += len(item.warnings)
            first = item.reports[0] if item.reports else None
            if first is not None:
                message.control_id = first.control_id[:200]
                message.sending_facility = " ".join(first.sending_facility.split())[:200]
            if item.problems:
                message.state = InboundMessage.State.REJECTED
                message.problems = _problems_json(item.problems)
                self.report.reject(file=self.file_name, index=message.index, where=message.where, problems=item.problems)
            else:
                message.state = InboundMessage.State.PROCESSED
                message.problems = ""
                message.outcome = item.outcome
                self.report.accepted += 1
        update_rows(
            InboundMessage,
            [item.stored.message for item in pending],
            ["attempts", "processed_at", "warnings", "control_id", "sending_facility", "state", "problems", "outcome"],
        )


# ---------------------------------------------------------------------------------------------
# Driving it


@dataclasses.dataclass
class Intake:
    """One intake run: a file, an upload, or the messages of an MLLP connection."""

    root: Jurisdiction
    actor: User | None = None
    batch: IntakeBatch | None = None
    # HL7 senders (MSH-4 ids, as _facility_key gives them) this run takes messages from; None: any (see FeedSender).
    senders: frozenset[str] | None = None
    report: IngestReport = dataclasses.field(default_factory=IngestReport)
    # Seconds per stage (split, store_raw, parse, match, store, deliver), for bench/intake.py and logs.
    timings: defaultdict[str, float] = dataclasses.field(default_factory=lambda: defaultdict(float))

    def __post_init__(self) -> None:
        self.counties = _Counties(self.root)
        self.resolver = Resolver(self.root)
        self.file_name = self.batch.filename if self.batch is not None else ""
        self._stored_here: set[int] = set()  # messages this run stored (not an earlier attempt of its batch)

    # -- entry points

    def ingest_bytes(self, data: bytes, *, filename: str = "", progress: Progress | None = None) -> IngestReport:
        """Detect the format of a whole file and ingest every unit in it, CHUNK units at a time.

        A format whose units are cut lazily (CSV, whose every unit repeats the header) is read
        twice: once to count and check the units (a file-level problem found there refuses the
        whole file before anything is stored), once to ingest them; neither pass keeps more than
        a chunk of units.
        """
        self.report.files += 1
        self.file_name = filename or self.file_name
        fmt = detect.detect_format(data, filename)
        if fmt is None:
            self._file_rejected(data, filename, [Problem("file", detect.UNKNOWN_REASON, "unknown_format")])
            return self.report
        limit = max_file_bytes(fmt)
        if len(data) > limit:
            reason = f"The file is {len(data):,} bytes; at most {limit:,} are accepted for this format. Split it."
            self._file_rejected(data, filename, [Problem("file", reason, "too_large")], fmt=fmt)
            return self.report
        parser = detect.parser_for(fmt)
        if self.batch is not None and not self.batch.format:
            self.batch.format = fmt
            self.batch.save(update_fields=["format"])
        started = time.perf_counter()
        try:
            units: Iterable[RawUnit] = parser.split(data)
            if isinstance(units, Sized):
                total = len(units)
            else:
                total = sum(1 for _unit in units)
                units = parser.split(data)
        except ParseError as exc:
            self._file_rejected(data, filename, exc.problems, fmt=fmt)
            return self.report
        self.timings["split"] += time.perf_counter() - started
        if self.batch is not None:
            IntakeBatch.objects.filter(pk=self.batch.pk).update(units_total=total)
        done = 0
        for chunk in itertools.batched(units, CHUNK):
            self.ingest_units(chunk, fmt=fmt)
            done += len(chunk)
            if self.batch is not None:
                IntakeBatch.objects.filter(pk=self.batch.pk).update(units_done=done)
            if progress is not None:
                progress(done, total)
        return self.report

    def ingest_hl7_frame(self, data: bytes) -> list[InboundMessage]:
        """One MLLP frame (normally one message): stored, processed, and the stored rows returned for the ACK."""
        parser = detect.parser_for("hl7v2")
        # A frame may come hours after the previous one on the same connection: match against the
        # registry as it is now, not as this connection's first frame found it.
        self.resolver = Resolver(self.root)
        try:
            units = list(parser.split(data))
        except ParseError as exc:
            return [self._file_rejected(data, "", exc.problems, fmt="hl7v2")]
        return self.ingest_units(units, fmt="hl7v2")

    def resume(self, messages: list[InboundMessage]) -> None:
        """Process messages stored earlier and never processed (or failed on our side), by format."""
        by_format: dict[str, list[Stored]] = {}
        for message in messages:
            unit = RawUnit(index=message.index, text=message.raw, where=message.where)
            by_format.setdefault(message.format, []).append(Stored(unit, message, True, resumed=True))
        for fmt, items in by_format.items():
            if fmt not in detect.FORMATS:
                self._mark_rejected([(item, [Problem("file", detect.UNKNOWN_REASON, "unknown_format")]) for item in items])
                continue
            self.report.resumed += len(items)
            for start in range(0, len(items), CHUNK):
                self.process(items[start : start + CHUNK], fmt=fmt)

    def ingest_units(self, units: Sequence[RawUnit], *, fmt: str) -> list[InboundMessage]:
        started = time.perf_counter()
        stored, duplicates, earlier = store_units(
            units=units, fmt=fmt, batch=self.batch, jurisdiction=self.root, stored_here=self._stored_here
        )
        self.timings["store_raw"] += time.perf_counter() - started
        self.report.messages += len(units)
        self.report.duplicates += duplicates
        self.report.earlier += earlier
        to_process = [s for s in stored if s.process]
        self.report.resumed += sum(1 for s in to_process if s.resumed)
        self.process(to_process, fmt=fmt)
        return [s.message for s in stored]

    def process(self, items: list[Stored], *, fmt: str) -> None:
        if self.senders is not None and fmt == "hl7v2":
            items = self._refuse_unknown_senders(items)
        parser = detect.parser_for(fmt)
        pending: list[_Pending] = []
        rejected: list[tuple[Stored, list[Problem]]] = []
        started = time.perf_counter()
        known = condition_tests_configured()
        for stored in items:
            try:
                with classify.configured_tests(known):
                    reports = parser.parse(stored.unit)
            except ParseError as exc:
                rejected.append((stored, exc.problems))
                continue
            except Exception:  # a parser bug must not stop the feed: the unit is kept as failed
                logger.exception("parser %s failed on inbound message %s", fmt, stored.message.pk)
                self._mark_failed(stored.message, "parse")
                continue
            warnings = [w for r in reports for w in r.warnings]
            pending.append(_Pending(stored=stored, reports=reports, warnings=warnings))
        self.timings["parse"] += time.perf_counter() - started
        if rejected:
            self._mark_rejected(rejected)
        if pending:
            self._apply(pending, fmt=fmt)

    # -- internals

    def _apply(self, pending: list[_Pending], *, fmt: str) -> None:
        chunk = _Chunk(
            fmt=fmt,
            file_name=self.file_name,
            actor=self.actor,
            counties=self.counties,
            resolver=self.resolver,
            timings=self.timings,
        )
        try:
            with transaction.atomic():
                chunk.apply(pending)
        except Exception:
            if len(pending) == 1:
                logger.exception("inbound message %s failed", pending[0].stored.message.pk)
                self.resolver = Resolver(self.root)
                self._mark_failed(pending[0].stored.message, "apply")
                return
            # Something in this chunk broke: redo it one message per transaction, so only that one fails.
            self.resolver = Resolver(self.root)
            for item in pending:
                fresh = _Pending(stored=item.stored, reports=item.reports, warnings=list(item.warnings))
                self._apply([fresh], fmt=fmt)
            return
        self.report.merge(chunk.report)

    def finish(self) -> IngestReport:
        if self.batch is not None:
            self.batch.status = (
                IntakeBatch.Status.DONE if self.report.files > len(self.report.file_errors) else IntakeBatch.Status.FAILED
            )
            self.batch.finished_at = clock.now()
            self.batch.report = json.dumps(self.report.as_dict())
            self.batch.save(update_fields=["status", "finished_at", "report"])
        return self.report

    def _refuse_unknown_senders(self, items: list[Stored]) -> list[Stored]:
        """Messages whose MSH-4 is not an allowed sender are rejected, with the reason, before they are read."""
        from tracecenter.intake.formats.hl7v2 import message_sending_facility

        if self.senders is None:  # called only when a jurisdiction lists its senders
            raise RuntimeError("no list of senders to check against")
        kept: list[Stored] = []
        refused: list[tuple[Stored, list[Problem]]] = []
        for stored in items:
            namespace, universal = message_sending_facility(stored.unit.text)
            if {_facility_key(x) for x in (namespace, universal) if x} & self.senders:
                kept.append(stored)
                continue
            shown = ", ".join(x for x in (namespace, universal) if x)[:80] or "empty"
            stored.message.sending_facility = " ".join((namespace or universal).split())[:200]
            reason = (
                f"The sending facility in MSH-4 ({shown}) is not among the senders this jurisdiction takes lab results "
                "from; ask the health department to add it. The message is kept, and processed when sent again once it is."
            )
            refused.append((stored, [Problem("MSH-4", reason, UNKNOWN_SENDER)]))
        if refused:
            self._mark_rejected(refused)
        return kept

    def _mark_rejected(self, rejected: list[tuple[Stored, list[Problem]]]) -> None:
        now = clock.now()
        for stored, problems in rejected:
            message = stored.message
            message.state = InboundMessage.State.REJECTED
            message.problems = _problems_json(problems)
            message.attempts += 1
            message.processed_at = now
            self.report.reject(file=self.file_name, index=message.index, where=message.where, problems=problems)
        fields = ["state", "problems", "attempts", "processed_at", "sending_facility"]
        update_rows(InboundMessage, [s.message for s, _p in rejected], fields)

    def _mark_failed(self, message: InboundMessage, stage: str) -> None:
        message.state = InboundMessage.State.FAILED
        message.attempts += 1
        message.problems = _problems_json(
            [
                Problem(
                    "message",
                    f"TraceCenter could not {stage} this message (an internal error, logged); "
                    "it is kept and will be processed again.",
                    "internal_error",
                )
            ]
        )
        InboundMessage.objects.filter(pk=message.pk).update(
            state=message.state, attempts=message.attempts, problems=message.problems
        )
        self.report.failed += 1

    def _file_rejected(self, data: bytes, filename: str, problems: list[Problem], fmt: str = "") -> InboundMessage:
        """A file that holds no unit at all is still kept, as one rejected message (returned): its start only,
        when it is longer than KEPT_OF_A_REFUSED_FILE, with a problem saying so."""
        kept = data[:KEPT_OF_A_REFUSED_FILE]
        text = kept.decode("utf-8", errors="replace") if fmt else kept.decode("latin-1")
        keys = None
        where = "file"
        if len(data) > len(kept):
            keys = [file_content_key(fmt or "unknown", data)]
            where = f"file, first {len(kept):,} of {len(data):,} bytes"
            problems = [
                *problems,
                Problem(
                    "file",
                    f"Only the first {len(kept):,} of the file's {len(data):,} bytes are kept here, to show what it was: "
                    "the file was refused as a whole. Correct the file and send it again.",
                    "cut",
                ),
            ]
        unit = RawUnit(index=1, text=text, where=where)
        stored, duplicates, earlier = store_units(
            units=[unit],
            fmt=fmt or "unknown",
            batch=self.batch,
            jurisdiction=self.root,
            stored_here=self._stored_here,
            keys=keys,
        )
        self.report.messages += 1
        if duplicates or earlier:
            self.report.duplicates += duplicates
            self.report.earlier += earlier
        else:
            self._mark_rejected([(stored[0], problems)])
        self.report.file_errors.append({"file": filename or self.file_name, "problems": [p.as_dict() for p in problems]})
        return stored[0].message


def ingest_files(paths: Sequence[str], *, root: Jurisdiction, actor: User | None = None, workers: int = 1) -> IngestReport:
    """What `manage.py ingest` does: each file in its own batch, one report for all.

    With workers > 1 (PostgreSQL), files are ingested by that many processes at once. Two
    processes do not see each other's uncommitted new persons: one new person arriving in two
    files at the same moment can become two records, which their next result sends to review.
    """
    total = IngestReport()
    if workers <= 1 or len(paths) <= 1:
        for path in paths:
            total.merge(_ingest_path(path, root.pk, getattr(actor, "pk", None)))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from django.db import connections

        connections.close_all()  # each process opens its own connection after the fork
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for report in pool.map(_ingest_path, paths, [root.pk] * len(paths), [getattr(actor, "pk", None)] * len(paths)):
                total.merge(report)
    return total


def _ingest_path(path: str, root_id: int, actor_id: int | None) -> IngestReport:
    from pathlib import Path

    from django.contrib.auth import get_user_model

    root = Jurisdiction.objects.get(pk=root_id)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    file = Path(path)
    batch = IntakeBatch.objects.create(
        source=IntakeBatch.Source.FILE, filename=file.name[:255], jurisdiction=root, received_by=acting_user(actor)
    )
    run = Intake(root=root, actor=actor, batch=batch)
    size = file.stat().st_size
    with file.open("rb") as opened:
        head = opened.read(64 * 1024)  # enough to tell the format, before reading the whole file
    limit = max_file_bytes(detect.detect_format(head, str(path)))
    if size > limit:
        run.report.files += 1
        reason = f"The file is {size:,} bytes; at most {limit:,} are accepted for this format. Split it."
        run.report.file_errors.append({"file": str(path), "problems": [Problem("file", reason, "too_large").as_dict()]})
    else:
        run.ingest_bytes(file.read_bytes(), filename=str(path))
    return run.finish()


def resume_pending(*, root: Jurisdiction, include_failed: bool = False) -> int:
    """Process messages stored and never processed (a crash between storing and processing).

    Failed ones (an error on our side) are retried too when asked: after the cause is fixed.
    """
    states = [InboundMessage.State.RECEIVED] + ([InboundMessage.State.FAILED] if include_failed else [])
    total = 0
    while True:
        messages = list(
            InboundMessage.objects.filter(state__in=states, jurisdiction__path__startswith=root.path)
            .select_related("batch")
            .order_by("pk")[:CHUNK]
        )
        if not messages:
            return total
        run = Intake(root=root)
        run.resume(messages)
        run.finish()
        total += len(messages)
        # A message that failed again stays failed; do not loop on it.
        states = [InboundMessage.State.RECEIVED]


def message_fix_and_reprocess(*, actor: User | None, message: InboundMessage, text: str) -> InboundMessage:
    """A person corrected a rejected or failed message: the fix is a new message that replaces it.

    The original stays as received (raw is immutable), marked replaced, and linked to its fix.
    """
    if message.state not in (InboundMessage.State.REJECTED, InboundMessage.State.FAILED):
        raise DomainError(_("Only a rejected or failed message can be corrected."))
    if "\x00" in text or len(text.encode("utf-8")) > 5 * 1024 * 1024:
        raise DomainError(_("The corrected message is too large or holds a NUL character."), field="text")
    if message.format == "hl7v2":
        # Browsers send line feeds where HL7 has carriage returns: cut the text as a received file is cut,
        # so an untouched message is recognised as unchanged.
        try:
            units = list(detect.parser_for("hl7v2").split(text.encode("utf-8")))
        except ParseError as exc:
            raise DomainError(exc.problems[0].reason, field="text") from None
        if len(units) != 1:
            raise DomainError(_("The correction must hold exactly one message."), field="text")
        text = units[0].text
    if content_key(message.format, text) == message.content_key:
        raise DomainError(_("The message is unchanged: correct it before re-processing."), field="text")
    if message.format not in detect.FORMATS:
        raise DomainError(_("This file was not in a format TraceCenter reads; upload a corrected file instead."))
    batch = IntakeBatch.objects.create(
        source=IntakeBatch.Source.REPROCESS,
        filename=f"correction of message {message.pk}",
        format=message.format,
        jurisdiction=message.jurisdiction,
        received_by=acting_user(actor),
        units_total=1,
    )
    run = Intake(root=message.jurisdiction, actor=actor, batch=batch)
    # Stored, not shown translated: the words are the same whichever language the corrector reads.
    stored = run.ingest_units([RawUnit(index=1, text=text, where="corrected message")], fmt=message.format)
    # The correction is a delivery of one message, read: counted as such, so the list of deliveries shows it
    # done (1 / 1) rather than as a file that "could not be read" with nothing in it.
    run.report.files += 1
    batch.units_done = 1
    batch.save(update_fields=["units_done"])
    fixed = stored[0]
    if fixed.pk != message.pk:
        with transaction.atomic():
            InboundMessage.objects.filter(pk=fixed.pk, replaces__isnull=True).update(replaces=message)
            InboundMessage.objects.filter(pk=message.pk).update(state=InboundMessage.State.REPLACED)
    run.finish()
    audit_record_many(
        actor=actor,
        action=Action.UPDATE,
        object_type="inbound_message",
        items=[(message.pk, message.jurisdiction_id)],
        fields=["state"],
        detail=f"replaced by {fixed.pk}",
    )
    fixed.refresh_from_db()
    return fixed
