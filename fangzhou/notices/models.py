"""Notices to residents and volunteers: what was said, to whom, on which channel, and how it went.

A ``Notice`` is one message (a template's kind and its arguments) for an audience the system
derived from its own state. It fans out into one ``NoticeDelivery`` per (recipient, channel): the
unique key that makes every send at most once. The household page is a channel that always
receives; SMS and Web Push are chosen per community. See docs/architecture.md, "Notices".
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    PAGE = "page", _("Household page")
    SMS = "sms", _("SMS")
    PUSH = "push", _("Web Push")


class Reason(models.TextChoices):
    """Why a delivery was not sent or failed: a code on the row, shown translated."""

    OPTED_OUT = "opted_out", _("The resident opted out of SMS")
    NO_PHONE = "no_phone", _("No mobile phone on the roster")
    NO_SUBSCRIPTION = "no_subscription", _("No browser allowed Web Push")
    SUBSCRIPTION_GONE = "subscription_gone", _("The browser withdrew Web Push")
    CHANNEL_OFF = "channel_off", _("This channel is off for the community")
    NOT_CONFIGURED = "not_configured", _("The channel is not configured on the server")
    PROVIDER_REFUSED = "provider_refused", _("The provider refused the message")
    PROVIDER_ERROR = "provider_error", _("The provider did not answer; retried later")
    QUIET_HOURS = "quiet_hours", _("Waiting for the end of quiet hours")
    RATE_CAP = "rate_cap", _("Waiting for the channel's rate cap")


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    READ = "read", _("Read")
    SKIPPED = "skipped", _("Not sent")  # opted out, no phone, no subscription: said, not silent


class Notice(models.Model):
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="notices")
    # The template's kind ("pool_positive", "delivery_done", ..., "custom"); texts in notices/texts.py.
    kind = models.CharField(max_length=48)
    # The template's variables (plain JSON: room numbers, times, building labels; never an ID
    # number, a diagnosis or another person's name).
    args = models.JSONField(default=dict, blank=True)
    # For hand-written notices: the texts typed by staff (zh-hans and English).
    text_zh = models.TextField(blank=True)
    text_en = models.TextField(blank=True)
    # How the audience was derived ("building", "tube", "retest", "not_reported", "distribution",
    # "household", "resident", "work_group", "shift", ...) and its parameters.
    audience = models.CharField(max_length=32)
    audience_args = models.JSONField(default=dict, blank=True)
    urgent = models.BooleanField(default=False)  # urgent kinds go out in quiet hours
    # One notice per event: "pool_positive:tube:123", or the client id of a hand-sent form.
    event_key = models.CharField(max_length=200)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["community", "event_key"], name="notice_once_per_event")]
        indexes = [models.Index(fields=["community", "-created_at"], name="notice_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_key}"


class NoticeDelivery(models.Model):
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="deliveries")
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="+")
    # A household (residents) or a volunteer; recipient_key is "h:<id>", "r:<id>" or "v:<id>".
    household = models.ForeignKey(
        "registry.Household", null=True, blank=True, on_delete=models.CASCADE, related_name="notice_deliveries"
    )
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    volunteer = models.ForeignKey(
        "volunteers.Volunteer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recipient_key = models.CharField(max_length=32)
    # For Web Push: the browser it goes to (one delivery per subscription of the household).
    subscription = models.ForeignKey(
        "notices.PushSubscription", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=64, blank=True)  # a code, shown translated; never a provider's raw text
    provider_ref = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notice", "recipient_key", "channel"], name="delivery_once"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["household", "-created_at"], name="delivery_household"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_key} {self.channel} {self.status}"


class PushSubscription(models.Model):
    """A browser that allowed Web Push on a household page (W3C Push API subscription)."""

    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="push_subscriptions")
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="+")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    gone_at = models.DateTimeField(null=True, blank=True)  # the push service said 404/410: never used again

    def __str__(self) -> str:
        return f"push {self.household_id}"


class OptOut(models.Model):
    """A resident who asked not to receive a channel (SMS)."""

    resident = models.ForeignKey("registry.Resident", on_delete=models.CASCADE, related_name="notice_opt_outs")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resident", "channel"], name="opt_out_once"),
            models.CheckConstraint(condition=~Q(channel="page"), name="opt_out_not_page"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.channel}"


class NoticeSettings(models.Model):
    """A community's choice of channels, its quiet hours (on the community's clock) and rate caps."""

    community = models.OneToOneField("registry.Community", on_delete=models.CASCADE, related_name="notice_settings")
    sms_on = models.BooleanField(default=False)
    push_on = models.BooleanField(default=True)
    # Non-urgent notices wait from quiet_start to quiet_end (may span midnight); equal times: none.
    quiet_start = models.TimeField(default=dt.time(22, 0))
    quiet_end = models.TimeField(default=dt.time(7, 0))
    sms_per_minute = models.PositiveIntegerField(default=60)
    push_per_minute = models.PositiveIntegerField(default=600)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notices settings {self.community_id}"
