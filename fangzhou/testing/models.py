"""Models of the testing app: mass PCR rounds, tubes and samples, lab results, re-tests, antigen reports.

The rules that must never break live in the database:

- a resident is sampled at most once per round in pooled sampling (``sample_once_pooled``);
- a tube code exists once (``Tube.code`` is unique, across rounds, as on the printed barcodes);
- a tube has at most one lab result (``LabResult.tube`` is one-to-one);
- a resident has at most one pending re-test (``retest_one_pending``);
- a resident has one antigen report per day (``antigen_one_per_day``); every submission is logged
  under its client-generated id (``AntigenSubmission.client_id`` is unique).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Round(models.Model):
    """One round of mass PCR testing (全员核酸) of a community on a date."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("testing status", "Open")
        CLOSED = "closed", _("Closed")

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="test_rounds")
    date = models.DateField()
    pool_size = models.PositiveSmallIntegerField(default=10)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [models.CheckConstraint(condition=Q(pool_size__gte=1), name="round_pool_size_positive")]

    def __str__(self) -> str:
        return f"{self.community_id} {self.date} #{self.pk}"


class SamplingSite(models.Model):
    """An open space where residents come down to be sampled: place on the site plan, desks, hours."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=64)
    x = models.FloatField(null=True, blank=True)
    y = models.FloatField(null=True, blank=True)
    desks = models.PositiveSmallIntegerField(default=1)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        ordering = ["round_id", "id"]
        constraints = [models.UniqueConstraint(fields=["round", "name"], name="site_unique_name")]

    def __str__(self) -> str:
        return self.name


class BuildingSlot(models.Model):
    """The time a building comes down to its site (错峰)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="slots")
    building = models.ForeignKey("registry.Building", on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey(SamplingSite, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    expected = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["starts_at", "site_id"]
        constraints = [models.UniqueConstraint(fields=["round", "building"], name="slot_one_per_building")]

    def __str__(self) -> str:
        return f"{self.building_id} @ {self.site_id} {self.starts_at:%H:%M}"


class TubeKind(models.TextChoices):
    POOLED = "pooled", _("Pooled")
    SINGLE = "single", _("Single tube")


class Result(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    POSITIVE = "positive", _("Positive")
    INVALID = "invalid", _("Invalid")


class Tube(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("testing status", "Open")
        CLOSED = "closed", _("Closed")
        RESULTED = "resulted", _("Result in")

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="tubes")
    code = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=8, choices=TubeKind.choices, default=TubeKind.POOLED)
    pool_size = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    site = models.ForeignKey(SamplingSite, null=True, blank=True, on_delete=models.SET_NULL, related_name="tubes")
    site_label = models.CharField(max_length=64, blank=True)  # site as named by an imported file
    # Where the tube is being filled: "site:<id>:<desk>" or "door:<user id>"; one open tube per station.
    station = models.CharField(max_length=40, blank=True)
    door_to_door = models.BooleanField(default=False)
    opened_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    imported = models.BooleanField(default=False)

    class Meta:
        ordering = ["round_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["round", "station"],
                condition=Q(status="open") & ~Q(station=""),
                name="tube_one_open_per_station",
            )
        ]

    def __str__(self) -> str:
        return self.code


class Sample(models.Model):
    # The community the row belongs to, copied on write (partitioning key; scoped reads and retention).
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="+", db_index=False)
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="samples")
    # No index of their own: (resident, round) and the unique (tube, resident) lead with them, and a
    # city round writes 250,000 rows into every index of this table.
    resident = models.ForeignKey(
        "registry.Resident", on_delete=models.CASCADE, related_name="test_samples", db_index=False
    )
    tube = models.ForeignKey(Tube, on_delete=models.CASCADE, related_name="samples", db_index=False)
    kind = models.CharField(max_length=8, choices=TubeKind.choices, default=TubeKind.POOLED)
    sampled_at = models.DateTimeField()
    site = models.ForeignKey(SamplingSite, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    door_to_door = models.BooleanField(default=False)
    taken_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["tube_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["round", "resident"], condition=Q(kind="pooled"), name="sample_once_pooled"
            ),
            models.UniqueConstraint(fields=["tube", "resident"], name="sample_once_per_tube"),
        ]
        indexes = [
            models.Index(fields=["resident", "round"]),
            models.Index(fields=["community", "sampled_at"], name="sample_community_sampled_at"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} in {self.tube_id}"


class LabResult(models.Model):
    tube = models.OneToOneField(Tube, on_delete=models.CASCADE, related_name="lab_result")
    result = models.CharField(max_length=10, choices=Result.choices)
    ct_orf1ab = models.FloatField(null=True, blank=True)
    ct_n = models.FloatField(null=True, blank=True)
    tested_at = models.DateTimeField()
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.tube_id}: {self.result}"


class Retest(models.Model):
    """A resident pending re-test (待复查): sampled alone (单采), usually at their door."""

    class Reason(models.TextChoices):
        POSITIVE_TUBE = "positive_tube", _("Positive pooled tube")
        INVALID_TUBE = "invalid_tube", _("Invalid tube")
        ANTIGEN = "antigen", _("Positive antigen self-test")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending re-test")
        CLEARED = "cleared", _("Cleared (negative)")
        CONFIRMED = "confirmed", _("Confirmed positive")

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="+")
    resident = models.ForeignKey("registry.Resident", on_delete=models.CASCADE, related_name="retests")
    round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="retests")
    source_tube = models.ForeignKey(Tube, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_tube = models.ForeignKey(Tube, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    work_order = models.ForeignKey(
        "workorders.WorkOrder", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["resident"], condition=Q(status="pending"), name="retest_one_pending")
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.reason} {self.status}"


class AntigenResult(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    POSITIVE = "positive", _("Positive")
    INVALID = "invalid", _("Invalid")
    NOT_TESTED = "not_tested", _("Not tested")


class AntigenSubmission(models.Model):
    """Every submission (the public page, or a leader on the household's behalf), as received (history);
    keyed by the client's id."""

    # Without the ``varchar_pattern_ops`` twin of its unique index that PostgreSQL gets for a unique
    # CharField (nothing searches client ids by prefix; dropped by migration testing 0005).
    client_id = models.CharField(max_length=64, unique=True)
    # The community the row belongs to, copied on write (partitioning key; scoped reads and retention).
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="+", db_index=False)
    building = models.ForeignKey("registry.Building", on_delete=models.CASCADE, related_name="+")
    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="antigen_submissions")
    day = models.DateField()
    received_at = models.DateTimeField(auto_now_add=True)
    results: models.JSONField[Any, Any] = models.JSONField(default=dict)
    photo = models.FileField(upload_to="antigen/%Y/%m/%d/", null=True, blank=True)
    # A building leader who entered the household's results from their phone (None: the household).
    # Indexed only where set (Meta): a household's own submission, nearly all of them, writes no entry.
    recorded_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["community", "day"], name="antigen_sub_community_day"),
            models.Index(
                fields=["recorded_by"], name="antigen_sub_recorded_by", condition=Q(recorded_by__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.client_id


class AntigenReport(models.Model):
    """A resident's antigen result for a day: one row per resident per day, the latest answer wins."""

    # The community the row belongs to, copied on write (partitioning key; scoped reads and retention).
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="+", db_index=False)
    # No index of their own: ``antigen_one_per_day`` (resident, day) and (household, day) lead with
    # them (two index entries fewer for each report written, the hot path's upsert).
    resident = models.ForeignKey(
        "registry.Resident", on_delete=models.CASCADE, related_name="antigen_reports", db_index=False
    )
    household = models.ForeignKey(
        "registry.Household", on_delete=models.CASCADE, related_name="antigen_reports", db_index=False
    )
    day = models.DateField()
    result = models.CharField(max_length=12, choices=AntigenResult.choices)
    submission = models.ForeignKey(AntigenSubmission, on_delete=models.CASCADE, related_name="reports")
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "resident_id"]
        constraints = [models.UniqueConstraint(fields=["resident", "day"], name="antigen_one_per_day")]
        indexes = [
            models.Index(fields=["household", "day"]),
            models.Index(fields=["community", "day"], name="antigen_community_day"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.day} {self.result}"


class KitHandout(models.Model):
    """Antigen kits handed to a household on a day (reconciled with the results reported)."""

    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="kit_handouts")
    day = models.DateField()
    kits = models.PositiveSmallIntegerField()
    handed_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["household", "day"], name="kits_one_row_per_day")]

    def __str__(self) -> str:
        return f"{self.household_id} {self.day} x{self.kits}"
