"""The pages of API tokens: "API tokens" for their holders, and the administrators' list of them.

They belong to the API (whose credentials they manage) and are built like the workspace's pages:
a form checks the input, a service in api/services.py makes or revokes the token (asking the
access policy, writing the audit trail), and the page renders. A holder makes, sees and revokes
their own tokens; an administrator sees and revokes those of the accounts of their jurisdiction
and below (`policy.administered`), never makes one for someone else. A new token is shown once, in
the answer to the form, never redirected to: it must not sit in a session or a message store.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.core.validators import MaxValueValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Capability
from tracecenter.api import scopes as token_scopes
from tracecenter.api.models import ApiToken
from tracecenter.api.selectors import USE_DAYS, api_token_use_by_day, api_tokens_administered_by, api_tokens_of
from tracecenter.api.services import MAX_NAME_LENGTH, api_token_create, api_token_revoke, default_days, max_days
from tracecenter.audit.access import audit_denied, get_for, require_audited
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core.errors import DomainError

PAGE_SIZE = 50


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=MAX_NAME_LENGTH,
        help_text=gettext_lazy("What the token is for, such as the name of the script that uses it."),
    )
    scopes = forms.MultipleChoiceField(label=gettext_lazy("Scopes"), widget=forms.CheckboxSelectMultiple)
    days = forms.IntegerField(label=gettext_lazy("Expires after (days)"), min_value=1)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        usable = token_scopes.usable_by(user)
        self.fields["scopes"].choices = [(scope.value, scope.label) for scope in usable]  # type: ignore[attr-defined]
        self.fields["scopes"].error_messages["required"] = _("Choose at least one scope.")
        # The longest lifetime is a setting: read when the form is made, not when the module loads.
        days = self.fields["days"]
        days.validators.append(MaxValueValidator(max_days()))
        days.widget.attrs["max"] = str(max_days())
        days.initial = default_days()
        days.help_text = _("At most %(n)d days: every token expires, and a new one is made in its place.") % {"n": max_days()}


def _signed_in(request: HttpRequest) -> User:
    """The signed-in user of a view behind login_required."""
    user = request.user
    if not isinstance(user, User):  # login_required let no one else in
        raise PermissionDenied
    return user


def _holder(request: HttpRequest) -> User:
    """The signed-in user, if their role has any use for a token (else 403, audited)."""
    user = _signed_in(request)
    if not token_scopes.usable_by(user):
        audit_denied(user, Capability.VIEW_RECORDS, object_type="api_token")
        raise PermissionDenied
    return user


def _with_days(tokens: list[ApiToken]) -> list[dict[str, Any]]:
    days = api_token_use_by_day(tokens)
    return [{"token": token, "days": days.get(token.pk, [])} for token in tokens]


@login_required
@never_cache
def my_tokens(request: HttpRequest) -> HttpResponse:
    user = _holder(request)
    form = TokenForm(request.POST if request.method == "POST" else None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = api_token_create(
                actor=user,
                user=user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                days=form.cleaned_data["days"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            # Rendered in the POST's own response: the token is shown this once and kept nowhere readable.
            return render(request, "api/token_issued.html", {"token": token, "raw": raw}, status=201)
    page = Paginator(api_tokens_of(user), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "rows": _with_days(list(page.object_list)), "use_days": USE_DAYS}
    return render(request, "api/tokens_mine.html", context, status=422 if form.errors else 200)


@login_required
@require_POST
def my_token_revoke(request: HttpRequest) -> HttpResponse:
    user = _holder(request)
    raw_id = request.POST.get("token", "")
    if not raw_id.isdigit() or len(raw_id) > 18:
        messages.error(request, _("Choose the token to revoke."))
        return redirect("tokens:mine")
    token = ApiToken.objects.select_related("user").filter(pk=int(raw_id)).first()
    if token is None or token.user_id != user.pk:
        if token is not None:  # someone else's: refused and written down, answered as a token that does not exist
            audit_denied(user, Capability.VIEW_RECORDS, object_type="api_token", object_id=token.pk)
        messages.error(request, _("There is no such token of yours."))
        return redirect("tokens:mine")
    api_token_revoke(actor=user, token=token)
    messages.success(request, _("The token “%(name)s” was revoked: it works no more.") % {"name": token.name})
    return redirect("tokens:mine")


def _administrator(request: HttpRequest) -> User:
    user = _signed_in(request)
    require_audited(user, Capability.MANAGE_USERS, object_type="api_token")
    return user


@login_required
def administered_tokens(request: HttpRequest) -> HttpResponse:
    user = _administrator(request)
    show_all = request.GET.get("show") == "all"
    tokens = api_tokens_administered_by(user, usable_only=not show_all)
    page = Paginator(tokens, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    if shown:
        audit_record(
            actor=user,
            action=Action.READ,
            object_type="api_token_list",
            jurisdiction_id=user.jurisdiction_id,
            detail=("ids " + ",".join(str(t.pk) for t in shown))[:200],
        )
    context = {
        "page": page,
        "rows": _with_days(shown),
        "show_all": show_all,
        "query": "show=all" if show_all else "",
        "use_days": USE_DAYS,
    }
    return render(request, "api/tokens_administered.html", context)


@login_required
@require_POST
def administered_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = _administrator(request)
    visible = api_tokens_administered_by(user, usable_only=False)
    token = get_for(user, visible, pk, object_type="api_token", capability=Capability.MANAGE_USERS)
    api_token_revoke(actor=user, token=token)
    messages.success(
        request,
        _("The token “%(name)s” of %(holder)s was revoked.") % {"name": token.name, "holder": token.user.display_name},
    )
    return redirect("tokens:administered")
