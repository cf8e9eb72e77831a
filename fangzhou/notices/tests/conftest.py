"""The notices' test set-up: a community with SMS and Web Push on, the local provider servers."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fangzhou.notices.models import PushSubscription
from fangzhou.notices.services import notice_settings_update
from fangzhou.notices.tests.servers import APP_ID, SECRET_ID, SECRET_KEY, SIGN_NAME, PushServer, SmsServer, vapid_keys
from fangzhou.registry.models import Household
from fangzhou.registry.tests.factories import World

# Ports of the local provider servers (two test runs at once, SQLite and PostgreSQL, take two pairs).
SMS_PORT = int(os.environ.get("FZ_NOTICES_TEST_PORT", "8124"))
PUSH_PORT = SMS_PORT + 1

TEMPLATES = {
    "pool_positive": "2000001",
    "delivery_done": "2000002",
    "request_status": "2000003",
    "default": "2000009",
}


@dataclass
class Channels:
    sms: SmsServer
    push: PushServer
    vapid_public: str


def provider_settings(settings: Any, *, sms_port: int, vapid_private: str, vapid_public: str) -> dict[str, str]:
    """Point the settings at the local servers; the same as environment variables for a worker."""
    values = {
        "TENCENT_SMS_SECRET_ID": SECRET_ID,
        "TENCENT_SMS_SECRET_KEY": SECRET_KEY,
        "TENCENT_SMS_APP_ID": APP_ID,
        "TENCENT_SMS_SIGN_NAME": SIGN_NAME,
        "TENCENT_SMS_ENDPOINT": f"http://127.0.0.1:{sms_port}/",
        "VAPID_PRIVATE_KEY": vapid_private,
        "VAPID_PUBLIC_KEY": vapid_public,
        "VAPID_SUBJECT": "mailto:ops@fangzhou.test",
    }
    for name, value in values.items():
        setattr(settings, name, value)
    settings.TENCENT_SMS_TEMPLATES = dict(TEMPLATES)
    values["TENCENT_SMS_TEMPLATES"] = ",".join(f"{k}={v}" for k, v in TEMPLATES.items())
    return values


@pytest.fixture
def channels(settings: Any) -> Iterator[Channels]:
    private, public = vapid_keys()
    provider_settings(settings, sms_port=SMS_PORT, vapid_private=private, vapid_public=public)
    with SmsServer(SMS_PORT) as sms, PushServer(PUSH_PORT, vapid_public=public) as push:
        assert isinstance(sms, SmsServer) and isinstance(push, PushServer)
        yield Channels(sms, push, public)


def channels_on(world: World, **kw: Any) -> None:
    notice_settings_update(
        community=world.community,
        actor=world.secretary,
        sms_on=kw.get("sms_on", True),
        push_on=kw.get("push_on", True),
        quiet_start=kw.get("quiet_start", dt.time(0, 0)),
        quiet_end=kw.get("quiet_end", dt.time(0, 0)),
        sms_per_minute=kw.get("sms_per_minute", 100),
        push_per_minute=kw.get("push_per_minute", 100),
    )


def subscribe(push: PushServer, household: Household, name: str, *, gone: bool = False) -> PushSubscription:
    browser = push.browser(name, gone=gone)
    return PushSubscription.objects.create(
        household=household,
        community=household.building.community,
        endpoint=browser.endpoint,
        p256dh=browser.p256dh,
        auth=browser.auth_b64,
    )
