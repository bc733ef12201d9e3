from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from tracecenter.accounts.roles import CAPABILITIES, SCOPES, Capability, Role, Scope
from tracecenter.core.fields import EncryptedTextField


class Jurisdiction(models.Model):
    """A node of the jurisdiction tree (state > county > ...).

    `path` is the materialized path of ids ("/1/4/"), so "this jurisdiction and all
    below it" is one indexed prefix match instead of a recursive query.
    """

    name = models.CharField(_("name"), max_length=120)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/New_York")
    # When people may be called or texted, in each person's own local time (core/calling_windows.py).
    calling_from = models.TimeField(_("calls from"), default=dt.time(9, 0))
    calling_until = models.TimeField(_("calls until"), default=dt.time(21, 0))

    class Meta:
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is None:
            super().save(*args, **kwargs)  # type: ignore[arg-type]
            kwargs = {}
        parent_path = self.parent.path if self.parent is not None else "/"
        if self.parent_id and f"/{self.pk}/" in parent_path:
            raise ValueError("A jurisdiction cannot be placed below itself.")
        self.path = f"{parent_path}{self.pk}/"
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def ancestors_and_self(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]


class Team(models.Model):
    name = models.CharField(_("name"), max_length=120)
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="teams")

    class Meta:
        ordering = ["jurisdiction__path", "name"]
        constraints = [models.UniqueConstraint(fields=["jurisdiction", "name"], name="team_unique_name")]

    def __str__(self) -> str:
        return self.name


class Skill(models.Model):
    """Something a worker can do that work may ask for ("asl-interpreting", "hospital-liaison").

    Routing matches work on the code. A skill belongs to the jurisdiction whose administrator
    defined it and can be given to users there and below.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="skills")

    class Meta:
        ordering = ["name", "code"]

    def __str__(self) -> str:
        return self.name


class Proficiency(models.TextChoices):
    NATIVE = "native", _("Native")
    FLUENT = "fluent", _("Fluent")
    CONVERSATIONAL = "conversational", _("Conversational")


# Best first: the order a user's languages are shown in.
PROFICIENCY_RANK: dict[str, int] = {Proficiency.NATIVE: 0, Proficiency.FLUENT: 1, Proficiency.CONVERSATIONAL: 2}


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.CONTACT_TRACER)
    jurisdiction = models.ForeignKey(
        Jurisdiction, null=True, blank=True, on_delete=models.PROTECT, related_name="users", verbose_name=_("jurisdiction")
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    skills = models.ManyToManyField(Skill, blank=True, related_name="users", verbose_name=_("skills"))
    # Set when an administrator issues a temporary password; the user changes it before anything else.
    must_change_password = models.BooleanField(default=False)

    class Meta(AbstractUser.Meta):
        indexes = [models.Index(fields=["jurisdiction", "last_name", "first_name"], name="user_directory_idx")]

    def has_capability(self, capability: Capability) -> bool:
        return self.is_active and capability in CAPABILITIES.get(self.role, frozenset())

    @property
    def can_view_records(self) -> bool:
        return self.has_capability(Capability.VIEW_RECORDS)

    @property
    def can_report_cases(self) -> bool:
        return self.has_capability(Capability.REPORT_CASES)

    @property
    def can_ingest(self) -> bool:
        return self.has_capability(Capability.INGEST)

    @property
    def can_review_matches(self) -> bool:
        return self.has_capability(Capability.REVIEW_MATCHES)

    @property
    def can_view_audit(self) -> bool:
        return self.has_capability(Capability.VIEW_AUDIT)

    @property
    def can_keep_records(self) -> bool:
        return self.has_capability(Capability.RETENTION)

    @property
    def can_break_glass(self) -> bool:
        """Sees part of a jurisdiction's records, so may open another with a reason (accounts.policy)."""
        return self.scope in (Scope.ASSIGNED, Scope.TEAM) and self.has_capability(Capability.VIEW_RECORDS)

    @property
    def can_review_access(self) -> bool:
        return self.has_capability(Capability.REVIEW_ACCESS)

    @property
    def can_operate(self) -> bool:
        return self.has_capability(Capability.OPERATE)

    @property
    def can_administer(self) -> bool:
        return self.has_capability(Capability.MANAGE_USERS)

    @property
    def scope(self) -> Scope:
        return SCOPES.get(self.role, Scope.NONE)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class UserLanguage(models.Model):
    """A language a user speaks, and how well: work for a Spanish speaker goes to someone who speaks Spanish."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="spoken_languages")
    # The ISO 639 code of tracecenter.core.codes.normalize_language, the same code persons carry.
    language = models.CharField(_("language"), max_length=12)
    proficiency = models.CharField(_("proficiency"), max_length=16, choices=Proficiency.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "language"], name="userlanguage_one_per_user")]
        indexes = [models.Index(fields=["language", "proficiency"], name="userlanguage_routing_idx")]

    def __str__(self) -> str:
        return f"{self.language} ({self.proficiency})"


class AccessGrant(models.Model):
    """A record opened outside the user's reach by breaking the glass: a reason, a short time, a review.

    The policy lets the user read that record (never change it) until `expires_at`; every grant is
    audited and waits in the privacy officer's queue until reviewed.
    """

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="access_grants")
    record_type = models.CharField(max_length=40)  # a model label: "cases.case", "contacts.exposure"
    object_id = models.BigIntegerField()
    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.PROTECT, related_name="+")  # the record's
    reason = EncryptedTextField()
    granted_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    reviewed_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = EncryptedTextField(blank=True, default="")

    class Meta:
        ordering = ["-granted_at", "-pk"]
        indexes = [models.Index(fields=["user", "record_type", "expires_at"], name="grant_lookup_idx")]

    def __str__(self) -> str:
        return f"Access grant {self.pk}"


class SecurityKey(models.Model):
    """A WebAuthn security key (or platform authenticator) a user registered as a second factor.

    Only the public key is kept: the private key never leaves the authenticator. The signature counter
    is kept to notice a cloned key (a counter that goes backwards).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="security_keys")
    name = models.CharField(_("name"), max_length=60)
    credential_id = models.BinaryField(max_length=1023, unique=True)
    public_key = models.BinaryField(max_length=1023)
    sign_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "created_at"]

    def __str__(self) -> str:
        return f"security key {self.pk} of user {self.user_id}"


class RecoveryCode(models.Model):
    """A single-use recovery code, for a user who lost their authenticator: only its SHA-256 is kept.

    The codes carry 60 random bits each, so a plain hash is enough (no password stretching needed);
    they are shown once, when issued, and a new set replaces the old.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_user_hash_unique")]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of user {self.user_id}"


class SsoIdentity(models.Model):
    """The link between an account and its person at the state's identity provider (accounts/sso.py).

    Found by (issuer, subject), the provider's stable and never reassigned identifier of the person:
    never by e-mail, which changes and which a new account at the provider can claim.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sso_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)  # OpenID Connect caps `sub` at 255 ASCII characters
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique_subject"),
            models.UniqueConstraint(fields=["user", "issuer"], name="sso_identity_one_per_issuer"),
        ]

    def __str__(self) -> str:
        return f"single sign-on identity of user {self.user_id}"


# Whoever asks to see something: a signed-in user, or an anonymous one (who sees nothing).
class SignedInSession(models.Model):
    """A session a user signed in to (accounts/sessions.py): how many each user holds, which is the oldest.

    A row per sign-in, removed at sign-out or when a newer sign-in ends it; the session itself lives in
    Django's session store, under `session_key`.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signed_in_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    started_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "started_at"], name="signed_in_session_user_idx")]

    def __str__(self) -> str:
        return f"session of user {self.user_id} since {self.started_at:%Y-%m-%d %H:%M}"


type Viewer = User | AnonymousUser
