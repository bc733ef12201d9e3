"""TraceCenter settings, read from environment variables (see .env.example).

With no environment at all this is the embedded default: SQLite in var/, secrets
generated into var/local-secrets.json, console outputs. TRACECENTER_ENV=production
turns every default that is only safe on a laptop into a hard error.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from tracecenter.core import local_secrets
from tracecenter.core.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("TRACECENTER_VAR_DIR", str(BASE_DIR / "var")))
# Keys and the embedded default's database live here: its owner only (core/local_secrets.py).
local_secrets.private_dir(VAR_DIR)

TRACECENTER_ENV = env_str("TRACECENTER_ENV", "local")
PRODUCTION = TRACECENTER_ENV == "production"
if TRACECENTER_ENV not in {"local", "test", "production"}:
    raise ImproperlyConfigured("TRACECENTER_ENV must be local, test or production.")

_local: dict[str, str] = {} if PRODUCTION else local_secrets.load_or_create(VAR_DIR / "local-secrets.json")


def _secret(name: str) -> str:
    if PRODUCTION:
        return env_str(name)
    return env_str(name, _local[name])


SECRET_KEY = _secret("SECRET_KEY")
# Field-level encryption keyring: "kid:base64key,kid:base64key"; the first one encrypts,
# all of them decrypt, which is what lets `manage.py rotate_keys` run without downtime.
FIELD_ENCRYPTION_KEYS = _secret("FIELD_ENCRYPTION_KEYS")
# HMAC key for the blind indexes that keep lookups by name, phone and birth date working.
BLIND_INDEX_KEY = _secret("BLIND_INDEX_KEY")
# HMAC key of the audit chain: someone who can write the database but not read this
# key cannot forge a chain that verifies.
AUDIT_CHAIN_KEY = _secret("AUDIT_CHAIN_KEY")
# How long the audit trail keeps an entry (six years: HIPAA's documentation period); older entries leave only
# behind a signed checkpoint (`manage.py retention --purge`). Never shorter than any record's period: refused.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 6 * 365)

# Debug pages show settings, code and data: off unless asked for by name (DEBUG=true, as `make run` does on a
# laptop); never in production; and `manage.py serve` refuses to bind beyond loopback while it is on.
DEBUG = env_bool("DEBUG", default=False)
if DEBUG and PRODUCTION:
    raise ImproperlyConfigured("DEBUG must be off when TRACECENTER_ENV=production.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",  # its form templates, for the form renderer below
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "tracecenter.core",
    "tracecenter.accounts",
    "tracecenter.audit",
    "tracecenter.people",
    "tracecenter.intake",
    "tracecenter.cases",
    "tracecenter.contacts",
    "tracecenter.routing",
    "tracecenter.workspace",
    "tracecenter.api",
    "tracecenter.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tracecenter.core.middleware.NoStoreForSignedInMiddleware",
    "tracecenter.workspace.middleware.SessionLimitsMiddleware",
    "tracecenter.workspace.middleware.SecondFactorRequiredMiddleware",
    "tracecenter.workspace.middleware.PasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "tracecenter.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "tracecenter.urls"

# Every form field with the U.S. Web Design System's classes, however a page renders it.
FORM_RENDERER = "tracecenter.core.form_renderer.UswdsFormRenderer"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tracecenter" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "tracecenter.wsgi.application"
ASGI_APPLICATION = "tracecenter.asgi.application"

DATABASE_URL = env_str("DATABASE_URL", "" if not PRODUCTION else None)
# A pool of PostgreSQL connections per process, at most this many (0: none). The ASGI server runs each request's
# view in a thread of its own, and without a pool each thread opens a connection of its own: a new connection (a new
# server process) per request, and as many connections as requests in flight, past the server's max_connections under
# load. With a pool, requests share a few connections and wait for one when all are busy.
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 0)
# The indexes of open work carry extra columns on PostgreSQL (INCLUDE) so that counts read the index alone; SQLite
# builds them without, which is all the embedded default needs: its warning says nothing to act on.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=0 if DB_POOL_MAX_SIZE else env_int("DB_CONN_MAX_AGE", 60))
    }
    if DB_POOL_MAX_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(2, DB_POOL_MAX_SIZE),
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": env_int("DB_POOL_TIMEOUT_SECONDS", 30),  # a request waiting longer for a connection fails
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "tracecenter.sqlite3"),
            # Kept open between a worker's rounds and the live fan-out's reads, as on PostgreSQL.
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if str(DATABASES["default"]["NAME"]) not in {"", ":memory:"} and Path(DATABASES["default"]["NAME"]).parent.is_dir():
        # Created before SQLite does it with the umask's mode (often world-readable); its -wal and -shm take this mode.
        local_secrets.private_file(Path(DATABASES["default"]["NAME"]), companions=local_secrets.SQLITE_COMPANIONS)
    # WAL and a busy timeout let the web server and the workers share the file; IMMEDIATE makes a
    # transaction take the write lock when it begins, which is what serialises claims of work.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too, so that a worker process or a server thread can share their database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "workspace:my_work"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions end after 30 idle minutes (renewed on every request) and with the browser.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 30 * 60)
# However busy, a session ends this long after its sign-in; and a user holds at most this many sessions at
# once, a new sign-in ending the oldest (accounts/sessions.py).
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60)
SESSION_MAX_PER_USER = env_int("SESSION_MAX_PER_USER", 3)
SESSION_SAVE_EVERY_REQUEST = True
# Multi-factor sign-in (accounts/second_factor.py, docs/security.md): the roles that must pass a second factor
# after their password, "all" (the default, in production and in the embedded default alike) or a comma list.
_mfa_roles = env_list("MFA_REQUIRED_ROLES", ["all"])
MFA_REQUIRED_ROLES: str | frozenset[str] = "all" if _mfa_roles == ["all"] else frozenset(_mfa_roles)
# The name authenticator apps show beside a TraceCenter code, and the WebAuthn relying party: its id is the
# site's host name (WEBAUTHN_RP_ID; by default the host of the request, which must then be a name, not an IP).
OTP_TOTP_ISSUER = env_str("MFA_ISSUER", "TraceCenter")
WEBAUTHN_RP_ID = env_str("WEBAUTHN_RP_ID", "")
WEBAUTHN_RP_NAME = OTP_TOTP_ISSUER
MFA_RECOVERY_CODES = 10
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Single sign-on through the state's OpenID Connect provider (accounts/sso.py, docs/sso.md): off unless an issuer
# and a client id are given. The issuer is checked against every ID token and is half of each account's link
# (issuer, subject); the endpoints come from its discovery document unless given here one by one.
OIDC_ISSUER = env_str("OIDC_ISSUER", "")  # exactly as the provider writes it in `iss` (a trailing "/" matters)
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
# The client secret comes from the environment or from a file a secrets manager mounts; never from the database.
_oidc_secret_file = env_str("OIDC_CLIENT_SECRET_FILE", "")
OIDC_RP_CLIENT_SECRET = (
    Path(_oidc_secret_file).read_text(encoding="utf-8").strip() if _oidc_secret_file else env_str("OIDC_CLIENT_SECRET", "")
)
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "your organization")  # "Sign in with <this>"
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid profile email")
OIDC_RP_SIGN_ALGO = env_str("OIDC_SIGN_ALGO", "RS256")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_JWKS_URI", "")
OIDC_OP_END_SESSION_ENDPOINT = env_str("OIDC_END_SESSION_ENDPOINT", "")
OIDC_DISCOVERY_CACHE_SECONDS = env_int("OIDC_DISCOVERY_CACHE_SECONDS", 3600)
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10)  # every request to the provider; without it one could hang a worker
OIDC_CLOCK_SKEW_SECONDS = env_int("OIDC_CLOCK_SKEW_SECONDS", 60)
# Sign-ins started from one address in LOGIN_FAILURE_WINDOW_SECONDS: each opens a session to hold its state.
OIDC_MAX_STARTS_PER_ADDRESS = env_int("OIDC_MAX_STARTS_PER_ADDRESS", 200)
# Where the role, jurisdiction (its code) and team (its name, within that jurisdiction) are read in the claims, and
# which TraceCenter role each of the provider's values (group names, app roles) means: a JSON object.
OIDC_ROLE_CLAIM = env_str("OIDC_ROLE_CLAIM", "groups")
OIDC_JURISDICTION_CLAIM = env_str("OIDC_JURISDICTION_CLAIM", "jurisdiction")
OIDC_TEAM_CLAIM = env_str("OIDC_TEAM_CLAIM", "team")
try:
    OIDC_ROLE_MAP: dict[str, str] = json.loads(env_str("OIDC_ROLE_MAP", "{}"))
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"OIDC_ROLE_MAP must be a JSON object of provider values to roles: {exc}") from None
# Provisioning the highest privilege from a claim is refused unless asked for by name (docs/sso.md).
OIDC_ALLOW_ADMINISTRATOR = env_bool("OIDC_ALLOW_ADMINISTRATOR", default=False)
# An ID token whose `amr` claim lacks this value (e.g. "mfa") is refused; empty: the provider's policy is trusted.
OIDC_REQUIRED_AMR = env_str("OIDC_REQUIRED_AMR", "")
# Password sign-in; turned off, only single sign-on remains (which must then be configured).
LOCAL_SIGN_IN = env_bool("LOCAL_SIGN_IN", default=True)
if not LOCAL_SIGN_IN and not (OIDC_ISSUER and OIDC_RP_CLIENT_ID):
    raise ImproperlyConfigured("LOCAL_SIGN_IN=false needs single sign-on: set OIDC_ISSUER and OIDC_CLIENT_ID.")
# What mozilla-django-oidc reads as it is: PKCE and a nonce always, the callback of accounts/sso/.
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_USE_NONCE = True
OIDC_AUTHENTICATION_CALLBACK_URL = "accounts:sso_callback"
# The SSO backend is inert until single sign-on is configured (accounts/sso.py).
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "tracecenter.accounts.sso.SsoBackend"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
X_FRAME_OPTIONS = "DENY"

from django.utils.csp import CSP  # noqa: E402  (settings read top to bottom; kept beside its use)

_sso_origins = sorted(
    {f"{p.scheme}://{p.netloc}" for p in map(urlsplit, (OIDC_ISSUER, OIDC_OP_END_SESSION_ENDPOINT)) if p.scheme and p.netloc}
)

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    # Signing out of a session opened through the identity provider leaves for its end_session_endpoint after the
    # sign-out form: a form's redirects are bound by form-action too (accounts/sso/logout.py).
    "form-action": [CSP.SELF, *_sso_origins],
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
# Languages every tracer of the center works in: work in them asks no language of the tracer (routing).
ROUTING_WORKING_LANGUAGES = env_list("ROUTING_WORKING_LANGUAGES", ["en"])
LOCALE_PATHS = [BASE_DIR / "tracecenter" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request when it is missing
STATICFILES_DIRS = [BASE_DIR / "tracecenter" / "static"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# Background work: Django's Tasks API on the database (core/tasks.py, core/worker.py).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Real-time push (core/push.py). Without Redis the channel layer lives in one process: the web
# server, which then runs the worker too (`manage.py serve`). With Redis, any number of web
# servers and workers share it.
CHANNEL_LAYERS = (
    {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    if REDIS_URL
    else {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
)

# Failed sign-ins allowed within the window below (accounts/throttle.py), counted in the database or Redis
# (core/ratelimit.py) so that they hold across processes: per account and address, per account from any
# address, and per address for any account (password spraying; one office behind one address shares it).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 10)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 30)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
# Wrong second-factor codes per account within the window above before the second step locks (TOTP codes are 6 digits).
MFA_MAX_FAILURES = env_int("MFA_MAX_FAILURES", 5)
# Bearer tokens that fail from one address within the window; then every token from there is refused (429).
API_TOKEN_MAX_FAILURES_PER_ADDRESS = env_int("API_TOKEN_MAX_FAILURES_PER_ADDRESS", 20)
API_TOKEN_FAILURE_WINDOW_SECONDS = env_int("API_TOKEN_FAILURE_WINDOW_SECONDS", 15 * 60)
# Personal API tokens (api/services.py): every token expires, at most API_TOKEN_MAX_DAYS after it is made
# (API_TOKEN_DEFAULT_DAYS unless its maker says otherwise), and makes at most API_TOKEN_RATE_PER_MINUTE requests a
# minute unless it carries its own limit; past it, 429 with Retry-After, counted in core/ratelimit.py's store.
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90)
API_TOKEN_RATE_PER_MINUTE = env_int("API_TOKEN_RATE_PER_MINUTE", 120)
if not 1 <= API_TOKEN_DEFAULT_DAYS <= API_TOKEN_MAX_DAYS:
    raise ImproperlyConfigured("API_TOKEN_DEFAULT_DAYS must be between 1 and API_TOKEN_MAX_DAYS.")
if API_TOKEN_RATE_PER_MINUTE < 1:
    raise ImproperlyConfigured("API_TOKEN_RATE_PER_MINUTE must be at least 1.")

# Logs carry ids and event names, never personal data: no request bodies, no form values.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Intake of lab results (HL7 v2, CSV, FHIR).
# The starting point of a new installation: conditions whose positive molecular or antigen results open cases wherever
# no administrator has configured the jurisdiction's own (Administration > Conditions; intake/conditions.py). Codes of
# intake/conditions.py CATALOGUE. Other conditions' results are kept on the person.
DEFAULT_CASE_CONDITIONS = frozenset(env_list("CASE_CONDITIONS", ["covid-19"]))
# Where feeds put persons whose county is not a jurisdiction here (a jurisdiction code); empty = the only top-level one.
INTAKE_JURISDICTION = env_str("INTAKE_JURISDICTION", "")
# Largest file the upload page and `ingest` accept, whatever its format; and, below that, per format (a file whose
# format cannot be told gets the smallest). An upload is refused as it arrives, once past its format's limit.
INTAKE_MAX_FILE_BYTES = env_int("INTAKE_MAX_FILE_BYTES", 50 * 1024 * 1024)
INTAKE_MAX_HL7_BYTES = env_int("INTAKE_MAX_HL7_BYTES", 50 * 1024 * 1024)
INTAKE_MAX_CSV_BYTES = env_int("INTAKE_MAX_CSV_BYTES", 20 * 1024 * 1024)
INTAKE_MAX_FHIR_BYTES = env_int("INTAKE_MAX_FHIR_BYTES", 10 * 1024 * 1024)
# The MLLP listener (`manage.py mllp_listen`): connections served at once (more are answered AR and closed), the
# largest frame (message), the most one connection may send before it is answered AR and closed (senders reconnect),
# and how long a silent connection is kept.
MLLP_MAX_CONNECTIONS = env_int("MLLP_MAX_CONNECTIONS", 20)
MLLP_MAX_FRAME_BYTES = env_int("MLLP_MAX_FRAME_BYTES", 2 * 1024 * 1024)
MLLP_MAX_CONNECTION_BYTES = env_int("MLLP_MAX_CONNECTION_BYTES", 64 * 1024 * 1024)
MLLP_IDLE_TIMEOUT_SECONDS = env_int("MLLP_IDLE_TIMEOUT_SECONDS", 300)
