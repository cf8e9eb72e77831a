"""Cases: a confirmed positive resident, isolation and discharge, close contacts."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    POOLED_PCR = "pooled_pcr", _("Pooled PCR, then single-tube re-test")
    ANTIGEN_PCR = "antigen_pcr", _("Antigen, then PCR")
    DISTRICT = "district", _("Reported by the district")
    STAFF = "staff", _("Entered by staff")


class SiteKind(models.TextChoices):
    SHELTER = "shelter", _("Shelter hospital (方舱)")
    ISOLATION_POINT = "isolation_point", _("Isolation site (隔离点)")
    HOSPITAL = "hospital", _("Hospital")


class Case(models.Model):
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="cases")
    resident = models.ForeignKey("registry.Resident", on_delete=models.PROTECT, related_name="cases")
    # Where the resident lived when reported: zones count the case there even if they move later.
    building = models.ForeignKey("registry.Building", on_delete=models.PROTECT, related_name="cases")
    source = models.CharField(max_length=16, choices=Source.choices)
    report_date = models.DateField(db_index=True)  # the date of record for zones
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Isolation: facts, set by case_transfer / case_discharge.
    site_kind = models.CharField(max_length=16, choices=SiteKind.choices, blank=True)
    site_name = models.CharField(max_length=100, blank=True)
    transferred_on = models.DateField(null=True, blank=True)
    discharged_on = models.DateField(null=True, blank=True)
    # Last day of home health monitoring after discharge (discharged_on + monitoring days).
    monitoring_until = models.DateField(null=True, blank=True)
    # The transfer batch that takes (or took) the case to its site; None while waiting.
    transfer_batch = models.ForeignKey(
        "TransferBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )

    class Meta:
        ordering = ["-report_date", "id"]
        constraints = [models.UniqueConstraint(fields=["resident", "report_date"], name="case_unique_per_day")]

    def __str__(self) -> str:
        return f"{self.resident} {self.report_date}"

    def stage(self, on: Any) -> str:
        """reported / isolated / monitoring / closed on the date ``on``."""
        if self.discharged_on is None or on < self.discharged_on:
            return "isolated" if self.transferred_on and self.transferred_on <= on else "reported"
        if self.monitoring_until is not None and on <= self.monitoring_until:
            return "monitoring"
        return "closed"


class PcrResult(models.Model):
    """A PCR result of a case during isolation (for discharge): Ct value where the lab gives it."""

    class Result(models.TextChoices):
        NEGATIVE = "negative", _("Negative")
        POSITIVE = "positive", _("Positive")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="pcr_results")
    sampled_at = models.DateTimeField()
    result = models.CharField(max_length=8, choices=Result.choices)
    ct = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["sampled_at", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "sampled_at"], name="pcr_result_unique_sample")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.sampled_at:%Y-%m-%d %H:%M} {self.result}"


class CloseContact(models.Model):
    """A contact of a case in isolation from ``since`` to ``until``: a household member (added with
    the case), or a close (密接) or secondary (次密接) contact from the district's list or typed by
    staff — a resident where one matches, otherwise an outside person with a name and a phone only."""

    class Degree(models.TextChoices):
        CLOSE = "close", _("Close contact")
        SECONDARY = "secondary", _("Secondary contact")

    class Origin(models.TextChoices):
        HOUSEHOLD = "household", _("Same household")
        DISTRICT = "district", _("District's list")
        STAFF = "staff", _("Entered by staff")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="contacts")
    resident = models.ForeignKey(
        "registry.Resident", null=True, blank=True, on_delete=models.CASCADE, related_name="contact_of"
    )
    # One contact per case and person: "r:<resident id>", or "o:<digest>" of an outside person.
    key = models.CharField(max_length=64)
    degree = models.CharField(max_length=12, choices=Degree.choices, default=Degree.CLOSE)
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.HOUSEHOLD)
    # The close contact a secondary contact met (次密接 ← 密接).
    via = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="secondary")
    outside_name = models.CharField(max_length=64, blank=True)
    outside_phone = models.CharField(max_length=20, blank=True)
    place = models.CharField(max_length=100, blank=True)  # "" = at home; else the isolation site
    since = models.DateField()
    until = models.DateField()

    class Meta:
        ordering = ["case_id", "resident_id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "resident"], name="close_contact_unique"),
            models.UniqueConstraint(fields=["case", "key"], name="close_contact_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id or self.outside_name} ({self.since}..{self.until})"


class CaseEvent(models.Model):
    """One step in a case's life, for the resident's timeline."""

    class Kind(models.TextChoices):
        REPORTED = "reported", _("Case reported")
        TRANSFERRED = "transferred", _("Transferred to isolation")
        PCR = "pcr", _("PCR result in isolation")
        DISCHARGED = "discharged", _("Discharged")
        MONITORING_END = "monitoring_end", _("End of home health monitoring")
        CONTACT = "contact", _("Close contact: home isolation")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    resident = models.ForeignKey("registry.Resident", on_delete=models.CASCADE, related_name="case_events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    on = models.DateField()
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["on", "at", "id"]
        indexes = [models.Index(fields=["resident", "on"])]

    def __str__(self) -> str:
        return f"{self.on} {self.kind}"


class CaseSettings(models.Model):
    """Per-community numbers of the case rules (defaults come from Django settings)."""

    community = models.OneToOneField("registry.Community", on_delete=models.CASCADE, related_name="case_settings")
    discharge_gap_hours = models.PositiveSmallIntegerField(default=24)
    discharge_min_ct = models.FloatField(default=35.0)
    monitoring_days = models.PositiveSmallIntegerField(default=7)
    contact_days = models.PositiveSmallIntegerField(default=7)
    # Home isolation of a secondary contact (次密接), days (Shanghai 2022: 7).
    secondary_contact_days = models.PositiveSmallIntegerField(default=7)

    def __str__(self) -> str:
        return f"case settings of {self.community_id}"


class IsolationSite(models.Model):
    """A shelter hospital or isolation site the district gave the community, with its beds for it."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="isolation_sites")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=SiteKind.choices)
    capacity = models.PositiveIntegerField()  # beds for this community's cases
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="isolation_site_unique")]

    def __str__(self) -> str:
        return self.name


class TransferBatch(models.Model):
    """One pick-up: which cases, when, which vehicle, to which site; then the hand-over."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        HANDED_OVER = "handed_over", _("Handed over")
        CANCELLED = "cancelled", _("Cancelled")

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="transfer_batches")
    site = models.ForeignKey(IsolationSite, on_delete=models.PROTECT, related_name="batches")
    pickup_at = models.DateTimeField()
    vehicle = models.CharField(max_length=32, blank=True)  # plate or the district's vehicle number
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    # The form's id: a double tap or a retry makes one batch.
    client_id = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    handed_over_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    receiver = models.CharField(max_length=64, blank=True)  # who took the cases over at the vehicle

    class Meta:
        ordering = ["-pickup_at", "-pk"]
        indexes = [models.Index(fields=["community", "status"], name="transfer_batch_open")]

    def __str__(self) -> str:
        return f"{self.site} {self.pickup_at:%Y-%m-%d %H:%M}"


class LineListLayout(models.Model):
    """The district's (or the CDC's) column layout of a line list: which fields, under which headers."""

    class Kind(models.TextChoices):
        CASES = "cases", _("Cases")
        CONTACTS = "contacts", _("Contacts")

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="line_list_layouts")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=64)
    # [{"field": "name", "header": "姓名"}, ...] in column order; fields from cases/linelists.py.
    columns: models.JSONField[Any, Any] = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["community", "kind", "name"], name="line_list_layout_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"
