"""What the household page and the committee read of notices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Min, QuerySet

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import can_manage_community
from fangzhou.cases.hooks import ResidentAction
from fangzhou.notices.models import Channel, DeliveryStatus, Notice, NoticeDelivery, OptOut, Reason
from fangzhou.notices.texts import notice_text, recipient_args
from fangzhou.registry.models import Community, Household, Resident
from fangzhou.registry.selectors import Access, communities_for
from fangzhou.volunteers.models import Volunteer


@dataclass(frozen=True)
class HouseholdNotice:
    delivery_id: int
    kind: str
    text: str  # rendered in the reader's language
    at: datetime
    read: bool


def household_notices(household_id: int, *, limit: int = 30) -> list[HouseholdNotice]:
    """The notices a household received (its page channel), newest first, rendered for the reader."""
    rows = (
        NoticeDelivery.objects.filter(household_id=household_id, channel=Channel.PAGE)
        .select_related("notice", "household__building__compound")
        .order_by("-created_at", "-pk")[:limit]
    )
    return [
        HouseholdNotice(
            delivery_id=row.pk,
            kind=row.notice.kind,
            text=notice_text(row.notice, **recipient_args(row.household)),
            at=row.created_at,
            read=row.read_at is not None,
        )
        for row in rows
    ]


# --------------------------------------------------------------------------------------------------
# The committee's page


@dataclass(frozen=True)
class NoticeRow:
    notice: Notice
    text: str  # one rendered example (the first household's, in the reader's language)
    counts: dict[str, dict[str, int]]  # channel -> status -> deliveries


def notices_visible(user: User | AnonymousUser) -> QuerySet[Notice]:
    return Notice.objects.filter(community__in=communities_for(user, Access.READ))


def notice_get(user: User | AnonymousUser, notice_id: int) -> Notice | None:
    return notices_visible(user).select_related("community").filter(pk=notice_id).first()


def delivery_counts(notice_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
    """Per notice, per channel, per status: how many deliveries (one aggregate query)."""
    rows = (
        NoticeDelivery.objects.filter(notice_id__in=notice_ids)
        .values_list("notice_id", "channel", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    result: dict[int, dict[str, dict[str, int]]] = {}
    for notice_id, channel, status, n in rows:
        result.setdefault(notice_id, {}).setdefault(channel, {})[status] = n
    return result


def example_texts(notices: list[Notice]) -> dict[int, str]:
    """Each notice as its first household read it (its own room filled in), in the reader's
    language: two queries for the whole list."""
    firsts = dict(
        NoticeDelivery.objects.filter(notice__in=notices, channel=Channel.PAGE)
        .values("notice_id")
        .annotate(first=Min("household_id"))
        .values_list("notice_id", "first")
    )
    homes = Household.objects.select_related("building__compound").in_bulk(set(firsts.values()))
    return {notice.pk: notice_text(notice, **recipient_args(homes.get(firsts.get(notice.pk, 0)))) for notice in notices}


def community_notices(community: Community, *, limit: int = 50) -> list[NoticeRow]:
    notices = list(Notice.objects.filter(community=community).order_by("-created_at", "-pk")[:limit])
    counts = delivery_counts([notice.pk for notice in notices])
    texts = example_texts(notices)
    return [NoticeRow(notice, texts[notice.pk], counts.get(notice.pk, {})) for notice in notices]


@dataclass(frozen=True)
class RecipientRow:
    label: str  # the household's room label, or a volunteer's masked name; never a phone
    channel: str
    status: str
    reason: str  # a code
    attempts: int
    channel_label: str
    status_label: str
    reason_label: str  # the reason in the reader's language
    at: datetime | None


def notice_recipients(notice: Notice, *, limit: int = 500) -> list[RecipientRow]:
    rows = (
        NoticeDelivery.objects.filter(notice=notice)
        .select_related("household__building__compound", "volunteer")
        .order_by("household__building__sort_key", "household__room", "volunteer_id", "channel", "pk")[:limit]
    )
    return [
        RecipientRow(
            label=row.household.full_label if row.household else _volunteer_label(row.volunteer),
            channel=row.channel,
            status=row.status,
            reason=row.reason,
            attempts=row.attempts,
            channel_label=str(Channel(row.channel).label),
            status_label=str(DeliveryStatus(row.status).label),
            reason_label=str(dict(Reason.choices).get(row.reason, "")) if row.reason else "",
            at=row.read_at or row.sent_at,
        )
        for row in rows
    ]


def _volunteer_label(volunteer: Volunteer | None) -> str:
    if volunteer is None:
        return ""
    return f"{volunteer.name[:1]}{'*' * max(1, len(volunteer.name) - 1)}"


def counts_display(counts: dict[str, dict[str, int]]) -> list[tuple[str, list[tuple[str, str, int]]]]:
    """Counts as the page shows them: per channel (in order), its statuses in the reader's language."""
    return [
        (
            str(label),
            [
                (status, str(status_label), counts[channel][status])
                for status, status_label in DeliveryStatus.choices
                if counts[channel].get(status)
            ],
        )
        for channel, label in Channel.choices
        if channel in counts
    ]


def sms_resident_action(user: User, resident: Resident) -> ResidentAction | None:
    """On a resident's page (the cases app's hook): whether SMS notices reach them, and where the
    committee records an opt-out said on the phone or at the door."""
    if not can_manage_community(user, resident.community_id):
        return None
    opted_out = OptOut.objects.filter(resident=resident, channel=Channel.SMS).exists()
    return ResidentAction("notices/_resident_sms.html", {"resident_id": resident.pk, "opted_out": opted_out}, order=90)
