from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction, Team
from tracecenter.cases.models import Case, RuleSet
from tracecenter.core import crypto
from tracecenter.core.fields import EncryptedTextField
from tracecenter.core.outcomes import CallOutcome
from tracecenter.people.models import Person


class Setting(models.TextChoices):
    HOUSEHOLD = "household", _("Household")
    WORK = "work", _("Work")
    SCHOOL = "school", _("School or childcare")
    SOCIAL = "social", _("Social gathering")
    HEALTHCARE = "healthcare", _("Healthcare")
    CONGREGATE = "congregate", _("Congregate living")
    TRAVEL = "travel", _("Travel")
    RELIGIOUS = "religious", _("Place of worship")
    OTHER = "other", _("Other")


class Proximity(models.TextChoices):
    WITHIN_6_FEET = "within_6ft", _("Within 6 feet")
    SAME_ROOM = "same_room", _("Same room, more than 6 feet")
    PHYSICAL = "physical", _("Physical contact")
    UNKNOWN = "unknown", _("Unknown")


class Relationship(models.TextChoices):
    HOUSEHOLD_MEMBER = "household_member", _("Household member")
    PARTNER = "partner", _("Partner")
    FAMILY = "family", _("Family (other household)")
    FRIEND = "friend", _("Friend")
    COWORKER = "coworker", _("Coworker")
    CLASSMATE = "classmate", _("Classmate")
    CAREGIVER = "caregiver", _("Caregiver or patient")
    OTHER = "other", _("Other")


class ExposureStatus(models.TextChoices):
    NEW = "new", _("New")
    NOTIFIED = "notified", _("Notified")
    MONITORING = "monitoring", _("In quarantine, monitored")
    UNREACHABLE = "unreachable", _("Unreachable")
    BECAME_CASE = "became_case", _("Became a case")
    RELEASED = "released", _("Released from quarantine")


# A contact still followed: not released, not become a case (the work lists' "open contacts").
OPEN_EXPOSURE_STATUSES = [s for s in ExposureStatus.values if s not in (ExposureStatus.RELEASED, ExposureStatus.BECAME_CASE)]


class Exposure(models.Model):
    """A person exposed to a case (or, for contacts of contacts, to another contact)."""

    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="exposures")
    parent_exposure = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="secondary_exposures"
    )
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="exposures")
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="exposures")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="exposures")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_exposures"
    )
    status = models.CharField(_("status"), max_length=16, choices=ExposureStatus.choices, default=ExposureStatus.NEW)
    first_exposure_date = models.DateField(_("first exposure"), null=True, blank=True)
    last_exposure_date = models.DateField(_("last exposure"))
    setting = models.CharField(_("setting"), max_length=16, choices=Setting.choices, default=Setting.OTHER)
    proximity = models.CharField(_("proximity"), max_length=16, choices=Proximity.choices, default=Proximity.UNKNOWN)
    duration_minutes = models.PositiveIntegerField(_("minutes together"), null=True, blank=True)
    relationship = models.CharField(_("relationship"), max_length=20, choices=Relationship.choices, default=Relationship.OTHER)
    quarantine_end = models.DateField(_("quarantine ends"))
    rules = models.ForeignKey(RuleSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    notes = EncryptedTextField(_("notes"), blank=True, default="")
    # The case this contact became: with `case` (or `parent_exposure`), an edge of the transmission chain.
    resulting_case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="source_exposures")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "person"], condition=Q(case__isnull=False), name="exposure_once_per_case"),
            models.UniqueConstraint(
                fields=["parent_exposure", "person"],
                condition=Q(parent_exposure__isnull=False),
                name="exposure_once_per_parent",
            ),
            models.CheckConstraint(
                condition=Q(case__isnull=False) | Q(parent_exposure__isnull=False), name="exposure_has_a_source"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status", "quarantine_end"], name="exposure_worklist_idx"),
            # The open contacts alone (the rest released over the years): what supervisors' lists and caseload read.
            models.Index(
                fields=["jurisdiction", "quarantine_end"],
                include=["team", "owner", "status", "id"],  # counted from the index alone (PostgreSQL)
                condition=Q(status__in=OPEN_EXPOSURE_STATUSES),
                name="exposure_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Contact {self.pk}"


class PlaceKind(models.TextChoices):
    # A private home (the case's own, a friend's where a party was held): personal data, kept encrypted.
    RESIDENCE = "residence", _("Home or residence")
    RESTAURANT = "restaurant", _("Restaurant or bar")
    STORE = "store", _("Store")
    WORKPLACE = "workplace", _("Workplace")
    SCHOOL = "school", _("School or childcare")
    WORSHIP = "worship", _("Place of worship")
    GYM = "gym", _("Gym or sports")
    HEALTHCARE = "healthcare", _("Healthcare facility")
    CONGREGATE = "congregate", _("Congregate living")
    TRANSIT = "transit", _("Transit")
    VENUE = "venue", _("Event venue")
    OTHER = "other", _("Other")


# Kinds whose name and address are a person's, not a business's or an institution's.
RESIDENTIAL_KINDS = frozenset({PlaceKind.RESIDENCE})


def _index_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def home_index(name: str, street: str) -> str:
    """The blind index that finds a home again (same name and street, whatever the case and spaces)."""
    return crypto.blind_index(f"{_index_text(name)}\x1f{_index_text(street)}", purpose="place_home")


def event_name_index(name: str) -> str:
    return crypto.blind_index(_index_text(name), purpose="event_name")


class Place(models.Model):
    """Where a case went. Two kinds, stored differently:

    - a public place (a business, a school, a venue, a congregate setting: any kind but a
      residence) is in clear in `name`, `street`, `city` and `postal_code`, and searchable,
      because cluster detection must match it across the center;
    - a residence (kind "residence") is a person's home: its name and address are encrypted in
      the `home_*` columns like a person's address, the clear columns stay empty (a database
      constraint says so), and it is found again only through `home_bidx`, a blind index of
      its name and street.
    """

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="places")
    kind = models.CharField(_("type"), max_length=16, choices=PlaceKind.choices, default=PlaceKind.OTHER)
    name = models.CharField(_("name"), max_length=200, blank=True)
    street = models.CharField(_("street address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True, db_index=True)
    home_name = EncryptedTextField(_("name"), blank=True, default="")
    home_street = EncryptedTextField(_("street address"), blank=True, default="")
    home_city = EncryptedTextField(_("city"), blank=True, default="")
    home_postal_code = EncryptedTextField(_("postal code"), blank=True, default="")
    home_bidx = models.CharField(max_length=32, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["jurisdiction", "name"], name="place_lookup_idx"),
            models.Index(fields=["jurisdiction", "home_bidx"], name="place_home_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind=PlaceKind.RESIDENCE) | Q(name="", street="", city="", postal_code=""),
                name="place_home_never_in_clear",
            ),
            models.CheckConstraint(condition=Q(kind=PlaceKind.RESIDENCE) | Q(home_bidx=""), name="place_public_in_clear"),
        ]

    def __str__(self) -> str:
        # Never a home's name: a string form ends up in logs and error reports.
        return f"Residence {self.pk}" if self.is_residence else self.name

    @property
    def is_residence(self) -> bool:
        return self.kind in RESIDENTIAL_KINDS

    @property
    def display_name(self) -> str:
        return self.home_name if self.is_residence else self.name

    @property
    def display_street(self) -> str:
        return self.home_street if self.is_residence else self.street


class Event(models.Model):
    """Something that happened at a place in a time window (a choir rehearsal, Tuesday 18:00-20:00).

    Its name is free text (it may be "Ana's birthday party"): encrypted, found again by `name_bidx`.
    """

    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="events")
    name = EncryptedTextField(_("name"))
    name_bidx = models.CharField(max_length=32, blank=True, default="", editable=False)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["place", "starts_at"], name="event_lookup_idx")]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gte=models.F("starts_at")), name="event_ends_after_start")]

    def __str__(self) -> str:
        return f"Event {self.pk}"


class Attendance(models.Model):
    """A person at a place (or at an event there) from one time to another: the raw material of clusters."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="attendances")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="attendances")
    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="attendances")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.PROTECT, related_name="attendances")
    arrived_at = models.DateTimeField(_("arrived"))
    left_at = models.DateTimeField(_("left"))
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["arrived_at"]
        indexes = [models.Index(fields=["place", "arrived_at"], name="attendance_place_time_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(left_at__gte=models.F("arrived_at")), name="attendance_leaves_after_arrival")
        ]

    def __str__(self) -> str:
        return f"Attendance {self.pk}"


class ExposureActivity(models.Model):
    """The contact's history: status changes (with their reason), call attempts, exposure corrections,
    reassignments. `note` is what a person typed (a reason, what was said on a call): encrypted."""

    class Kind(models.TextChoices):
        STATUS = "status", _("Status changed")
        CALL = "call", _("Call attempt")
        EXPOSURE = "exposure", _("Exposure updated")
        ASSIGNED = "assigned", _("Assigned")

    exposure = models.ForeignKey(Exposure, on_delete=models.CASCADE, related_name="activities")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    outcome = models.CharField(max_length=16, choices=CallOutcome.choices, blank=True, default="")
    # Facts the system wrote (statuses, dates), never what a person typed: that is `note`.
    summary = models.CharField(max_length=200, blank=True, default="")
    note = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["exposure", "at"], name="exposure_activity_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on contact {self.exposure_id}"
