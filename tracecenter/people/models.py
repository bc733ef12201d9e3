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
    # A date of birth received that is not a real date (19850631), as its digits, while date_of_birth is
    # empty: one mistyped digit from the real date, so identity matching compares it as a typo.
    date_of_birth_as_written = EncryptedTextField(_("date of birth as received"), blank=True, default="")
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
    # Set when this record was merged into another: everything it had moved there, and the
    # merge (people.merge) records what moved so it can be undone.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from", editable=False
    )
    # Set when retention erased who this was (people/retention.py): the records about them stay, anonymous.
    deidentified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["last_name_bidx", "dob_bidx"], name="person_name_dob_idx")]

    def __str__(self) -> str:
        return f"Person {self.pk}"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)

    def set_blind_indexes(self) -> None:
        """Compute the *_bidx columns (save() does; bulk_create does not call save())."""
        self.first_name_bidx = crypto.blind_index(name_key(self.first_name), purpose="first_name")
        self.last_name_bidx = crypto.blind_index(name_key(self.last_name), purpose="last_name")
        self.dob_bidx = crypto.blind_index(self.date_of_birth.isoformat(), purpose="dob") if self.date_of_birth else ""

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.set_blind_indexes()
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            kwargs["update_fields"] = set(kwargs["update_fields"]) | {"first_name_bidx", "last_name_bidx", "dob_bidx"}
        super().save(*args, **kwargs)


class PersonNameChange(models.Model):
    """A name a person was known by before a correction: the earlier value, kept encrypted.

    The audit trail names the fields changed, never their values; a corrected name is still
    evidence (a lab result typed with the old spelling, a caller who uses it), so it is kept here.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="name_changes")
    first_name = EncryptedTextField(_("first name"))
    middle_name = EncryptedTextField(_("middle name"), blank=True, default="")
    last_name = EncryptedTextField(_("last name"))
    changed_at = models.DateTimeField(auto_now_add=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"Earlier name of person {self.person_id}"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)


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


class PersonMatchKey(models.Model):
    """A blocking key of a person (people.matching.blocking_keys), as a blind index.

    Identity matching looks up candidates by these keys: equality on keyed hashes is all
    the database can do with encrypted identities, and all blocking needs.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="match_keys")
    key = models.CharField(max_length=32)

    class Meta:
        # (key, person): candidates are read from the index alone, without visiting the table.
        indexes = [models.Index(fields=["key", "person"], name="person_match_key_idx")]
        constraints = [models.UniqueConstraint(fields=["person", "key"], name="person_match_key_unique")]

    def __str__(self) -> str:
        return f"match key of person {self.person_id}"


class MatchReview(models.Model):
    """An incoming person who may be an existing one: a supervisor decides.

    The incoming record was kept as its own person (so its lab result and case go on
    without waiting); deciding "same person" merges it into the candidate.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        MERGED = "merged", _("same person, merged")
        DISTINCT = "distinct", _("different people")

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="+")
    incoming = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    # Field outcomes and weights only ("first_name: nickname +4.1"), never the values.
    comparison = models.JSONField(default=list)
    source = models.CharField(max_length=120, blank=True, default="")  # e.g. "inbound message 123"
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-score", "pk"]
        indexes = [models.Index(fields=["status", "jurisdiction"], name="match_review_open_idx")]
        constraints = [models.UniqueConstraint(fields=["incoming", "candidate"], name="match_review_pair_unique")]

    def __str__(self) -> str:
        return f"Match review {self.pk}"


class PersonMerge(models.Model):
    """One merge of `merged` into `survivor`, with every row it moved, so it can be undone."""

    survivor = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    merged = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    # {"intake.labresult.person": [ids...], "people.contactpoint.person": [...], ...}
    moved = models.JSONField(default=dict)
    reason = models.CharField(max_length=200, blank=True, default="")
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField(auto_now_add=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-merged_at", "-pk"]

    def __str__(self) -> str:
        return f"Merge {self.pk}"


class MatchWeights(models.Model):
    """Matching weights estimated from the registry (`manage.py match_weights_refresh`); the newest is used.

    `weights` is people.fellegi_sunter.Model.to_json(): m and u per comparison level, and
    the term frequencies of names carried by at least TF_MIN_COUNT persons (no rare name).
    """

    estimated_at = models.DateTimeField(auto_now_add=True)
    persons = models.PositiveIntegerField()
    weights = models.JSONField()

    class Meta:
        ordering = ["-estimated_at", "-pk"]

    def __str__(self) -> str:
        return f"Match weights {self.pk}"
