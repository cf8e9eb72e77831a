"""Who the phone's offline copies belong to (issue 13).

Pages of the field roles carry ``<meta name="fz-user" content=KEY>``: the service worker keeps the
pages it saved under that key and the outbox keeps each tap under it, so that a second person
signing in on the same phone never sees the first one's copies. The key is an HMAC of the user
id (not the id itself: nothing in the page tells an onlooker which account it is).
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

FIELD_ROLES = frozenset({"volunteer", "building_leader", "grid_leader"})


def offline_key(user: object) -> str:
    """The user's key for offline copies, or "" for someone who gets none (signed out, desk roles)."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "role", "") not in FIELD_ROLES:
        return ""
    pk = getattr(user, "pk", None)
    digest = hmac.new(settings.SECRET_KEY.encode(), f"fz-offline:{pk}".encode(), hashlib.sha256)
    return digest.hexdigest()[:20]
