"""Models of the reports app: the daily tables pulled from federated peers (counts only)."""

from __future__ import annotations

from typing import Any

from django.db import models


class FederatedReport(models.Model):
    """One peer instance's subdistrict table for one day, as its API answered it (counts only:
    community codes and names, and figures; never a person). Refreshed by the schedule's ``federation``."""

    peer = models.CharField(max_length=64)
    day = models.DateField()
    fetched_at = models.DateTimeField()
    # The answer's "communities" list (``reports.selectors.subdistrict_json``), kept as it came.
    communities: models.JSONField[Any, Any] = models.JSONField(default=list)
    # The last pull's failure (an HTTP status or an error class), empty when it succeeded.
    error = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["peer"]
        constraints = [models.UniqueConstraint(fields=["peer", "day"], name="federated_report_once")]

    def __str__(self) -> str:
        return f"{self.peer} {self.day}"
