"""Volunteers, work groups, the 24-hour duty roster, and the health gate's own test records."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from fangzhou.workorders.models import Group


class VolunteerKind(models.TextChoices):
    RESIDENT = "resident", _("Resident volunteer")
    PARTY_MEMBER = "party_member", _("Party member reporting to the community")
    CADRE = "cadre", _("Deployed cadre")
    SOCIAL_WORKER = "social_worker", _("Social worker")
    OTHER = "other", _("Other")


class Skill(models.TextChoices):
    DRIVER = "driver", _("Driver")
    MEDICAL = "medical", _("Medical training")
    CARRY = "carry", _("Can carry loads")
    DIALECT = "dialect", _("Speaks the local dialect")
    DATA = "data", _("Computers and data")
    COUNSEL = "counsel", _("Counselling")


class TimeSlot(models.TextChoices):
    """When in the day a volunteer can help (asked on the sign-up form)."""

    MORNING = "morning", _("Morning (8–12)")
    AFTERNOON = "afternoon", _("Afternoon (12–18)")
    EVENING = "evening", _("Evening (18–22)")
    NIGHT = "night", _("Night (22–8)")


class Weekday(models.TextChoices):
    MON = "1", _("Mon")
    TUE = "2", _("Tue")
    WED = "3", _("Wed")
    THU = "4", _("Thu")
    FRI = "5", _("Fri")
    SAT = "6", _("Sat")
    SUN = "7", _("Sun")


def codes_in(value: str, choices: type[models.TextChoices]) -> list[str]:
    """Comma-joined codes (as stored) back to the known ones, in the choices' order."""
    have = set(value.split(","))
    return [c for c in choices.values if c in have]


def labels_of(value: str, choices: type[models.TextChoices]) -> list[str]:
    labels = dict(choices.choices)
    return [str(labels[c]) for c in codes_in(value, choices)]


class VolunteerStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class SignupLink(models.Model):
    """The community's sign-up QR link: unguessable and revocable, like a building's public token."""

    community = models.OneToOneField("registry.Community", on_delete=models.CASCADE, related_name="signup_link")
    token = models.CharField(max_length=43, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.community_id}"


class Volunteer(models.Model):
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="volunteers")
    # Client-generated id of the sign-up form: a retry or a double tap gives the same volunteer.
    client_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=64)
    phone = models.CharField(max_length=20)
    building = models.ForeignKey(
        "registry.Building", null=True, blank=True, on_delete=models.SET_NULL, related_name="volunteers"
    )
    resident = models.ForeignKey(
        "registry.Resident", null=True, blank=True, on_delete=models.SET_NULL, related_name="volunteer_profiles"
    )
    kind = models.CharField(max_length=16, choices=VolunteerKind.choices, default=VolunteerKind.RESIDENT)
    skills = models.CharField(max_length=200, blank=True)  # comma-joined Skill codes
    availability = models.CharField(max_length=200, blank=True)  # free note: "weekdays after 18:00"
    # What the sign-up form asked: the work groups they would join (Group codes), the days of the
    # week (Weekday codes) and the time slots (TimeSlot codes), each comma-joined.
    wanted_groups = models.CharField(max_length=120, blank=True)
    available_days = models.CharField(max_length=20, blank=True)
    available_slots = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=16, choices=VolunteerStatus.choices, default=VolunteerStatus.PENDING)
    user = models.OneToOneField(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="volunteer"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["community_id", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["community", "phone"], name="volunteer_unique_phone")]
        indexes = [models.Index(fields=["community", "status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def skill_codes(self) -> list[str]:
        return [c for c in self.skills.split(",") if c]

    @property
    def wanted_group_codes(self) -> list[str]:
        return codes_in(self.wanted_groups, Group)

    @property
    def wanted_group_labels(self) -> list[str]:
        return labels_of(self.wanted_groups, Group)

    @property
    def day_labels(self) -> list[str]:
        return labels_of(self.available_days, Weekday)

    @property
    def slot_labels(self) -> list[str]:
        return labels_of(self.available_slots, TimeSlot)


class WorkGroup(models.Model):
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="work_groups")
    code = models.CharField(max_length=16, choices=Group.choices)
    lead = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="led_groups"
    )
    members = models.ManyToManyField(Volunteer, blank=True, related_name="groups")

    class Meta:
        ordering = ["community_id", "id"]
        constraints = [models.UniqueConstraint(fields=["community", "code"], name="work_group_unique_code")]

    def __str__(self) -> str:
        return str(self.get_code_display())


class Post(models.TextChoices):
    SAMPLING_SITE = "sampling_site", _("Sampling site")
    GATE = "gate", _("Gate")
    DUTY_OFFICE = "duty_office", _("Duty office")
    PATROL = "patrol", _("Patrol round")
    OTHER = "other", _("Other post")


class Shift(models.Model):
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="shifts")
    group = models.ForeignKey(WorkGroup, on_delete=models.CASCADE, related_name="shifts")
    post = models.CharField(max_length=16, choices=Post.choices)
    place = models.CharField(max_length=64, blank=True)  # "East gate", "Sampling site 2"
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    needed = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["starts_at", "group_id", "post", "place"]
        constraints = [
            models.UniqueConstraint(fields=["group", "post", "place", "starts_at"], name="shift_unique_slot"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start"),
        ]
        indexes = [models.Index(fields=["community", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.group} {self.get_post_display()} {self.place} {self.starts_at:%m-%d %H:%M}"


class ShiftAssignment(models.Model):
    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="assignments")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="assignments")
    assigned_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shift_id", "id"]
        constraints = [models.UniqueConstraint(fields=["shift", "volunteer"], name="assignment_unique")]

    def __str__(self) -> str:
        return f"{self.volunteer} @ {self.shift}"


class SwapStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Swapped")
    CANCELLED = "cancelled", _("Cancelled")


class SwapRequest(models.Model):
    """A volunteer asks to hand their place on a shift to someone else; a lead or the committee decides."""

    assignment = models.ForeignKey(ShiftAssignment, on_delete=models.CASCADE, related_name="swaps")
    requester = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="swap_requests")
    reason = models.CharField(max_length=200, blank=True)
    proposed = models.ForeignKey(
        Volunteer, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposed_swaps"
    )
    status = models.CharField(max_length=16, choices=SwapStatus.choices, default=SwapStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["assignment"], condition=Q(status="open"), name="swap_one_open")]

    def __str__(self) -> str:
        return f"swap {self.assignment_id} ({self.status})"


class TestResult(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    POSITIVE = "positive", _("Positive")


class TestKind(models.TextChoices):
    ANTIGEN = "antigen", _("Antigen")
    PCR = "pcr", _("PCR")


class VolunteerTest(models.Model):
    """A test the volunteer did (antigen or PCR), recorded by them or by the committee."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="tests")
    tested_at = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=TestKind.choices, default=TestKind.ANTIGEN)
    result = models.CharField(max_length=8, choices=TestResult.choices)
    recorded_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-tested_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["volunteer", "tested_at", "kind"], name="volunteer_test_unique")]

    def __str__(self) -> str:
        return f"{self.volunteer_id} {self.kind} {self.result} {self.tested_at:%Y-%m-%d %H:%M}"
