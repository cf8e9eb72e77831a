"""Users, their role and the place they may see, and the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    SUBDISTRICT_OFFICER = "subdistrict_officer", _("Subdistrict officer")
    SECRETARY = "secretary", _("Committee secretary")
    SOCIAL_WORKER = "social_worker", _("Social worker")
    GRID_LEADER = "grid_leader", _("Grid leader")
    BUILDING_LEADER = "building_leader", _("Building leader")
    VOLUNTEER = "volunteer", _("Volunteer")
    PROPERTY_MANAGER = "property_manager", _("Property management")
    OWNERS_COMMITTEE = "owners_committee", _("Owners' committee")


class User(AbstractUser):
    """A staff member. The role says what they do; the scope fields say where.

    - administrator: everything
    - subdistrict officer: every community of ``subdistrict``
    - secretary, social worker: ``community``
    - grid leader: ``grids`` (inside ``community``)
    - building leader: ``buildings`` (inside ``community``)
    - volunteer: only what is assigned to them
    - property management: the places of ``community`` (buildings, gates, zone status) and the work
      orders assigned to them; never a resident
    - owners' committee: a contact entry (no sign-in, sees nothing)

    ``helps`` are further communities a deployed cadre or roving secretary works in with the same
    role, besides ``community``: every scope filter counts them alike.
    """

    role = models.CharField(max_length=32, choices=Role.choices, default=Role.VOLUNTEER)
    display_name = models.CharField(max_length=64, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    subdistrict = models.ForeignKey(
        "registry.Subdistrict", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    community = models.ForeignKey(
        "registry.Community", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    grids = models.ManyToManyField("registry.Grid", blank=True, related_name="leaders")
    buildings = models.ManyToManyField("registry.Building", blank=True, related_name="leaders")
    helps = models.ManyToManyField("registry.Community", blank=True, related_name="helpers")
    # Set by the services while the user helps a further community or holds a deputyship (in force
    # or to come): only then do the scope filters spend a query reading them (``permissions.reach``).
    extra_scope = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.display_name or self.username


class AuditLog(models.Model):
    """Who did what to which record, when. Never stores an unmasked sensitive value."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Indexed only where set (Meta): the public pages' rows (no account) write no entry.
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    # Every write of the hot path adds a row here, so no index it does not need: ``target_id`` is
    # found through (target_type, target_id), and neither column is searched by prefix (their
    # ``varchar_pattern_ops`` twins on PostgreSQL are dropped: migration accounts 0006).
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    community = models.ForeignKey(
        "registry.Community", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["actor"], name="audit_actor", condition=Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_id} {self.action} {self.target_type}:{self.target_id}"


class SignInLink(models.Model):
    """A one-time sign-in / reset link the committee gives a colleague (as a URL or a QR code).

    Only a hash of the token is kept: the link itself is shown once, to the person who made it.
    It works once (``used_at``), until ``expires_at``; making a new one ends the older ones."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signin_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"sign-in link {self.pk} for {self.user_id}"


class Scope(models.TextChoices):
    """What a machine client may do with its token (one token may hold several)."""

    RESULTS_WRITE = "results:write", _("Post lab results")
    SAMPLES_WRITE = "samples:write", _("Post samples")
    REPORTS_READ = "reports:read", _("Read the daily report (counts only)")


class ApiToken(models.Model):
    """A machine client's key (a lab system, the city sampling app, a district system).

    It belongs to one community or to a subdistrict (all its communities), like a user's scope.
    The secret is ``fz_<prefix>_<secret>``: the prefix is stored in the clear (it finds the row and
    names the key on pages and in the audit log), the secret only as a SHA-256 hash."""

    name = models.CharField(max_length=64)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes: models.JSONField[Any, Any] = models.JSONField(default=list)
    community = models.ForeignKey(
        "registry.Community", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subdistrict = models.ForeignKey(
        "registry.Subdistrict", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(community__isnull=False, subdistrict__isnull=True)
                | models.Q(community__isnull=True, subdistrict__isnull=False),
                name="api_token_one_place",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (fz_{self.prefix})"


class ApiReceipt(models.Model):
    """The answer given to a machine client's post, kept under the client's own batch id so that a
    repeat of the post changes nothing and gets the same answer. Holds counts and tube codes only."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="receipts")
    operation = models.CharField(max_length=64)
    key = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body: models.JSONField[Any, Any] = models.JSONField(default=dict)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "operation", "key"], name="api_receipt_once"),
        ]

    def __str__(self) -> str:
        return f"receipt {self.operation} {self.key}"


class Deputy(models.Model):
    """The secretary's duties handed to a colleague of the community while she cannot act alone
    (isolated, in hospital): from ``starts_at`` until ``ends_at`` (or until revoked). While it lasts
    the deputy is treated as the community's secretary; the secretary keeps her own access."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="deputies")
    secretary = models.ForeignKey(User, on_delete=models.CASCADE, related_name="deputies_named")
    deputy = models.ForeignKey(User, on_delete=models.CASCADE, related_name="deputy_for")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["deputy", "revoked_at"]), models.Index(fields=["community", "revoked_at"])]

    def __str__(self) -> str:
        return f"deputy {self.deputy_id} for {self.secretary_id} in {self.community_id}"
