"""The operator's tables: one row per scheduled run (claimed before it runs) and each community's
end of the emergency (from which the retention periods count)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """One run of a scheduled job for one slot (``2026-12-01T15:45`` for an interval job, the date for
    a daily one). The unique (job, slot) row is inserted *before* the job runs: a second scheduler
    firing the same slot (two beats, beat and a thread, three web workers' threads) finds it taken."""

    class Outcome(models.TextChoices):
        RUNNING = "running", _("Running")
        OK = "ok", _("Done")
        FAILED = "failed", _("Failed")

    job = models.CharField(max_length=64)
    slot = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.RUNNING)
    # The job's return value (counts) or the class of its error; never personal data.
    detail: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="job_run_once_per_slot")]
        indexes = [models.Index(fields=["job", "-started_at"], name="job_run_latest")]

    def __str__(self) -> str:
        return f"{self.job} {self.slot} {self.outcome}"


class EmergencyEnd(models.Model):
    """The day the committee declared its community's emergency over; retention counts from it."""

    community = models.OneToOneField("registry.Community", on_delete=models.CASCADE, related_name="+")
    ended_on = models.DateField()
    set_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    set_at = models.DateTimeField(auto_now=True)
    # When retention first deleted or de-identified something counted from this end: from then on the
    # end stands (the committee's page no longer offers to change or withdraw it).
    retention_ran_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.community_id} ended {self.ended_on}"
