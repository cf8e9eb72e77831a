"""Special care (特殊关爱) and medicine on behalf (代配药): the registry of vulnerable residents,
treatment schedules that drive escort work orders, daily check-ins, medicine requests and trips."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class CareProfile(models.Model):
    """A vulnerable resident as the committee keeps them: built from the roster's flags, edited by staff."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="care_profiles")
    resident = models.OneToOneField("registry.Resident", on_delete=models.CASCADE, related_name="care")
    # Comma-joined SpecialCare codes (registry.models.SpecialCare), in SPECIAL_ORDER.
    needs = models.CharField(max_length=200, blank=True)
    due_date = models.DateField(null=True, blank=True)  # pregnant
    carer = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="cared_for"
    )
    note = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["resident__household__building__sort_key", "resident__household__room", "id"]

    def __str__(self) -> str:
        return str(self.resident)

    @property
    def need_codes(self) -> list[str]:
        return [c for c in self.needs.split(",") if c]


class TreatmentKind(models.TextChoices):
    DIALYSIS = "dialysis", _("Dialysis")
    CHEMOTHERAPY = "chemotherapy", _("Chemotherapy")


class TreatmentSchedule(models.Model):
    """Regular sessions at a hospital: days of the week and a time."""

    profile = models.ForeignKey(CareProfile, on_delete=models.CASCADE, related_name="schedules")
    kind = models.CharField(max_length=16, choices=TreatmentKind.choices)
    # ISO weekdays, comma-joined: "1,3,5" = Monday, Wednesday, Friday.
    weekdays = models.CharField(max_length=20)
    at = models.TimeField()
    hospital = models.CharField(max_length=100)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["profile_id", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.weekdays} {self.at}"

    @property
    def weekday_list(self) -> list[int]:
        return [int(d) for d in self.weekdays.split(",") if d.strip().isdigit()]


class CheckInStatus(models.TextChoices):
    OK = "ok", _("All well")
    NEEDS_HELP = "needs_help", _("Needs help")
    MISSED = "missed", _("No answer")


class CheckIn(models.Model):
    """One day's check-in on a resident living alone. Natural key (profile, on)."""

    profile = models.ForeignKey(CareProfile, on_delete=models.CASCADE, related_name="checkins")
    on = models.DateField()
    status = models.CharField(max_length=16, choices=CheckInStatus.choices)
    note = models.CharField(max_length=300, blank=True)
    by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-on", "profile_id"]
        constraints = [models.UniqueConstraint(fields=["profile", "on"], name="checkin_unique_day")]

    def __str__(self) -> str:
        return f"{self.profile_id} {self.on} {self.status}"


class Payer(models.TextChoices):
    RESIDENT = "resident", _("The resident pays on delivery")
    PREPAID = "prepaid", _("Paid in advance (transfer)")
    INSURANCE = "insurance", _("Medical insurance card")
    COMMUNITY = "community", _("The community pays")


class MedicineStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ON_TRIP = "on_trip", _("A volunteer is fetching it")
    DELIVERED = "delivered", _("Delivered at the door")
    CANCELLED = "cancelled", _("Cancelled")


class MedicineTrip(models.Model):
    """One run to one hospital or pharmacy for several requests; a work order for a volunteer."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="medicine_trips")
    pharmacy = models.CharField(max_length=100)
    order = models.OneToOneField(
        "workorders.WorkOrder", null=True, blank=True, on_delete=models.SET_NULL, related_name="medicine_trip"
    )
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.pharmacy} #{self.pk}"


class MedicineRequest(models.Model):
    """Medicine fetched on a resident's behalf, tracked to the door."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="medicine_requests")
    resident = models.ForeignKey("registry.Resident", on_delete=models.CASCADE, related_name="medicine_requests")
    # [{"name": "...", "dose": "...", "quantity": "..."}]
    medicines: models.JSONField[Any, Any] = models.JSONField(default=list)
    prescription = models.CharField(max_length=300, blank=True)  # prescription or hospital card details
    pharmacy = models.CharField(max_length=100)
    urgency = models.PositiveSmallIntegerField(default=2)  # workorders Priority values
    payer = models.CharField(max_length=16, choices=Payer.choices, default=Payer.RESIDENT)
    status = models.CharField(max_length=16, choices=MedicineStatus.choices, default=MedicineStatus.REQUESTED)
    trip = models.ForeignKey(MedicineTrip, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests")
    client_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["status", "urgency", "created_at", "id"]
        indexes = [models.Index(fields=["community", "status", "pharmacy"])]

    def __str__(self) -> str:
        return f"{self.pharmacy} #{self.pk}"
