"""The conditions a center may trace, and which of them open cases where (configured per jurisdiction).

The catalogue is the list an administrator chooses from; which conditions open a case from a lab
result, and through which kinds of test, is each jurisdiction's own setting (`TracedCondition`),
inherited down the tree like the rule versions. Where nobody above has configured anything, the
installation's starting point applies: `DEFAULT_CASE_CONDITIONS` (COVID-19 by default), through
molecular and antigen tests. Antibody tests open no case unless a jurisdiction says so (serology is
supporting evidence, not a diagnosis, for most conditions).
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

type StrOrPromise = str | Promise

# code -> name. Codes are stable (stored on cases, rule versions and results); names are translated.
CATALOGUE: dict[str, StrOrPromise] = {
    "covid-19": _("COVID-19"),
    "influenza": _("Influenza"),
    "rsv": _("RSV"),
    "measles": _("Measles"),
    "mpox": _("Mpox"),
    "tuberculosis": _("Tuberculosis"),
    "pertussis": _("Pertussis"),
    "hepatitis-a": _("Hepatitis A"),
    "varicella": _("Varicella"),
    "meningococcal": _("Meningococcal disease"),
}
CHOICES = list(CATALOGUE.items())
TEST_KINDS = ("molecular", "antigen", "antibody")
TEST_KIND_CHOICES = [("molecular", _("molecular (PCR, NAAT)")), ("antigen", _("antigen")), ("antibody", _("antibody"))]
DEFAULT_KINDS = ("molecular", "antigen")


def name_of(code: str) -> str:
    return str(CATALOGUE.get(code, code))
