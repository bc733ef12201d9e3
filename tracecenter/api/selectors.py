"""Which persons and lab results a user may see through the API.

Cases and contacts have their own selectors; persons and lab results follow them:
a person is visible with a visible case or contact of theirs. One addition, for
intake: a person who is neither a case nor a contact yet (just entered, waiting
for a lab result) is visible under the same scope rules as a record assigned to
whoever entered them (`Person.created_by`).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tracecenter.accounts import policy
from tracecenter.accounts.models import Viewer
from tracecenter.cases.models import Case
from tracecenter.cases.selectors import cases_visible_to
from tracecenter.contacts.models import Exposure
from tracecenter.contacts.selectors import exposures_visible_to
from tracecenter.intake.models import LabResult
from tracecenter.people.models import Person


def unattached_persons_visible_to(user: Viewer) -> QuerySet[Person]:
    """Persons with no case and no contact yet, in the user's scope."""
    if not getattr(user, "is_authenticated", False):
        return Person.objects.none()
    unattached = Person.objects.exclude(pk__in=Case.objects.values("person_id")).exclude(
        pk__in=Exposure.objects.values("person_id")
    )
    return policy.scope(unattached, user, assigned=Q(created_by=user.pk), team_field=None)


def persons_visible_to(user: Viewer) -> QuerySet[Person]:
    if not getattr(user, "is_authenticated", False):
        return Person.objects.none()
    return Person.objects.filter(
        Q(pk__in=cases_visible_to(user).values("person_id"))
        | Q(pk__in=exposures_visible_to(user).values("person_id"))
        | Q(pk__in=unattached_persons_visible_to(user).values("pk"))
    )


def lab_results_visible_to(user: Viewer) -> QuerySet[LabResult]:
    return LabResult.objects.filter(person_id__in=persons_visible_to(user).values("pk"))
