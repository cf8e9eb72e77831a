"""Cases: a confirmed positive resident, isolation and discharge."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    POOLED_PCR = "pooled_pcr", _("Pooled PCR, then single-tube re-test")
    ANTIGEN_PCR = "antigen_pcr", _("Antigen, then PCR")
    DISTRICT = "district", _("Reported by the district")
    STAFF = "staff", _("Entered by staff")


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

    class Meta:
        ordering = ["-report_date", "id"]
        constraints = [models.UniqueConstraint(fields=["resident", "report_date"], name="case_unique_per_day")]

    def __str__(self) -> str:
        return f"{self.resident} {self.report_date}"
