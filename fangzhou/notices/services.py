"""Writes of the notices room: a notice's fan-out into its deliveries, their sending, opt-outs.

The outbox never repeats: a notice is one per (community, event key), its deliveries one per
(notice, recipient, channel) — both unique constraints, so a second fan-out of the same event is a
no-op, also when two run at once. Sending claims due rows under a lock (``skip_locked``) and a lease
before it calls the provider, so two dispatchers never send the same row. A failure is retried with
exponential backoff; quiet hours (the community's clock) hold back every kind that is not urgent;
each channel has a rate cap per minute and community.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from fangzhou.accounts.audit import AuditAction, audit_record, audit_record_many, audit_row
from fangzhou.accounts.models import AuditLog, User
from fangzhou.lib.bulk import LOOKUP_CHUNK
from fangzhou.lib.errors import Refused
from fangzhou.lib.importing import chunks
from fangzhou.lib.jobs import job_enqueue
from fangzhou.notices.audiences import AudienceError, audience_resolve, audiences_resolve_many
from fangzhou.notices.channels import Outcome, channel_for
from fangzhou.notices.models import (
    Channel,
    DeliveryStatus,
    Notice,
    NoticeDelivery,
    NoticeSettings,
    OptOut,
    PushSubscription,
    Reason,
)
from fangzhou.notices.texts import CUSTOM, KINDS, clean_args, recipient_args, render_zh
from fangzhou.registry.models import Community, PhoneKind, Resident

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=2)  # a claimed row is not claimed again for this long (a crashed sender)
RATE_WINDOW = dt.timedelta(minutes=1)


class NoticeError(Refused):
    pass


def notice_settings_of(community_id: int) -> NoticeSettings:
    """The community's notice settings (the defaults, unsaved, until someone changes them)."""
    found = NoticeSettings.objects.filter(community_id=community_id).first()
    return found or NoticeSettings(community_id=community_id)


@transaction.atomic
def notice_settings_update(
    *,
    community: Community,
    actor: User | None,
    sms_on: bool,
    push_on: bool,
    quiet_start: dt.time,
    quiet_end: dt.time,
    sms_per_minute: int,
    push_per_minute: int,
) -> NoticeSettings:
    if sms_per_minute < 1 or push_per_minute < 1:
        raise NoticeError("每分钟上限至少为 1", "the rate cap is at least 1 a minute")
    row, _ = NoticeSettings.objects.select_for_update().get_or_create(community=community)
    row.sms_on, row.push_on = sms_on, push_on
    row.quiet_start, row.quiet_end = quiet_start, quiet_end
    row.sms_per_minute, row.push_per_minute = sms_per_minute, push_per_minute
    row.save()
    audit_record(
        action=AuditAction.NOTICE_SETTINGS,
        actor=actor,
        target_type="notice_settings",
        target_id=row.pk,
        community=community,
        detail={"sms": sms_on, "push": push_on, "sms_cap": sms_per_minute, "push_cap": push_per_minute},
    )
    return row


# --------------------------------------------------------------------------------------------------
# Fan-out


@dataclass(frozen=True)
class SendOutcome:
    notice: Notice
    created: bool


def notice_send(
    *,
    community: Community,
    kind: str,
    audience: str,
    audience_args: dict[str, Any],
    event_key: str,
    actor: User | None = None,
    args: dict[str, Any] | None = None,
    text_zh: str = "",
    text_en: str = "",
    urgent: bool | None = None,
) -> SendOutcome:
    """One notice for one event: its deliveries written at once (set-based), sending queued.

    Idempotent on (community, ``event_key``): an event or a form sent twice returns the first notice
    and writes nothing. The page channel is "sent" when written; SMS and Web Push rows wait for
    :func:`notices_dispatch` (queued now, on the jobs interface), or say why they are not sent.
    """
    if kind not in KINDS:
        raise NoticeError(f"未知的通知类型「{kind}」", f"unknown notice kind {kind!r}")
    if kind == CUSTOM and not text_zh.strip():
        raise NoticeError("请填写通知的中文内容", "write the notice's Chinese text")
    event_key = event_key.strip()[:200]
    if not event_key:
        raise NoticeError("缺少通知编号", "the notice has no id")
    with transaction.atomic():
        existing = Notice.objects.filter(community=community, event_key=event_key).first()
        if existing is not None:
            return SendOutcome(existing, False)
        try:
            reached = audience_resolve(community, audience, audience_args)
        except AudienceError as exc:
            raise NoticeError("无法确定通知对象", f"the audience cannot be read ({exc})") from exc
        notice, created = Notice.objects.get_or_create(
            community=community,
            event_key=event_key,
            defaults={
                "kind": kind,
                "args": clean_args(kind, args or {}),
                "text_zh": text_zh.strip()[:1000],
                "text_en": text_en.strip()[:1000],
                "audience": audience,
                "audience_args": audience_args,
                "urgent": KINDS[kind].urgent if urgent is None else urgent,
                "created_by": actor,
                "recipients": reached.count,
            },
        )
        if not created:  # another writer committed the same event meanwhile
            return SendOutcome(notice, False)
        rows = _deliveries(notice, reached.household_ids, reached.volunteer_ids)
        NoticeDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        audit_record_many([_send_audit_row(notice, rows, actor=actor, recipients=reached.count)])
        if any(row.status == DeliveryStatus.QUEUED for row in rows):
            job_enqueue("fangzhou.notices.tasks.notices_dispatch_notice", notice_id=notice.pk)
    return SendOutcome(notice, True)


@dataclass(frozen=True)
class NoticeSpec:
    """One notice of :func:`notices_send_many`: whom (the audience's parameters), its event key,
    its template's variables."""

    audience_args: dict[str, Any]
    event_key: str
    args: dict[str, Any] | None = None


def notices_send_many(
    *,
    community: Community,
    kind: str,
    audience: str,
    specs: Sequence[NoticeSpec],
    actor: User | None = None,
    urgent: bool | None = None,
) -> list[SendOutcome]:
    """:func:`notice_send` for many events of one kind and audience at once (the positive pooled
    tubes of a results import): the same notices, deliveries, audit rows and idempotency on
    (community, event key), in a few statements whatever their number: the stored notices of the
    keys in one read, the audiences in one query (:func:`audiences_resolve_many`), the settings,
    phones and subscriptions once, then one insert each of the notices, their deliveries and their
    audit rows, and one job that sends every queued delivery. An event key given twice is one
    notice. If another writer stores one of the notices meanwhile (the unique constraint refuses the
    insert), the savepoint rolls back and each is sent one by one, as :func:`notice_send` would.
    Outcomes in the order of ``specs``."""
    if kind not in KINDS or kind == CUSTOM:
        raise NoticeError(f"未知的通知类型「{kind}」", f"unknown notice kind {kind!r}")
    keyed = [(spec, spec.event_key.strip()[:200]) for spec in specs]
    if any(not key for _, key in keyed):
        raise NoticeError("缺少通知编号", "the notice has no id")
    if not keyed:
        return []
    try:
        with transaction.atomic():  # a savepoint (or the transaction, when there is none around)
            found = _notices_send_bulk(community, kind, audience, keyed, actor, urgent)
    except IntegrityError:
        found = {}
        for spec, key in keyed:
            if key not in found:
                found[key] = notice_send(
                    community=community,
                    kind=kind,
                    audience=audience,
                    audience_args=spec.audience_args,
                    event_key=key,
                    actor=actor,
                    args=spec.args,
                    urgent=urgent,
                )
    return [found[key] for _, key in keyed]


def _notices_send_bulk(
    community: Community,
    kind: str,
    audience: str,
    keyed: Sequence[tuple[NoticeSpec, str]],
    actor: User | None,
    urgent: bool | None,
) -> dict[str, SendOutcome]:
    found = {
        notice.event_key: SendOutcome(notice, False)
        for notice in _stored_notices(community, list(dict.fromkeys(key for _, key in keyed)))
    }
    fresh: dict[str, NoticeSpec] = {}
    for spec, key in keyed:
        if key not in found and key not in fresh:
            fresh[key] = spec
    if not fresh:
        return found
    try:
        reached = audiences_resolve_many(community, audience, [spec.audience_args for spec in fresh.values()])
    except AudienceError as exc:
        raise NoticeError("无法确定通知对象", f"the audience cannot be read ({exc})") from exc
    is_urgent = KINDS[kind].urgent if urgent is None else urgent
    notices = [
        Notice(
            community=community,
            kind=kind,
            args=clean_args(kind, spec.args or {}),
            audience=audience,
            audience_args=spec.audience_args,
            urgent=is_urgent,
            created_by=actor,
            recipients=who.count,
            event_key=key,
        )
        for (key, spec), who in zip(fresh.items(), reached, strict=True)
    ]
    Notice.objects.bulk_create(notices, batch_size=1000)
    if any(notice.pk is None for notice in notices):  # a database that does not return the new ids
        ids = dict(Notice.objects.filter(community=community, event_key__in=list(fresh)).values_list("event_key", "pk"))
        for notice in notices:
            notice.pk = ids[notice.event_key]
    households = sorted({h for who in reached for h in who.household_ids})
    context = _DeliveryContext.of(community.pk, households)
    deliveries: list[NoticeDelivery] = []
    audits = []
    queued: list[int] = []
    for notice, who in zip(notices, reached, strict=True):
        rows = _deliveries(notice, who.household_ids, who.volunteer_ids, context)
        deliveries.extend(rows)
        audits.append(_send_audit_row(notice, rows, actor=actor, recipients=who.count))
        if any(row.status == DeliveryStatus.QUEUED for row in rows):
            queued.append(notice.pk)
        found[notice.event_key] = SendOutcome(notice, True)
    NoticeDelivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=1000)
    audit_record_many(audits)
    if queued:
        job_enqueue("fangzhou.notices.tasks.notices_dispatch_notices", notice_ids=queued)
    return found


def _send_audit_row(notice: Notice, rows: list[NoticeDelivery], *, actor: User | None, recipients: int) -> AuditLog:
    """The audit row of one notice sent (unsaved): its kind, audience, recipients and deliveries
    counted by channel and status; the same row whether it was sent alone or with others."""
    counts = Counter(f"{row.channel}_{row.status}" for row in rows)
    return audit_row(
        action=AuditAction.NOTICE_SEND,
        actor=actor,
        target_type="notice",
        target_id=notice.pk,
        community_id=notice.community_id,
        detail={
            "kind": notice.kind,
            "audience": notice.audience,
            "recipients": recipients,
            **dict(sorted(counts.items())),
        },
    )


def _stored_notices(community: Community, keys: list[str]) -> list[Notice]:
    """The community's notices of these event keys already stored (one query a batch of keys)."""
    found: list[Notice] = []
    for batch in chunks(keys, LOOKUP_CHUNK):
        found.extend(Notice.objects.filter(community=community, event_key__any_of=batch))
    return found


@dataclass(frozen=True)
class _DeliveryContext:
    """What a notice's deliveries depend on besides its audience, read once for many notices: the
    community's settings, the households' SMS holders and push subscriptions, one clock."""

    options: NoticeSettings
    phones: dict[int, tuple[int | None, str]]
    subscriptions: dict[int, list[int]]
    now: dt.datetime

    @classmethod
    def of(cls, community_id: int, household_ids: list[int]) -> _DeliveryContext:
        options = notice_settings_of(community_id)
        return cls(
            options=options,
            phones=_sms_holders(household_ids) if options.sms_on else {},
            subscriptions=_subscriptions(household_ids) if options.push_on else {},
            now=timezone.now(),
        )


def _deliveries(
    notice: Notice, household_ids: list[int], volunteer_ids: list[int], context: _DeliveryContext | None = None
) -> list[NoticeDelivery]:
    """Every (recipient, channel) row of a notice, each with its status: page rows sent at once,
    SMS and push rows queued, or skipped with why."""
    if context is None:
        context = _DeliveryContext.of(notice.community_id, household_ids)
    now = context.now
    options = context.options
    rows: list[NoticeDelivery] = []

    def row(key: str, channel: str, status: str = DeliveryStatus.QUEUED, reason: str = "", **kw: Any) -> None:
        rows.append(
            NoticeDelivery(
                notice=notice,
                community_id=notice.community_id,
                recipient_key=key,
                channel=channel,
                status=status,
                reason=reason,
                sent_at=now if status == DeliveryStatus.SENT else None,
                **kw,
            )
        )

    skipped = DeliveryStatus.SKIPPED
    phones = context.phones
    subscriptions = context.subscriptions
    for household_id in household_ids:
        key = f"h:{household_id}"
        row(key, Channel.PAGE, DeliveryStatus.SENT, household_id=household_id)
        if options.sms_on:
            holder, why = phones.get(household_id, (None, Reason.NO_PHONE))
            if holder is None:
                row(key, Channel.SMS, skipped, why, household_id=household_id)
            else:
                row(key, Channel.SMS, household_id=household_id, resident_id=holder)
        if options.push_on:
            mine = subscriptions.get(household_id, [])
            if not mine:
                row(key, Channel.PUSH, skipped, Reason.NO_SUBSCRIPTION, household_id=household_id)
            for subscription_id in mine:
                row(f"s:{subscription_id}", Channel.PUSH, household_id=household_id, subscription_id=subscription_id)
    for volunteer_id in volunteer_ids:
        key = f"v:{volunteer_id}"
        if options.sms_on:
            row(key, Channel.SMS, volunteer_id=volunteer_id)
        else:
            row(key, Channel.SMS, skipped, Reason.CHANNEL_OFF, volunteer_id=volunteer_id)
    return rows


def _sms_holders(household_ids: list[int]) -> dict[int, tuple[int | None, str]]:
    """Per household, the resident whose mobile receives its SMS (the first on the roster who has one
    and has not opted out), or why none does."""
    found: dict[int, tuple[int | None, str]] = {}
    opted = set(
        OptOut.objects.filter(channel=Channel.SMS, resident__household_id__in=household_ids).values_list(
            "resident_id", flat=True
        )
    )
    mobiles = (
        Resident.objects.filter(household_id__in=household_ids, phone_kind=PhoneKind.MOBILE)
        .exclude(phone="")
        .order_by("household_id", "pk")
        .values_list("household_id", "pk")
    )
    for household_id, resident_id in mobiles:
        if resident_id in opted:
            found.setdefault(household_id, (None, Reason.OPTED_OUT))
        elif found.get(household_id, (None, ""))[0] is None:
            found[household_id] = (resident_id, "")
    return found


def _subscriptions(household_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for household_id, pk in (
        PushSubscription.objects.filter(household_id__in=household_ids, gone_at__isnull=True)
        .order_by("pk")
        .values_list("household_id", "pk")
    ):
        found[household_id].append(pk)
    return found


# --------------------------------------------------------------------------------------------------
# Sending


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    quiet: int = 0
    capped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def in_quiet_hours(options: NoticeSettings, local: dt.datetime) -> bool:
    start, end, now = options.quiet_start, options.quiet_end, local.time()
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def quiet_hours_end(options: NoticeSettings, local: dt.datetime) -> dt.datetime:
    """The next end of quiet hours after ``local`` (an aware time on the community's clock)."""
    end = dt.datetime.combine(local.date(), options.quiet_end, tzinfo=local.tzinfo)
    return end if end > local else end + dt.timedelta(days=1)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed try: base, 2 x base, 4 x base …"""
    return dt.timedelta(seconds=settings.FANGZHOU_NOTICE_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))


def _due(now: dt.datetime) -> QuerySet[NoticeDelivery]:
    return NoticeDelivery.objects.filter(status=DeliveryStatus.QUEUED).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def notices_dispatch(
    *, notice_id: int | None = None, notice_ids: Sequence[int] | None = None, now: dt.datetime | None = None
) -> DispatchReport:
    """Send what is due (of one notice, of these notices, or of all): per community and channel,
    within quiet hours and the rate cap. Safe to run twice and at once: rows are claimed before
    they are sent."""
    now = now or timezone.now()
    report = DispatchReport()
    due = _due(now).exclude(channel=Channel.PAGE)
    if notice_id is not None:
        due = due.filter(notice_id=notice_id)
    if notice_ids is not None:
        due = due.filter(notice_id__in=list(notice_ids))
    pairs = sorted(set(due.values_list("community_id", "channel")))
    for community_id, channel in pairs:
        _dispatch(community_id, channel, due.filter(community_id=community_id, channel=channel), now, report)
    return report


def _dispatch(
    community_id: int, channel: str, rows: QuerySet[NoticeDelivery], now: dt.datetime, report: DispatchReport
) -> None:
    options = notice_settings_of(community_id)
    community = Community.objects.get(pk=community_id)
    local = now.astimezone(community.tzinfo)
    if in_quiet_hours(options, local):
        report.quiet += rows.filter(notice__urgent=False).update(
            next_attempt_at=quiet_hours_end(options, local), reason=Reason.QUIET_HOURS
        )
        rows = rows.filter(notice__urgent=True)
    cap = options.sms_per_minute if channel == Channel.SMS else options.push_per_minute
    used = NoticeDelivery.objects.filter(
        community_id=community_id, channel=channel, sent_at__gt=now - RATE_WINDOW
    ).count()
    claimed = _claim(rows, max(0, cap - used), now)
    report.capped += rows.exclude(pk__in=claimed).update(next_attempt_at=now + RATE_WINDOW, reason=Reason.RATE_CAP)
    sender = channel_for(channel)
    for delivery in NoticeDelivery.objects.filter(pk__in=claimed).select_related(
        "notice", "household__building__compound", "resident", "volunteer", "subscription"
    ):
        outcome = _send_one(sender, delivery)
        _record(delivery, outcome, now, report)


def _claim(rows: QuerySet[NoticeDelivery], limit: int, now: dt.datetime) -> list[int]:
    if limit <= 0:
        return []
    with transaction.atomic():
        ids = list(
            rows.order_by("next_attempt_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        NoticeDelivery.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    return ids


def _send_one(sender: Any, delivery: NoticeDelivery) -> Outcome:
    notice = delivery.notice
    args = {**notice.args, **recipient_args(delivery.household)}
    text = render_zh(notice.kind, args, text_zh=notice.text_zh, text_en=notice.text_en)
    try:
        outcome: Outcome = sender.send(delivery, text)
    except Exception:  # a bug in a channel must not stop the other rows
        log.exception("notice channel %s failed on delivery %s", delivery.channel, delivery.pk)
        outcome = Outcome("retry", Reason.PROVIDER_ERROR)
    return outcome


def _record(delivery: NoticeDelivery, outcome: Outcome, now: dt.datetime, report: DispatchReport) -> None:
    mine = NoticeDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.QUEUED)
    attempts = delivery.attempts
    if outcome.status == "sent":
        mine.update(status=DeliveryStatus.SENT, sent_at=now, reason="", provider_ref=outcome.ref)
        report.sent += 1
        return
    report.reasons[outcome.reason] += 1
    if outcome.status == "retry" and attempts < settings.FANGZHOU_NOTICE_ATTEMPTS:
        mine.update(next_attempt_at=now + backoff(attempts), reason=outcome.reason)
        report.retried += 1
        return
    if outcome.status == "gone" and delivery.subscription_id:
        PushSubscription.objects.filter(pk=delivery.subscription_id, gone_at__isnull=True).update(gone_at=now)
    mine.update(status=DeliveryStatus.FAILED, reason=outcome.reason or Reason.PROVIDER_ERROR)
    report.failed += 1


# --------------------------------------------------------------------------------------------------
# Residents


@transaction.atomic
def sms_opt_out(resident: Resident, *, actor: User | None = None) -> OptOut:
    """The resident receives no more SMS notices (the household page still shows them). Idempotent.
    Queued SMS to the resident's phone are skipped at once."""
    row, created = OptOut.objects.get_or_create(resident=resident, channel=Channel.SMS)
    if created:
        NoticeDelivery.objects.filter(resident=resident, channel=Channel.SMS, status=DeliveryStatus.QUEUED).update(
            status=DeliveryStatus.SKIPPED, reason=Reason.OPTED_OUT
        )
        audit_record(
            action=AuditAction.NOTICE_OPT_OUT,
            actor=actor,
            target_type="resident",
            target_id=resident.pk,
            community_id=resident.community_id,
            detail={"channel": Channel.SMS},
        )
    return row


@transaction.atomic
def sms_opt_in(resident: Resident, *, actor: User | None = None) -> bool:
    """Undo :func:`sms_opt_out` (new notices reach the phone again). True if there was an opt-out."""
    deleted, _ = OptOut.objects.filter(resident=resident, channel=Channel.SMS).delete()
    if deleted:
        audit_record(
            action=AuditAction.NOTICE_OPT_IN,
            actor=actor,
            target_type="resident",
            target_id=resident.pk,
            community_id=resident.community_id,
            detail={"channel": Channel.SMS},
        )
    return bool(deleted)


def notices_mark_read(*, household_id: int, delivery_ids: list[int] | None = None) -> int:
    """The household page was read: its page deliveries (all, or these) become "read"."""
    rows = NoticeDelivery.objects.filter(
        household_id=household_id, channel=Channel.PAGE, status=DeliveryStatus.SENT, read_at__isnull=True
    )
    if delivery_ids is not None:
        rows = rows.filter(pk__in=delivery_ids)
    return rows.update(status=DeliveryStatus.READ, read_at=timezone.now())


# What the household page writes (portal): its notices read, its Web Push subscription.


def household_notices_read(household_id: int) -> int:
    """The household opened its page: every notice on its page channel not yet read is read now
    (one conditional update: a second opening changes nothing); the number of notices marked."""
    return notices_mark_read(household_id=household_id)


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
