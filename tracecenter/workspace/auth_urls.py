from django.urls import path

from tracecenter.workspace import auth_views, mfa_views, sso_views

app_name = "accounts"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    # The second step of a sign-in: open to a session past its password only (workspace.middleware).
    path("second-factor/", mfa_views.second_factor, name="second_factor"),
    path("second-factor/setup/", mfa_views.second_factor_setup, name="second_factor_setup"),
    path("second-factor/key/challenge/", mfa_views.security_key_challenge, name="security_key_challenge"),
    path("second-factor/key/check/", mfa_views.security_key_check, name="security_key_check"),
    # The user's own sign-in security: past the second factor.
    path("security/", mfa_views.security, name="security"),
    path("security/recovery-codes/", mfa_views.recovery_codes_new, name="recovery_codes_new"),
    path("security/keys/options/", mfa_views.security_key_options, name="security_key_options"),
    path("security/keys/", mfa_views.security_key_add, name="security_key_add"),
    path("security/keys/<int:pk>/remove/", mfa_views.security_key_remove, name="security_key_remove"),
    # Single sign-on (docs/sso.md): 404 unless configured. The callback is the redirect URI registered at the provider.
    path("sso/start/", sso_views.SsoStartView.as_view(), name="sso_start"),
    path("sso/callback/", sso_views.SsoCallbackView.as_view(), name="sso_callback"),
]
