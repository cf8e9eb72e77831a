"""Deploy checks (``fangzhou manage check --deploy``) for what an operator must set."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def public_base_url_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.PUBLIC_BASE_URL:
        return []
    return [
        Warning(
            "PUBLIC_BASE_URL is not set: QR posters and links will carry whatever host the request came in on.",
            hint="Set PUBLIC_BASE_URL=https://your-public-host (the address residents reach).",
            id="fangzhou.W001",
        )
    ]
