"""Supplies to every door: distributions, deliveries per household, who carries which building's
list, and volunteer route plans."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class DistributionKind(models.TextChoices):
    GOVERNMENT = "government", _("Government package")
    GROUP_PURCHASE = "group_purchase", _("Group purchase")


class Scaling(models.TextChoices):
    PER_HOUSEHOLD = "per_household", _("One package per household")
    BY_SIZE = "by_size", _("Scaled by household size")


class Distribution(models.Model):
    """One round of supplies: a government package for every household or a group purchase."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="distributions")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=DistributionKind.choices)
    scaling = models.CharField(max_length=16, choices=Scaling.choices, default=Scaling.PER_HOUSEHOLD)
    # Government package content per household (or per person with BY_SIZE): {"item": quantity}.
    package: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    on = models.DateField()
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-on", "-id"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="distribution_unique_name")]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Not yet delivered")
    DELIVERED = "delivered", _("Delivered")
    LEFT_AT_DOOR = "left_at_door", _("Left at the door")


class Delivery(models.Model):
    """What one door receives in one distribution, and whether it got there."""

    # The distribution's community, copied on write (partitioning key; scoped reads and retention).
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="+")
    distribution = models.ForeignKey(Distribution, on_delete=models.CASCADE, related_name="deliveries")
    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="deliveries")
    building = models.ForeignKey("registry.Building", on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    photo = models.FileField(upload_to="deliveries/%Y/%m/", null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["building_id", "household__room"]
        constraints = [models.UniqueConstraint(fields=["distribution", "household"], name="delivery_unique_household")]
        indexes = [models.Index(fields=["distribution", "building", "status"])]

    def __str__(self) -> str:
        return f"{self.distribution_id}:{self.household_id}"


class DeliveryLine(models.Model):
    """One item and its quantity for one door. Natural key (delivery, item): a re-import sets, never adds."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="lines")
    item = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["delivery_id", "item"]
        constraints = [models.UniqueConstraint(fields=["delivery", "item"], name="delivery_line_unique_item")]

    def __str__(self) -> str:
        return f"{self.item}×{self.quantity}"


class DeliveryAssignment(models.Model):
    """Who carries the list of one building in one distribution (volunteers see only these)."""

    distribution = models.ForeignKey(Distribution, on_delete=models.CASCADE, related_name="assignments")
    building = models.ForeignKey("registry.Building", on_delete=models.CASCADE, related_name="+")
    volunteer = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="delivery_assignments")
    assigned_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["distribution", "building"], name="delivery_assignment_unique_building")
        ]

    def __str__(self) -> str:
        return f"{self.distribution_id}:{self.building_id}→{self.volunteer_id}"


class GroupPurchaseImport(models.Model):
    """One upload of the group-purchase organiser's spreadsheet: counts and rejected rows."""

    distribution = models.ForeignKey(Distribution, on_delete=models.CASCADE, related_name="imports")
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=255)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected: models.JSONField[Any, Any] = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.filename


class PlanStatus(models.TextChoices):
    QUEUED = "queued", _("Planning")
    DONE = "done", _("Planned")
    FAILED = "failed", _("Failed")


class RoutePlan(models.Model):
    """Volunteer routes for a set of doors: planned in the background, drawn on the site plan."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="route_plans")
    distribution = models.ForeignKey(
        Distribution, null=True, blank=True, on_delete=models.SET_NULL, related_name="route_plans"
    )
    name = models.CharField(max_length=100)
    purpose = models.CharField(max_length=16, default="delivery")  # delivery, sampling, medicine
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default=PlanStatus.QUEUED)
    # The request: building ids, volunteer user ids, capacity, start point key, time limits.
    params: models.JSONField[Any, Any] = models.JSONField(default=dict)
    # Unserved stops with the reason; the start point; solver details.
    result: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)
    total_distance_m = models.PositiveIntegerField(default=0)
    solve_time_s = models.FloatField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class RouteLeg(models.Model):
    """One trip of a plan, for one volunteer: the stops in order and the line to draw."""

    plan = models.ForeignKey(RoutePlan, on_delete=models.CASCADE, related_name="legs")
    index = models.PositiveSmallIntegerField()
    volunteer = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="route_legs"
    )
    # [{"key": "h12", "label": "3号楼 101室", "building_id": 4, "demand": 1}, ...] in visiting order.
    stops: models.JSONField[Any, Any] = models.JSONField(default=list)
    polyline: models.JSONField[Any, Any] = models.JSONField(default=list)
    distance_m = models.PositiveIntegerField(default=0)
    duration_s = models.PositiveIntegerField(default=0)
    load = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["plan_id", "index"]
        constraints = [models.UniqueConstraint(fields=["plan", "index"], name="route_leg_unique_index")]

    def __str__(self) -> str:
        return f"{self.plan_id}#{self.index}"
