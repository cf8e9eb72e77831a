"""Writes of the notices room. (The notices room's branch adds the sending; this holds what the
household page needs.)"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from fangzhou.notices.models import Channel, DeliveryStatus, NoticeDelivery, PushSubscription


def household_notices_read(household_id: int) -> int:
    """The household opened its page: every notice on its page channel not yet read is read now.

    One conditional update, atomic by itself (a second opening changes nothing); the number of
    notices marked."""
    return NoticeDelivery.objects.filter(household_id=household_id, channel=Channel.PAGE, read_at__isnull=True).update(
        read_at=timezone.now(), status=DeliveryStatus.READ
    )


@transaction.atomic
def push_subscription_save(*, household_id: int, community_id: int, endpoint: str, p256dh: str, auth: str) -> bool:
    """A browser on the household page allowed Web Push: keep its subscription for the household.

    Idempotent on the endpoint (the browser's own id for the subscription): the same endpoint again
    updates its keys (and moves it to this household if another one had it on this phone, and
    brings it back if the push service had said it was gone). True when it was new."""
    _row, created = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={
            "household_id": household_id,
            "community_id": community_id,
            "p256dh": p256dh,
            "auth": auth,
            "gone_at": None,
        },
    )
    return created


@transaction.atomic
def push_subscription_remove(*, household_id: int, endpoint: str) -> bool:
    """The resident turned Web Push off on this phone: forget the subscription (of this household
    only). True when there was one."""
    deleted, _ = PushSubscription.objects.filter(household_id=household_id, endpoint=endpoint).delete()
    return deleted > 0
