from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.models import Jurisdiction
from tracecenter.people.models import Person


class ResultClass(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEGATIVE = "negative", _("Negative")
    INCONCLUSIVE = "inconclusive", _("Inconclusive")
    UNKNOWN = "unknown", _("Unknown (needs review)")


class LabResult(models.Model):
    """One test result for one person: the start of every case."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("entered by staff")
        API = "api", _("API")

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
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-specimen_collection_date", "-pk"]
        indexes = [models.Index(fields=["person", "specimen_collection_date"], name="lab_person_date_idx")]

    def __str__(self) -> str:
        return f"Lab result {self.pk}"
