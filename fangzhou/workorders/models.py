"""One queue for every job: work orders, their history."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangzhou.lib.choices import ChoiceLabels
from fangzhou.registry.models import SpecialCare
from fangzhou.workorders import rules
from fangzhou.workorders.texts import title_text


class Kind(models.TextChoices):
    RETEST = "retest", _("Door-to-door re-test")
    TRANSFER = "transfer", _("Transfer to isolation")
    DISINFECTION = "disinfection", _("Disinfection")
    SUPPLY_DELIVERY = "supply_delivery", _("Supply delivery")
    MEDICINE = "medicine", _("Medicine on behalf")
    MEDICAL_ESCORT = "medical_escort", _("Medical visit escort")
    CARE_CHECKIN = "care_checkin", _("Special-care check-in")
    PATROL = "patrol", _("Patrol")
    RESIDENT_REQUEST = "resident_request", _("Resident request")
    HOUSEHOLD_CHECK = "household_check", _("Check on household")
    OTHER = "other", _("Other")


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    CLAIMED = "claimed", _("Claimed")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Priority(models.IntegerChoices):
    EMERGENCY = 0, _("Emergency")
    URGENT = 1, _("Urgent")
    NORMAL = 2, _("Normal")
    LOW = 3, _("Low")


class CloseReason(models.TextChoices):
    """Why an order closed itself: the condition that opened it has ended. Stored as a code on the
    order and its event; the reader's language is chosen when it is shown."""

    RETEST_NEGATIVE = "retest_negative", _("Re-test negative")
    CASE_CONFIRMED = "case_confirmed", _("Confirmed case: moved to case handling")
    ANTIGEN_CORRECTED = "antigen_corrected", _("Antigen report corrected to negative")
    DELIVERED = "delivered", _("Already delivered")
    CHECKED_IN = "checked_in", _("Check-in done")
    SCHEDULE_STOPPED = "schedule_stopped", _("Treatment schedule stopped")
    TRANSFERRED = "transferred", _("Handed over to the transfer vehicle")


class Group(models.TextChoices):
    """The default seven work groups of the source; volunteers.WorkGroup rows use these codes."""

    TESTING = "testing", _("Testing")
    DISINFECTION = "disinfection", _("Disinfection")
    MEDICAL = "medical", _("Medical visits and medicine")
    CARE = "care", _("Special care")
    SUPPLIES = "supplies", _("Supplies")
    PATROL = "patrol", _("Patrol")
    DATA = "data", _("Information and data")


# Why an order is an emergency (``rules.emergency_reason``), as a person reads it: the special-care
# need's own label, or an acute illness.
EMERGENCY_REASONS = {
    "acute_illness": _("Acute illness"),
    **{code: SpecialCare(code).label for code in rules.EMERGENCY_CONDITIONS},
}


class WorkOrder(ChoiceLabels, models.Model):
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="work_orders")
    building = models.ForeignKey(
        "registry.Building", null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders"
    )
    household = models.ForeignKey(
        "registry.Household", null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders"
    )
    resident = models.ForeignKey(
        "registry.Resident", null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    group = models.CharField(max_length=16, choices=Group.choices, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    title = models.CharField(max_length=200)
    # A title the system wrote: a code of ``workorders.texts.TITLES`` and its parameters, rendered
    # in the reader's language (``display_title``); empty for a title a person typed.
    title_code = models.CharField(max_length=40, blank=True, default="")
    title_args = models.JSONField(default=dict, blank=True)
    detail = models.TextField(blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    # Idempotency: the thing that caused this order ("retest:12:345"); one order per cause.
    source_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    assignee = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders"
    )
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # 0 = not escalated, 1 = to the work group's lead, 2 = to the committee (see work_orders_escalate).
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # Why the order jumped to the front ("dialysis", "acute illness"); empty for ordinary priority.
    emergency_reason = models.CharField(max_length=64, blank=True)
    completion_note = models.TextField(blank=True)
    completion_photo = models.FileField(upload_to="orders/%Y/%m/", null=True, blank=True)
    # Set when the order closed itself because its cause ended (see work_orders_close_in_transaction).
    close_reason = models.CharField(max_length=32, choices=CloseReason.choices, blank=True)

    class Meta:
        ordering = ["priority", "due_at", "id"]
        indexes = [
            models.Index(fields=["community", "status", "priority"]),
            models.Index(fields=["assignee", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open")
                | Q(status="cancelled")
                | Q(assignee__isnull=False)
                | ~Q(close_reason=""),  # closed by its ended cause, nobody had taken it
                name="work_order_assignee_when_taken",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def due_day(self) -> dt.date | None:
        """The day this order is due on the clock in force (the community's, set by the middleware)."""
        return timezone.localdate(self.due_at) if self.due_at is not None else None

    def same_due_day(self) -> Q:
        """The orders due on the same day as this one (a door task is one knock on one day)."""
        day = self.due_day
        if day is None:
            return Q(due_at__isnull=True)
        starts = timezone.make_aware(dt.datetime.combine(day, dt.time()))
        return Q(due_at__gte=starts, due_at__lt=starts + dt.timedelta(days=1))

    @property
    def is_door_to_door(self) -> bool:
        """Work at a door or in a building: the health gate applies to whoever claims it."""
        return rules.is_door_to_door(self.kind, self.building_id or self.household_id)

    @property
    def emergency_label(self) -> str:
        """Why it is an emergency, in the reader's language ("" if it is not, or the reason is unknown)."""
        return str(EMERGENCY_REASONS.get(self.emergency_reason, ""))

    @property
    def display_title(self) -> str:
        """The title in the reader's language (the stored one for a title a person typed)."""
        return title_text(self.title_code, self.title_args, self.title, {"request.order": {"kind": RequestKind}})


class WorkOrderEvent(ChoiceLabels, models.Model):
    """The full history of one order: every status change and note."""

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    note = models.TextField(blank=True)
    reason = models.CharField(max_length=32, choices=CloseReason.choices, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status}→{self.to_status}"

    @property
    def from_label(self) -> str:
        return str(Status(self.from_status).label) if self.from_status in Status.values else self.from_status

    @property
    def to_label(self) -> str:
        return str(Status(self.to_status).label) if self.to_status in Status.values else self.to_status


class RequestKind(models.TextChoices):
    MEDICINE = "medicine", _("Medicine")
    MEDICAL = "medical", _("Medical visit")
    FOOD = "food", _("Food and supplies")
    REPAIR = "repair", _("Repair")
    MENTAL_HEALTH = "mental_health", _("Mental health")
    OTHER = "other", _("Other")


class Urgency(models.IntegerChoices):
    """What the resident says; maps onto the order's priority."""

    EMERGENCY = 0, _("Emergency (life at risk)")
    URGENT = 1, _("Today")
    NORMAL = 2, _("In the next days")


class RequestSource(models.TextChoices):
    QR = "qr", _("Building QR page")
    STAFF = "staff", _("Recorded by staff")


class ResidentRequest(ChoiceLabels, models.Model):
    """A resident's request (诉求). Each becomes one work order; the reference lets the resident check it."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="resident_requests")
    building = models.ForeignKey("registry.Building", on_delete=models.CASCADE, related_name="resident_requests")
    household = models.ForeignKey(
        "registry.Household", null=True, blank=True, on_delete=models.SET_NULL, related_name="resident_requests"
    )
    room = models.CharField(max_length=16, blank=True)
    contact_name = models.CharField(max_length=64, blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.NORMAL)
    text = models.TextField()
    photo = models.FileField(upload_to="requests/%Y/%m/", null=True, blank=True)
    source = models.CharField(max_length=8, choices=RequestSource.choices, default=RequestSource.QR)
    # A retry or a double tap of the same form sends the same client id: one request.
    client_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    reference = models.CharField(max_length=12, unique=True)
    order = models.OneToOneField(
        WorkOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="resident_request"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalation_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["community", "created_at"])]

    def __str__(self) -> str:
        return self.reference


class OutboxReceipt(models.Model):
    """The answer the server gave to one field action sent from a phone's outbox (issue 13).

    The phone gives each tap its ``client_id`` when it is tapped; a replay of the same tap (the
    signal dropped before the answer arrived) is answered with this stored outcome and changes
    nothing. ``done_at_client`` is the phone's clock at the tap, ``received_at`` the server's.
    One table for every field endpoint (supplies, care and workorders views write it): it lives
    here, the lowest of those apps, so that each can reach it without pointing up."""

    class Outcome(models.TextChoices):
        DONE = "done", _("Done")
        CONFLICT = "conflict", _("Conflict")
        REFUSED = "refused", _("Refused")

    client_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)  # "delivery_mark", "checkin", "order_claim", "order_start" …
    target_id = models.PositiveBigIntegerField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField()
    message = models.CharField(max_length=300, blank=True)
    done_at_client = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "received_at"])]

    def __str__(self) -> str:
        return self.client_id
