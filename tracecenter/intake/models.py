from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction
from tracecenter.core.fields import EncryptedBlobField, EncryptedTextField
from tracecenter.intake.conditions import CHOICES as CONDITION_CHOICES
from tracecenter.intake.conditions import TEST_KIND_CHOICES
from tracecenter.people.models import Person


class ResultClass(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEGATIVE = "negative", _("Negative")
    INCONCLUSIVE = "inconclusive", _("Inconclusive")
    UNKNOWN = "unknown", _("Unknown (needs review)")


class IntakeBatch(models.Model):
    """One delivery: a file given to `manage.py ingest`, an upload, or an MLLP connection."""

    class Source(models.TextChoices):
        FILE = "file", _("file (command line)")
        UPLOAD = "upload", _("upload")
        MLLP = "mllp", _("MLLP feed")
        REPROCESS = "reprocess", _("corrected and re-processed")

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("could not be read")

    source = models.CharField(max_length=16, choices=Source.choices)
    filename = models.CharField(max_length=255, blank=True, default="")
    format = models.CharField(max_length=8, blank=True, default="")
    # Where persons without a county we know go, and who may see this batch.
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="+")
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    units_total = models.PositiveIntegerField(default=0)  # known once the file is split; progress = units_done / units_total
    units_done = models.PositiveIntegerField(default=0)
    # The report as `ingest --json` prints it; rejection reasons may quote values, so it is encrypted.
    report = EncryptedTextField(blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"Intake batch {self.pk}"


class FeedSender(models.Model):
    """A sending facility allowed to deliver lab results to a jurisdiction over MLLP (`manage.py feed_senders`).

    While a jurisdiction has at least one active sender, its MLLP listener refuses (AR, and the
    message kept as rejected with the reason) every message whose MSH-4 names another facility.
    With none, it takes messages from any sender, as before.
    """

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="+")
    # MSH-4 as the sender fills it: its universal id (MSH-4.2: an OID, a CLIA number) or else its namespace id (MSH-4.1).
    sending_facility = models.CharField(_("sending facility"), max_length=200)
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["jurisdiction", "sending_facility"]
        constraints = [models.UniqueConstraint(fields=["jurisdiction", "sending_facility"], name="feed_sender_once")]

    def __str__(self) -> str:
        return f"{self.sending_facility} ({self.name})" if self.name else self.sending_facility


class IntakeUpload(models.Model):
    """An uploaded file, kept encrypted from the moment the request receives it until a worker has ingested it.

    Once every unit of it is stored on its own (InboundMessage), the file itself is dropped:
    the same personal data is not kept twice.
    """

    batch = models.OneToOneField(IntakeBatch, on_delete=models.CASCADE, related_name="upload")
    data = EncryptedBlobField(null=True)
    size = models.PositiveBigIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    ingested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Upload of batch {self.batch_id}"


class InboundMessage(models.Model):
    """One received unit (HL7 message, CSV row, FHIR Bundle), stored raw before anything else.

    `raw` never changes after insert (a PostgreSQL trigger refuses it); a fixed message
    is a new row that `replaces` the failed one. `content_key` is a keyed hash of the
    format and raw text: the same message received twice is recognised without decrypting.
    """

    class State(models.TextChoices):
        RECEIVED = "received", _("received, not yet processed")
        PROCESSED = "processed", _("processed")
        REJECTED = "rejected", _("rejected")
        FAILED = "failed", _("failed while processing")
        REPLACED = "replaced", _("replaced by a corrected message")

    batch = models.ForeignKey(IntakeBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="messages")
    index = models.PositiveIntegerField(default=1)
    where = models.CharField(max_length=60, blank=True, default="")
    format = models.CharField(max_length=8)
    raw = EncryptedTextField()
    content_key = models.CharField(max_length=32, unique=True, editable=False)
    control_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    sending_facility = models.CharField(max_length=200, blank=True, default="")
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED)
    # JSON lists of {location, reason, code}; encrypted because reasons quote the bad values.
    problems = EncryptedTextField(blank=True, default="")
    warnings = EncryptedTextField(blank=True, default="")
    # Ids only (lab results, persons, cases): what processing made of the message.
    outcome = models.JSONField(default=dict, blank=True)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["state", "jurisdiction"], name="inbound_state_idx"),
            models.Index(fields=["batch", "index"], name="inbound_batch_idx"),
        ]

    def __str__(self) -> str:
        return f"Inbound message {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The raw text is written once. Later saves must name the fields they change, and not these.
        if self.pk is not None and not self._state.adding:
            fields = kwargs.get("update_fields")
            if fields is None or {"raw", "content_key", "format"} & set(fields):
                raise ValueError("A received message's raw text cannot change; save(update_fields=[...]) its state.")
        super().save(*args, **kwargs)


class LabResult(models.Model):
    """One test result for one person: the start of every case."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("entered by staff")
        API = "api", _("API")
        HL7V2 = "hl7v2", _("HL7 v2 lab report")
        CSV = "csv", _("CSV upload")
        FHIR = "fhir", _("FHIR")

    class Status(models.TextChoices):
        FINAL = "final", _("final")
        PRELIMINARY = "preliminary", _("preliminary")
        CORRECTED = "corrected", _("corrected")
        RETRACTED = "retracted", _("entered in error (retracted)")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="lab_results")
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="+")
    specimen_collection_date = models.DateField(_("specimen collection date"))
    result_date = models.DateField(_("result date"), null=True, blank=True)
    test_loinc = models.CharField(_("test (LOINC code)"), max_length=10)
    test_name = models.CharField(_("test name"), max_length=200, blank=True)
    result = models.CharField(_("result"), max_length=16, choices=ResultClass.choices)
    performing_lab = models.CharField(_("performing laboratory"), max_length=200, blank=True)
    ordering_provider = models.CharField(_("ordering provider"), max_length=200, blank=True)
    ordering_facility = models.CharField(_("ordering facility"), max_length=200, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    condition = models.CharField(_("condition"), max_length=32, blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.FINAL)
    result_code = models.CharField(_("result code"), max_length=40, blank=True, default="")
    result_text = models.CharField(_("result as reported"), max_length=200, blank=True, default="")
    # Why a person should look at this result (an unknown result code, a pooled specimen...).
    review_reason = models.CharField(max_length=300, blank=True, default="")
    sending_facility = models.CharField(_("sending facility"), max_length=200, blank=True, default="")
    # Keyed hash of sender + accession + LOINC: how a correction finds the result it corrects.
    observation_key = models.CharField(max_length=32, blank=True, default="", db_index=True, editable=False)
    message = models.ForeignKey(InboundMessage, null=True, blank=True, on_delete=models.PROTECT, related_name="lab_results")
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-specimen_collection_date", "-pk"]
        indexes = [models.Index(fields=["person", "specimen_collection_date"], name="lab_person_date_idx")]

    def __str__(self) -> str:
        return f"Lab result {self.pk}"


class LabResultRevision(models.Model):
    """What a lab result was before a correction or retraction changed it."""

    lab_result = models.ForeignKey(LabResult, on_delete=models.CASCADE, related_name="revisions")
    message = models.ForeignKey(InboundMessage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    previous = models.JSONField()  # result, status, result_code, dates: no identifying values
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "pk"]

    def __str__(self) -> str:
        return f"Revision of lab result {self.lab_result_id}"


class PostalArea(models.Model):
    """Postal codes starting with `prefix` lie in `jurisdiction`: where a lab result for such an address goes.

    Labs often write no county, only a postal code. A jurisdiction records nothing of its area, so
    administrators list the prefixes of each county (`manage.py postal_areas`); the longest prefix
    that matches wins (a 5-digit code may carve a town out of a 3-digit area).
    """

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="+")
    prefix = models.CharField(_("postal code prefix"), max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["prefix"]
        constraints = [models.UniqueConstraint(fields=["prefix"], name="postal_area_prefix_once")]

    def __str__(self) -> str:
        return f"{self.prefix}* -> jurisdiction {self.jurisdiction_id}"


class ConditionTest(models.Model):
    """A test (LOINC code) a jurisdiction's labs report for a condition, beyond the codes TraceCenter knows
    (classify.py): a measles PCR, a tuberculosis interferon-gamma release assay... It applies to the
    jurisdiction and those below it."""

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="condition_tests")
    loinc = models.CharField(_("LOINC code"), max_length=10)
    condition = models.CharField(_("condition"), max_length=32, choices=CONDITION_CHOICES)
    kind = models.CharField(_("kind of test"), max_length=16, choices=TEST_KIND_CHOICES)

    class Meta:
        ordering = ["jurisdiction", "loinc"]
        constraints = [models.UniqueConstraint(fields=["jurisdiction", "loinc"], name="condition_test_once")]

    def __str__(self) -> str:
        return f"{self.loinc} ({self.condition}) in {self.jurisdiction_id}"


def condition_tests_configured() -> dict[str, tuple[str, str]]:
    """Every test a jurisdiction configured (LOINC code -> (condition, kind)): what intake keeps besides its own
    catalogue. Should two jurisdictions give one code different conditions, the first configured is read here;
    each jurisdiction's case opening reads its own (cases.selectors.case_triggers)."""
    found: dict[str, tuple[str, str]] = {}
    for loinc, condition, kind in ConditionTest.objects.order_by("pk").values_list("loinc", "condition", "kind"):
        found.setdefault(loinc, (condition, kind))
    return found
