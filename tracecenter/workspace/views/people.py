"""Identity screens: possible matches side by side, merge or keep apart, undo a merge."""

from __future__ import annotations

from typing import Any, NoReturn

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Capability
from tracecenter.audit.access import get_for, require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record, audit_record_many
from tracecenter.core.errors import DomainError
from tracecenter.people.identity import identity_of
from tracecenter.people.merge import match_review_decide, person_merge_undo
from tracecenter.people.models import ContactPoint, MatchReview
from tracecenter.people.selectors import match_reviews_visible_to, merges_visible_to
from tracecenter.workspace.views.common import PAGE_SIZE, signed_in

HISTORY = 50


def _names_shown(user: User, rows: list[Any], sides: tuple[str, str]) -> list[Any]:
    """The persons whose names a list shows: both sides of each row the reviewer may decide (sees both), none of
    the others. Each is audited as a read of that person, as the record's page would be."""
    persons = [getattr(row, side) for row in rows if getattr(row, "decidable", False) for side in sides]
    if persons:
        audit_record_many(
            actor=user,
            action=Action.READ,
            object_type="person",
            items=[(p.pk, p.jurisdiction_id) for p in persons],
            fields=["name"],
            detail="named in identity reviews",
        )
    return persons


@login_required
def match_reviews(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    require_audited(user, Capability.REVIEW_MATCHES, object_type="match_review")
    visible = match_reviews_visible_to(user).select_related("incoming", "candidate", "decided_by")
    reviews = Paginator(visible.filter(status=MatchReview.Status.OPEN), PAGE_SIZE).get_page(request.GET.get("page"))
    reviews.object_list = list(reviews.object_list)
    merges = list(merges_visible_to(user).select_related("merged_by", "undone_by", "survivor", "merged")[:HISTORY])
    decided = list(visible.exclude(status=MatchReview.Status.OPEN).order_by("-decided_at", "-pk")[:HISTORY])
    _names_shown(user, [*reviews.object_list, *decided], ("incoming", "candidate"))
    _names_shown(user, merges, ("survivor", "merged"))
    return render(
        request,
        "workspace/match_reviews.html",
        {
            "page": reviews,
            "merges": [m for m in merges if m.undone_at is None],
            "decided": decided,
            "undone": [m for m in merges if m.undone_at is not None],
        },
    )


def _side(person: Any) -> dict[str, Any]:
    points = list(ContactPoint.objects.filter(person=person))
    return {
        "person": person,
        "phones": [p.value for p in points if p.kind == ContactPoint.Kind.PHONE],
        "emails": [p.value for p in points if p.kind == ContactPoint.Kind.EMAIL],
        "lab_results": person.lab_results.order_by("-specimen_collection_date")[:10],
        "identity": identity_of(person),
    }


def _refused(user: User, review: MatchReview) -> NoReturn:
    audit_record(
        actor=user,
        action=Action.DENIED,
        object_type="match_review",
        object_id=review.pk,
        jurisdiction_id=review.jurisdiction_id,
        detail="a record outside the reviewer's jurisdiction",
    )
    raise PermissionDenied


@login_required
def match_review(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    review = get_for(user, match_reviews_visible_to(user), pk, object_type="match_review", capability=Capability.REVIEW_MATCHES)
    # Each record is shown only to a reviewer who may see it, and only one who may see both decides
    # (the policy's annotations, from the selector): a review is routed where someone covers both.
    decidable: bool = review.decidable  # type: ignore[attr-defined]
    if request.method == "POST":
        if not decidable:
            _refused(user, review)
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
    shown = {
        "incoming": review.incoming if review.incoming_visible else None,  # type: ignore[attr-defined]
        "candidate": review.candidate if review.candidate_visible else None,  # type: ignore[attr-defined]
    }
    # The records shown are shown in full: the decision needs them, so each read is audited.
    for person in shown.values():
        if person is not None:
            audit_record(
                actor=user, action=Action.READ, object_type="person", object_id=person.pk, jurisdiction_id=person.jurisdiction_id
            )
    return render(
        request,
        "workspace/match_review.html",
        {
            "review": review,
            "decidable": decidable,
            # Beside a record they may not see, a reviewer is shown no more than the name of their own.
            **{
                name: None if person is None else _side(person) if decidable else {"person": person}
                for name, person in shown.items()
            },
        },
    )


@login_required
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    merge = get_for(user, merges_visible_to(user), pk, object_type="person_merge", capability=Capability.REVIEW_MATCHES)
    if not merge.decidable:  # type: ignore[attr-defined]
        audit_record(
            actor=user,
            action=Action.DENIED,
            object_type="person_merge",
            object_id=merge.pk,
            detail="a record outside the reviewer's jurisdiction",
        )
        raise PermissionDenied
    try:
        person_merge_undo(actor=user, merge=merge)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The merge was undone: the two records are separate again."))
    return redirect("workspace:match_reviews")
