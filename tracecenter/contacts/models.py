from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction, Team
from tracecenter.cases.models import Case, RuleSet
from tracecenter.core.fields import EncryptedTextField
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
        indexes = [models.Index(fields=["owner", "status", "quarantine_end"], name="exposure_worklist_idx")]

    def __str__(self) -> str:
        return f"Contact {self.pk}"


class PlaceKind(models.TextChoices):
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


class Place(models.Model):
    """A public place (not a home: homes are persons' addresses, kept encrypted)."""

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="places")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("type"), max_length=16, choices=PlaceKind.choices, default=PlaceKind.OTHER)
    street = models.CharField(_("street address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["jurisdiction", "name"], name="place_lookup_idx")]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    """Something that happened at a place in a time window (a choir rehearsal, Tuesday 18:00-20:00)."""

    place = models.ForeignKey(Place, on_delete=models.PROTECT, related_name="events")
    name = models.CharField(_("name"), max_length=200)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))

    class Meta:
        ordering = ["-starts_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gte=models.F("starts_at")), name="event_ends_after_start")]

    def __str__(self) -> str:
        return self.name


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
