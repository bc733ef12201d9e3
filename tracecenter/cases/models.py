from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction, Team
from tracecenter.cases import engine
from tracecenter.core.fields import EncryptedTextField
from tracecenter.intake import conditions
from tracecenter.intake.models import LabResult
from tracecenter.people.models import Person


class RuleSet(models.Model):
    """One dated version of a jurisdiction's isolation and quarantine rules.

    A jurisdiction without versions of its own inherits its parent's; the built-in
    default applies where nobody above has configured anything.
    """

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="rule_sets")
    # "" is a version for every condition that has none of its own (conditions.py); else one condition's code.
    condition = models.CharField(_("condition"), max_length=32, blank=True, default="", choices=conditions.CHOICES)
    effective_from = models.DateField(_("in force from"))
    days_before_onset = models.PositiveSmallIntegerField(_("infectious days before onset"), default=2)
    days_before_specimen = models.PositiveSmallIntegerField(_("infectious days before specimen (asymptomatic)"), default=2)
    isolation_days = models.PositiveSmallIntegerField(_("isolation days"), default=10)
    quarantine_days = models.PositiveSmallIntegerField(_("quarantine days"), default=14)
    test_based_release = models.BooleanField(_("test-based release"), default=False)
    monitoring_days = models.PositiveSmallIntegerField(_("monitoring days"), default=14)
    note = models.CharField(_("guidance it follows"), max_length=200, blank=True)

    class Meta:
        ordering = ["jurisdiction", "condition", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["jurisdiction", "condition", "effective_from"], name="ruleset_one_per_condition_date")
        ]

    def __str__(self) -> str:
        return f"Rules of {self.jurisdiction_id} from {self.effective_from}"

    def as_rules(self) -> engine.Rules:
        return engine.Rules(
            effective_from=self.effective_from,
            days_before_onset=self.days_before_onset,
            days_before_specimen=self.days_before_specimen,
            isolation_days=self.isolation_days,
            quarantine_days=self.quarantine_days,
            test_based_release=self.test_based_release,
            monitoring_days=self.monitoring_days,
        )


class TracedCondition(models.Model):
    """Whether a condition opens cases from lab results in a jurisdiction (and below), and through which tests.

    The nearest jurisdiction (itself, then up the tree) with a row for a condition decides for it; where none
    has one, the installation's DEFAULT_CASE_CONDITIONS apply (conditions.py).
    """

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="traced_conditions")
    condition = models.CharField(_("condition"), max_length=32, choices=conditions.CHOICES)
    opens_cases = models.BooleanField(_("a positive result opens a case"), default=True)
    test_kinds = models.JSONField(_("tests that open a case"), default=list)  # of conditions.TEST_KINDS
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["jurisdiction", "condition"]
        constraints = [models.UniqueConstraint(fields=["jurisdiction", "condition"], name="traced_condition_once")]

    def __str__(self) -> str:
        return f"{self.condition} in {self.jurisdiction_id}"


class CaseStatus(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    ATTEMPTING = "attempting", _("Attempting contact")
    INTERVIEWED = "interviewed", _("Interviewed")
    UNREACHABLE = "unreachable", _("Unreachable")
    REFUSED = "refused", _("Refused")
    IN_ISOLATION = "in_isolation", _("In isolation")
    RELEASED = "released", _("Released")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = [s for s in CaseStatus.values if s != CaseStatus.CLOSED]


class Symptom(models.TextChoices):
    FEVER = "fever", _("Fever or chills")
    COUGH = "cough", _("Cough")
    SHORT_BREATH = "short_breath", _("Shortness of breath")
    FATIGUE = "fatigue", _("Fatigue")
    ACHES = "aches", _("Muscle or body aches")
    HEADACHE = "headache", _("Headache")
    TASTE_SMELL = "taste_smell", _("New loss of taste or smell")
    SORE_THROAT = "sore_throat", _("Sore throat")
    CONGESTION = "congestion", _("Congestion or runny nose")
    NAUSEA = "nausea", _("Nausea or vomiting")
    DIARRHEA = "diarrhea", _("Diarrhea")


class Case(models.Model):
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="cases")
    condition = models.CharField(_("condition"), max_length=32, choices=conditions.CHOICES, default="covid-19")
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="cases")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_cases"
    )
    status = models.CharField(_("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.NEW)
    priority = models.PositiveSmallIntegerField(_("priority"), default=3)
    lab_results = models.ManyToManyField(LabResult, related_name="cases", blank=True)
    specimen_collection_date = models.DateField(_("specimen collection date"), null=True, blank=True)
    symptom_onset = models.DateField(_("symptom onset"), null=True, blank=True)
    asymptomatic = models.BooleanField(_("no symptoms"), default=False)
    symptoms = models.JSONField(_("symptoms"), default=list, blank=True)
    hospitalized = models.BooleanField(_("hospitalized"), default=False)
    congregate_setting = models.BooleanField(_("lives or works in a congregate setting"), default=False)
    infectious_start = models.DateField(_("infectious from"), null=True, blank=True)
    infectious_end = models.DateField(_("infectious until"), null=True, blank=True)
    isolation_end = models.DateField(_("isolation ends"), null=True, blank=True)
    released_on = models.DateField(_("released on"), null=True, blank=True)
    rules = models.ForeignKey(RuleSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    interview_notes = EncryptedTextField(_("interview notes"), blank=True, default="")
    interviewed_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "status", "priority"], name="case_worklist_idx"),
            models.Index(fields=["jurisdiction", "status", "priority"], name="case_jurisdiction_idx"),
            # The open cases alone (a few percent of a state's cases, the rest closed): the supervisors' lists, their
            # counts and the caseload read these rows, never the years of closed ones. The condition is the lists'
            # own `status IN OPEN_STATUSES`, so the database sees the index applies.
            # With the columns the reach, filters and counts read (PostgreSQL): counted from the index alone.
            models.Index(
                fields=["jurisdiction", "priority", "opened_at"],
                include=["team", "owner", "status", "id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="case_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status != CaseStatus.CLOSED


class CaseStatusChange(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=CaseStatus.choices)
    to_status = models.CharField(max_length=16, choices=CaseStatus.choices)
    # Free text a tracer types ("her son answered, she is in hospital"): encrypted like a note.
    # At most 300 characters, checked by the service (a ciphertext is longer than its text).
    reason = EncryptedTextField(_("reason"))
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status}"


class CaseActivity(models.Model):
    """The case's timeline. `summary` is encrypted: most lines name records and dates, but some
    carry what a person typed (the reason of a transfer, the name of a place visited)."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Case opened")
        LAB_RESULT = "lab_result", _("Lab result")
        STATUS = "status", _("Status changed")
        ASSIGNED = "assigned", _("Assigned")
        INTERVIEW = "interview", _("Interview recorded")
        CONTACT = "contact", _("Contact added")
        PLACE = "place", _("Place visited")
        TRANSFER = "transfer", _("Transferred")
        ATTEMPT = "attempt", _("Attempt to reach")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="activities")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # What the line says, as a code worded at display time in the reader's language (cases/timeline.py), with
    # its parameters as JSON in `summary`. Empty for lines stored before: their `summary` is the text.
    code = models.CharField(max_length=40, blank=True, default="")
    summary = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["-at", "-pk"]

    @property
    def line(self) -> str:
        """The line as the reader should read it, in the active language."""
        from tracecenter.cases.timeline import activity_line  # the wordings name the models' choices

        return activity_line(self.code, self.summary)

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id}"
