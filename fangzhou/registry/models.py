"""The place and its people: subdistrict → community → compound → grid → building → household → resident."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangzhou.registry.addressing import building_label, household_label
from fangzhou.registry.namekeys import name_search_key


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(_("Unknown time zone: %(value)s"), params={"value": value})


class Subdistrict(models.Model):
    name = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return self.name


class Community(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    subdistrict = models.ForeignKey(Subdistrict, on_delete=models.PROTECT, related_name="communities")
    # The community's clock: every time a person reads (pages, messages, refusals, Excel, PDF) is
    # shown in it, whatever the server's TIME_ZONE (an IANA name).
    time_zone = models.CharField(max_length=64, default="Asia/Shanghai", validators=[validate_time_zone])
    # A landline written without its area code ("64318888") is the community's: Shanghai is 021.
    phone_area_code = models.CharField(max_length=5, default="021")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "communities"

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class Compound(models.Model):
    class Kind(models.TextChoices):
        RESIDENTIAL = "residential", _("Residential compound")
        PLAZA = "plaza", _("Commercial plaza")
        OTHER = "other", _("Other site")

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="compounds")
    name = models.CharField(max_length=64)
    # What people call it for short ("一村" for 华新一村); search understands it. Empty = none.
    short_name = models.CharField(max_length=32, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RESIDENTIAL)
    # Origin of the compound on the community plan, in metres.
    origin_x = models.FloatField(default=0)
    origin_y = models.FloatField(default=0)

    class Meta:
        ordering = ["community_id", "id"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="compound_unique_name")]

    def __str__(self) -> str:
        return self.name


class Grid(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="grids")
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["community_id", "name"]
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="grid_unique_name")]

    def __str__(self) -> str:
        return self.name


class Building(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="buildings")
    compound = models.ForeignKey(Compound, on_delete=models.CASCADE, related_name="buildings")
    grid = models.ForeignKey(Grid, null=True, blank=True, on_delete=models.SET_NULL, related_name="buildings")
    # Normalised number as people say it: "3", "12A". Display adds 号楼.
    number = models.CharField(max_length=16)
    sort_key = models.IntegerField(default=0)
    # Site plan: centre and size in metres on the community plan, optional footprint polygon.
    x = models.FloatField(null=True, blank=True)
    y = models.FloatField(null=True, blank=True)
    width = models.FloatField(default=24)
    depth = models.FloatField(default=12)
    footprint: models.JSONField[Any, Any] = models.JSONField(default=list, blank=True)
    floors = models.PositiveSmallIntegerField(default=6)
    # The building's public QR link (antigen reports, requests, zone status). Unguessable and
    # revocable: rotating it kills every printed poster of the old one. Empty = no public page.
    public_token = models.CharField(max_length=43, blank=True, db_index=True)

    class Meta:
        ordering = ["compound_id", "sort_key", "number"]
        constraints = [models.UniqueConstraint(fields=["compound", "number"], name="building_unique_number")]

    def __str__(self) -> str:
        return self.full_label

    @property
    def label(self) -> str:
        """The number alone ("1号楼"): only where the compound is already named (a compound's own
        heading, the site plan's shapes inside the compound's outline). Everywhere a person picks
        or reads a building, use ``full_label``."""
        return f"{self.number}号楼"

    @property
    def full_label(self) -> str:
        """ "华新一村 1号楼": the one way a building is named to a person (load it with
        ``select_related("compound")``)."""
        return building_label(self.compound.name, self.number)


class Household(models.Model):
    building = models.ForeignKey(Building, on_delete=models.CASCADE, related_name="households")
    room = models.CharField(max_length=16)

    class Meta:
        ordering = ["building_id", "room"]
        constraints = [models.UniqueConstraint(fields=["building", "room"], name="household_unique_room")]

    def __str__(self) -> str:
        return self.full_label

    @property
    def full_label(self) -> str:
        """ "华新一村 1号楼 101室" (load it with ``select_related("building__compound")``)."""
        return household_label(self.building.compound.name, self.building.number, self.room)


class CommunityCount(models.Model):
    """How many residents and households a community has, kept by the database itself: triggers
    on the resident, household and building tables (migration 0010) change the row inside the
    statement that inserts, deletes or moves a row, whatever wrote it (the services, the roster's
    COPY, the demo's raw rows, a cascade), so it commits or rolls back with the write. Read by the
    daily report and the subdistrict table, which would otherwise count every resident of every
    community on each request. Residents are counted by their own community, households by their
    building's (as the figures always were). A community without any may have no row (read as 0).
    ``fangzhou roster counts --repair`` rebuilds the table from a fresh count."""

    # No foreign-key constraint and no cascade from Django: the triggers own the rows (a
    # community's delete removes its row), so Django's collector never deletes or re-creates them.
    community = models.OneToOneField(
        Community, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="counts"
    )
    residents = models.IntegerField(default=0)
    households = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.community_id}: {self.residents} residents, {self.households} households"


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident ID card")
    PASSPORT = "passport", _("Passport")
    HK_MACAO = "hk_macao", _("Mainland travel permit for Hong Kong and Macao residents")
    TAIWAN = "taiwan", _("Mainland travel permit for Taiwan residents")
    FOREIGN_PR = "foreign_pr", _("Foreign permanent resident ID card")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class ResidentType(models.TextChoices):
    REGISTERED = "registered", _("Registered (hukou)")
    PERMANENT = "permanent", _("Permanent, non-hukou")
    TENANT = "tenant", _("Tenant")
    TEMPORARY = "temporary", _("Temporary")
    OTHER = "other", _("Other")


class SpecialCare(models.TextChoices):
    ELDERLY_ALONE = "elderly_alone", _("Elderly living alone")
    DIALYSIS = "dialysis", _("Dialysis")
    CHEMOTHERAPY = "chemotherapy", _("Chemotherapy")
    PREGNANT = "pregnant", _("Pregnant")
    DISABLED = "disabled", _("Disabled")
    LIMITED_MOBILITY = "limited_mobility", _("Limited mobility")
    BEDRIDDEN = "bedridden", _("Bedridden")
    CHRONIC = "chronic", _("Chronic illness")


class PhoneKind(models.TextChoices):
    MOBILE = "mobile", _("Mobile")
    LANDLINE = "landline", _("Landline")


class Resident(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="residents")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="residents")
    name = models.CharField(max_length=64)
    id_type = models.CharField(max_length=16, choices=IdType.choices, default=IdType.RESIDENT_ID)
    id_number = models.CharField(max_length=32, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    # E.164: "+8613812345678", "+862164318888", "+85261234567" (lib.personal.parse_phone).
    phone = models.CharField(max_length=20, blank=True)
    phone_kind = models.CharField(max_length=8, choices=PhoneKind.choices, blank=True)
    resident_type = models.CharField(max_length=16, choices=ResidentType.choices, blank=True)
    # Comma-joined SpecialCare codes in a fixed order, e.g. "dialysis,elderly_alone".
    special = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True)
    # The name as typed letters ("zhangsanfeng zsf", namekeys.py); kept by save() and the roster import.
    search_key = models.CharField(max_length=255, blank=True, default="")
    # The digest of the cells the last roster import read for this person (roster/importer.py): a
    # re-import skips a row whose cells are the same while it is there. The database clears it when
    # anything the import compared changes (the resident, its household, building, compound or
    # grid: triggers, migration registry.0011).
    roster_digest = models.CharField(max_length=48, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["household_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_type", "id_number"],
                condition=~Q(id_number=""),
                name="resident_unique_document",
            )
        ]
        indexes = [models.Index(fields=["community", "name"]), models.Index(fields=["community", "phone"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_key = name_search_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "search_key"}
        super().save(*args, **kwargs)

    @property
    def special_codes(self) -> list[str]:
        return [c for c in self.special.split(",") if c]


class RosterImport(models.Model):
    """One roster upload: what was read, what was written, what was rejected and why."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="roster_imports")
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    dry_run = models.BooleanField(default=False)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected: models.JSONField[Any, Any] = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.at:%Y-%m-%d %H:%M})"


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the subdistrict")
    APPROVED = "approved", _("Moved")
    DECLINED = "declined", _("Declined")


class ResidentTransfer(models.Model):
    """A person registered in one community whom another community's roster names: the receiving
    committee is told only "registered elsewhere"; the subdistrict officer over the person's present
    community sees both places and approves (the resident moves) or declines."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="transfers")
    from_community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="transfers_out")
    to_community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="transfers_in")
    # Where the receiving roster places the person (compound name, building number, room).
    compound = models.CharField(max_length=64)
    building = models.CharField(max_length=16)
    room = models.CharField(max_length=16)
    status = models.CharField(max_length=12, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    requested_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "to_community"],
                condition=models.Q(status="pending"),
                name="transfer_one_pending_per_destination",
            )
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} ({self.status})"
