"""Identity screens: possible matches side by side, merge or keep apart, undo a merge."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import get_for, require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core.errors import DomainError
from tracecenter.people.identity import identity_of
from tracecenter.people.merge import match_review_decide, person_merge_undo
from tracecenter.people.models import ContactPoint, MatchReview
from tracecenter.people.selectors import match_reviews_visible_to, merges_visible_to
from tracecenter.workspace.views.common import PAGE_SIZE, signed_in


@login_required
def match_reviews(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.REVIEW_MATCHES, object_type="match_review")
    reviews = Paginator(match_reviews_visible_to(user).filter(status=MatchReview.Status.OPEN), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    merges = list(merges_visible_to(user).filter(undone_at__isnull=True).select_related("merged_by")[:20])
    return render(request, "workspace/match_reviews.html", {"page": reviews, "merges": merges})


def _side(person: Any) -> dict[str, Any]:
    points = list(ContactPoint.objects.filter(person=person))
    return {
        "person": person,
        "phones": [p.value for p in points if p.kind == ContactPoint.Kind.PHONE],
        "emails": [p.value for p in points if p.kind == ContactPoint.Kind.EMAIL],
        "lab_results": person.lab_results.order_by("-specimen_collection_date")[:10],
        "identity": identity_of(person),
    }


@login_required
def match_review(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    review = get_for(user, match_reviews_visible_to(user), pk, object_type="match_review", capability=Capability.REVIEW_MATCHES)
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in ("same", "different"):
            messages.error(request, _("Choose whether these are the same person."))
        else:
            try:
                match_review_decide(actor=user, review=review, same_person=decision == "same")
            except DomainError as exc:
                messages.error(request, str(exc.message))
            else:
                messages.success(request, _("Merged.") if decision == "same" else _("Kept as different people."))
                return redirect("workspace:match_reviews")
    # Both records are shown in full: the decision needs them, so both reads are audited.
    for person in (review.incoming, review.candidate):
        audit_record(
            actor=user, action=Action.READ, object_type="person", object_id=person.pk, jurisdiction_id=person.jurisdiction_id
        )
    return render(
        request,
        "workspace/match_review.html",
        {"review": review, "incoming": _side(review.incoming), "candidate": _side(review.candidate)},
    )


@login_required
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    merge = get_for(user, merges_visible_to(user), pk, object_type="person_merge", capability=Capability.REVIEW_MATCHES)
    try:
        person_merge_undo(actor=user, merge=merge)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The merge was undone: the two records are separate again."))
    return redirect("workspace:match_reviews")
