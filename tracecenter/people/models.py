from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction
from tracecenter.core import crypto
from tracecenter.core.fields import EncryptedDateField, EncryptedTextField
from tracecenter.people.normalize import name_key


class Sex(models.TextChoices):
    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    OTHER = "O", _("Other")
    UNKNOWN = "U", _("Unknown")


class Household(models.Model):
    """People who live together: household members are the first contacts of a case."""

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Household {self.pk}"


class Person(models.Model):
    """Someone who is, or was, a case, a contact, or both.

    Identifying fields are encrypted; the *_bidx columns are keyed hashes of their
    normalized values, which is how people are found without decrypting everyone.
    """

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="persons")
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    first_name = EncryptedTextField(_("first name"))
    middle_name = EncryptedTextField(_("middle name"), blank=True, default="")
    last_name = EncryptedTextField(_("last name"))
    date_of_birth = EncryptedDateField(_("date of birth"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    preferred_language = models.CharField(_("preferred language"), max_length=8, default="en")
    street = EncryptedTextField(_("street address"), blank=True, default="")
    city = EncryptedTextField(_("city"), blank=True, default="")
    state = models.CharField(_("state"), max_length=2, blank=True, default="")
    postal_code = EncryptedTextField(_("postal code"), blank=True, default="")
    notes = EncryptedTextField(_("notes"), blank=True, default="")
    first_name_bidx = models.CharField(max_length=32, db_index=True, editable=False)
    last_name_bidx = models.CharField(max_length=32, db_index=True, editable=False)
    dob_bidx = models.CharField(max_length=32, db_index=True, editable=False, blank=True)
    # Who entered the person: until they are a case or a contact, that is who may see them.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["last_name_bidx", "dob_bidx"], name="person_name_dob_idx")]

    def __str__(self) -> str:
        return f"Person {self.pk}"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.first_name_bidx = crypto.blind_index(name_key(self.first_name), purpose="first_name")
        self.last_name_bidx = crypto.blind_index(name_key(self.last_name), purpose="last_name")
        self.dob_bidx = crypto.blind_index(self.date_of_birth.isoformat(), purpose="dob") if self.date_of_birth else ""
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            kwargs["update_fields"] = set(kwargs["update_fields"]) | {"first_name_bidx", "last_name_bidx", "dob_bidx"}
        super().save(*args, **kwargs)


class ContactPoint(models.Model):
    """A phone number (E.164) or e-mail address of a person, encrypted, with its blind index."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("phone")
        EMAIL = "email", _("e-mail")

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="contact_points")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = EncryptedTextField()
    value_bidx = models.CharField(max_length=32, db_index=True, editable=False)
    label = models.CharField(max_length=16, blank=True, default="")
    rank = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["kind", "rank", "pk"]
        constraints = [models.UniqueConstraint(fields=["person", "kind", "value_bidx"], name="contact_point_unique")]

    def __str__(self) -> str:
        return f"{self.kind} of person {self.person_id}"

    @staticmethod
    def index_of(kind: str, normalized_value: str) -> str:
        return crypto.blind_index(normalized_value, purpose=kind)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.value_bidx = self.index_of(self.kind, self.value)
        super().save(*args, **kwargs)
