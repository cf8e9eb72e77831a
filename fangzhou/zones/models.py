"""Zones: the rule set chosen per community, manual overrides, micro sealed zones and the site's
roads, gates and open spaces. Zone *status* is never stored: it is derived from cases and the date."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangzhou.zones.core import DEFAULT_RULE_SET, RULE_SETS

RULE_SET_CHOICES = [(name, rs.label_en) for name, rs in RULE_SETS.items()]


class ZoneSettings(models.Model):
    community = models.OneToOneField("registry.Community", on_delete=models.CASCADE, related_name="zone_settings")
    rule_set = models.CharField(max_length=40, choices=RULE_SET_CHOICES, default=DEFAULT_RULE_SET.name)
    # The optional gate of rule sets that have one (national-9): a downgrade waits for an
    # all-negative mass round (closed rounds of the testing app).
    clean_round_gate = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.rule_set


class MicroZone(models.Model):
    """A micro sealed zone (小封控区): a named block of buildings of one compound.

    Active from ``drawn_on`` to the day before ``dissolved_on`` ("unseal a block")."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="microzones")
    compound = models.ForeignKey("registry.Compound", on_delete=models.CASCADE, related_name="microzones")
    name = models.CharField(max_length=64)
    buildings = models.ManyToManyField("registry.Building", related_name="microzones")
    drawn_on = models.DateField()
    dissolved_on = models.DateField(null=True, blank=True)
    sampling_space = models.ForeignKey(
        "zones.OpenSpace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["compound_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["compound", "name"], condition=Q(dissolved_on__isnull=True), name="microzone_unique_active_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ZoneOverride(models.Model):
    """A manual status decision for a compound or a micro-zone, with reason, who and until when."""

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="zone_overrides")
    compound = models.ForeignKey("registry.Compound", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    microzone = models.ForeignKey(MicroZone, null=True, blank=True, on_delete=models.CASCADE, related_name="overrides")
    status = models.CharField(max_length=16)
    reason = models.CharField(max_length=300)
    since = models.DateField()
    until = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(compound__isnull=False, microzone__isnull=True)
                | Q(compound__isnull=True, microzone__isnull=False),
                name="zone_override_one_place",
            )
        ]

    def __str__(self) -> str:
        return f"{self.status} until {self.until}: {self.reason}"


class RoadNode(models.Model):
    """A point of the compound's road graph (metres, on the community plan)."""

    compound = models.ForeignKey("registry.Compound", on_delete=models.CASCADE, related_name="road_nodes")
    key = models.CharField(max_length=32)
    x = models.FloatField()
    y = models.FloatField()

    class Meta:
        ordering = ["compound_id", "key"]
        constraints = [models.UniqueConstraint(fields=["compound", "key"], name="road_node_unique_key")]

    def __str__(self) -> str:
        return self.key


class Road(models.Model):
    compound = models.ForeignKey("registry.Compound", on_delete=models.CASCADE, related_name="roads")
    a = models.ForeignKey(RoadNode, on_delete=models.CASCADE, related_name="+")
    b = models.ForeignKey(RoadNode, on_delete=models.CASCADE, related_name="+")
    width_m = models.FloatField()
    name = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["compound_id", "id"]
        constraints = [models.UniqueConstraint(fields=["a", "b"], name="road_unique_ends")]

    def __str__(self) -> str:
        return f"{self.name} {self.width_m:g} m"


class Gate(models.Model):
    compound = models.ForeignKey("registry.Compound", on_delete=models.CASCADE, related_name="gates")
    node = models.ForeignKey(RoadNode, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["compound_id", "name"]
        constraints = [models.UniqueConstraint(fields=["compound", "name"], name="gate_unique_name")]

    def __str__(self) -> str:
        return self.name


class OpenSpace(models.Model):
    class Kind(models.TextChoices):
        OPEN_SPACE = "open_space", _("Open space")
        SAMPLING_SITE = "sampling_site", _("Sampling site")
        GARBAGE_POINT = "garbage_point", _("Garbage point")

    compound = models.ForeignKey("registry.Compound", on_delete=models.CASCADE, related_name="open_spaces")
    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OPEN_SPACE)
    x = models.FloatField()
    y = models.FloatField()

    class Meta:
        ordering = ["compound_id", "name"]
        constraints = [models.UniqueConstraint(fields=["compound", "name"], name="open_space_unique_name")]

    def __str__(self) -> str:
        return self.name
