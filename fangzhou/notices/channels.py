"""The channels a notice goes out on, behind one small interface: ``send(delivery, text) -> Outcome``.

- the household page: the row itself is the message ("sent" when it is written);
- SMS through Tencent Cloud SMS (``SendSms``, API 2021-01-11, TC3-HMAC-SHA256 signed requests);
- Web Push (RFC 8030/8291/8292) through pywebpush with the server's VAPID key.

A channel never raises for what the far end answers: it says sent, retry (try again later), failed
(never again) or gone (the push subscription is withdrawn), with a reason code shown translated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import requests
from django.conf import settings
from django.utils.translation import override
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from fangzhou.notices.models import Channel, NoticeDelivery, Reason
from fangzhou.notices.texts import CUSTOM, KINDS, recipient_args, render_value

log = logging.getLogger(__name__)

OutcomeStatus = Literal["sent", "retry", "failed", "gone"]


@dataclass(frozen=True)
class Outcome:
    status: OutcomeStatus
    reason: str = ""
    ref: str = ""


class NoticeChannel(Protocol):
    def send(self, delivery: NoticeDelivery, text: str) -> Outcome: ...


class PageChannel:
    """The household page reads its rows: written is sent."""

    def send(self, delivery: NoticeDelivery, text: str) -> Outcome:
        return Outcome("sent")


# --------------------------------------------------------------------------------------------------
# Tencent Cloud SMS

SMS_SERVICE = "sms"
SMS_VERSION = "2021-01-11"
SMS_ACTION = "SendSms"
CONTENT_TYPE = "application/json; charset=utf-8"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_authorization(
    *, secret_id: str, secret_key: str, host: str, payload: str, timestamp: int, service: str = SMS_SERVICE
) -> str:
    """The ``Authorization`` header of a TC3-HMAC-SHA256 signed POST (Tencent Cloud API 3.0,
    "Signature v3"): canonical request over content-type and host, string to sign with the UTC
    date's credential scope, and the key derived from the secret through date, service and
    ``tc3_request``."""
    day = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload.encode()).hexdigest(),
        ]
    )
    scope = f"{day}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), day), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


# Tencent's error codes that will not get better by retrying (a bad number, an unapproved template,
# a wrong signature name, a refused account). Any other error is retried with backoff.
_SMS_FINAL = ("InvalidParameterValue.", "FailedOperation.", "UnauthorizedOperation.", "AuthFailure.")


class TencentSmsChannel:
    """One ``SendSms`` per delivery: the community's approved template for the kind, its parameters."""

    def __init__(self, *, now: Any = None) -> None:
        self._now = now

    def send(self, delivery: NoticeDelivery, text: str) -> Outcome:
        template_id = settings.TENCENT_SMS_TEMPLATES.get(delivery.notice.kind) or settings.TENCENT_SMS_TEMPLATES.get(
            "default", ""
        )
        if not (settings.TENCENT_SMS_SECRET_ID and settings.TENCENT_SMS_SECRET_KEY and template_id):
            return Outcome("failed", Reason.NOT_CONFIGURED)
        phone = delivery.resident.phone if delivery.resident else ""
        if delivery.volunteer is not None:
            phone = delivery.volunteer.phone  # a volunteer's notice goes to their own phone
        if not phone:
            return Outcome("failed", Reason.NO_PHONE)
        body = {
            "PhoneNumberSet": [phone],
            "SmsSdkAppId": settings.TENCENT_SMS_APP_ID,
            "SignName": settings.TENCENT_SMS_SIGN_NAME,
            "TemplateId": template_id,
            "TemplateParamSet": sms_params(delivery, text),
            "SessionContext": f"d{delivery.pk}",
        }
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        endpoint = settings.TENCENT_SMS_ENDPOINT
        host = endpoint.split("://", 1)[-1].split("/", 1)[0]
        timestamp = int((self._now or dt.datetime.now(tz=dt.UTC)).timestamp())
        headers = {
            "Authorization": tc3_authorization(
                secret_id=settings.TENCENT_SMS_SECRET_ID,
                secret_key=settings.TENCENT_SMS_SECRET_KEY,
                host=host,
                payload=payload,
                timestamp=timestamp,
            ),
            "Content-Type": CONTENT_TYPE,
            "Host": host,
            "X-TC-Action": SMS_ACTION,
            "X-TC-Version": SMS_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": settings.TENCENT_SMS_REGION,
        }
        try:
            response = requests.post(endpoint, data=payload.encode(), headers=headers, timeout=10)
            answer = response.json().get("Response", {})
        except (requests.RequestException, ValueError, AttributeError):
            return Outcome("retry", Reason.PROVIDER_ERROR)
        error = answer.get("Error")
        if error:
            code = str(error.get("Code", ""))
            log.warning("Tencent SMS refused delivery %s: %s", delivery.pk, code)
            return Outcome("failed" if code.startswith(_SMS_FINAL) else "retry", _sms_reason(code))
        statuses = answer.get("SendStatusSet") or [{}]
        status = statuses[0]
        if status.get("Code") == "Ok":
            return Outcome("sent", ref=str(status.get("SerialNo", ""))[:64])
        code = str(status.get("Code", ""))
        log.warning("Tencent SMS did not send delivery %s: %s", delivery.pk, code)
        return Outcome("failed" if code.startswith(_SMS_FINAL) else "retry", _sms_reason(code))


def _sms_reason(code: str) -> str:
    return Reason.PROVIDER_REFUSED if code.startswith(_SMS_FINAL) else Reason.PROVIDER_ERROR


def sms_params(delivery: NoticeDelivery, text: str) -> list[str]:
    """The template's parameters: the kind's variables in order ("place" is the household's own
    label); a hand-written notice's one parameter is its Chinese text."""
    notice = delivery.notice
    if notice.kind == CUSTOM or notice.kind not in KINDS:
        return [text]
    values = {**notice.args, **recipient_args(delivery.household)}
    with override("zh-hans"):
        coded = {name: render_value(name, values.get(name, "")) for name in KINDS[notice.kind].args}
    return [coded[name] for name in KINDS[notice.kind].args]


# --------------------------------------------------------------------------------------------------
# Web Push


class WebPushChannel:
    """One encrypted push message (aes128gcm, RFC 8291) per subscription, with the RFC 8292 header
    ``Authorization: vapid t=<JWT>, k=<public key>`` (py_vapid's ``Vapid02``; the default ``Vapid01``
    writes the older draft's ``WebPush`` scheme)."""

    def send(self, delivery: NoticeDelivery, text: str) -> Outcome:
        subscription = delivery.subscription
        if subscription is None or subscription.gone_at is not None:
            return Outcome("failed", Reason.SUBSCRIPTION_GONE)
        if not settings.VAPID_PRIVATE_KEY:
            return Outcome("failed", Reason.NOT_CONFIGURED)
        data = json.dumps({"title": "方舟 Fangzhou", "body": text, "tag": f"notice-{delivery.notice_id}"})
        try:
            webpush(
                subscription_info={
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                data=data,
                vapid_private_key=Vapid02.from_string(settings.VAPID_PRIVATE_KEY),
                vapid_claims={"sub": settings.VAPID_SUBJECT},
                ttl=12 * 3600,
                timeout=10,
            )
        except WebPushException as exc:
            code = exc.response.status_code if exc.response is not None else 0
            if code in (404, 410):
                return Outcome("gone", Reason.SUBSCRIPTION_GONE)
            if code == 429 or code >= 500 or code == 0:
                return Outcome("retry", Reason.PROVIDER_ERROR)
            return Outcome("failed", Reason.PROVIDER_REFUSED)
        except (requests.RequestException, ValueError):
            return Outcome("retry", Reason.PROVIDER_ERROR)
        return Outcome("sent")


def channel_for(channel: str) -> NoticeChannel:
    if channel == Channel.SMS:
        return TencentSmsChannel()
    if channel == Channel.PUSH:
        return WebPushChannel()
    return PageChannel()
