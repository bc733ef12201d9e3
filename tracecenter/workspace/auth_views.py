from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts import services
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed attempts. Wait 15 minutes and try again, or ask your supervisor."),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = self.request.META.get("REMOTE_ADDR") if self.request else None
        if username and services.login_is_locked(username, ip):
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            services.login_failed(username, ip)
            audit_record(actor=None, action=Action.LOGIN_FAILED, detail="invalid credentials")
            raise
        services.login_succeeded(username, ip)
        return cleaned


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        audit_record(
            actor=self.request.user, action=Action.LOGIN, jurisdiction_id=getattr(self.request.user, "jurisdiction_id", None)
        )
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            audit_record(actor=request.user, action=Action.LOGOUT)
        return super().post(request, *args, **kwargs)
