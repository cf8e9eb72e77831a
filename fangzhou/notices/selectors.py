"""What the household page and the committee read of notices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fangzhou.notices.models import Channel, NoticeDelivery


@dataclass(frozen=True)
class HouseholdNotice:
    delivery_id: int
    kind: str
    text: str  # rendered in the reader's language
    at: datetime
    read: bool


def household_notices(household_id: int, *, limit: int = 30) -> list[HouseholdNotice]:
    """The notices a household received (its page channel), newest first, rendered for the reader."""
    from fangzhou.notices.texts import notice_text

    rows = (
        NoticeDelivery.objects.filter(household_id=household_id, channel=Channel.PAGE)
        .select_related("notice")
        .order_by("-created_at", "-pk")[:limit]
    )
    return [
        HouseholdNotice(
            delivery_id=row.pk,
            kind=row.notice.kind,
            text=notice_text(row.notice),
            at=row.created_at,
            read=row.read_at is not None,
        )
        for row in rows
    ]
